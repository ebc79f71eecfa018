"""How tests reach real services (Redis, PostgreSQL, nginx, Chromium).

A test that needs a service asks for it here. When the service is missing the
test is skipped with the reason, except under ``CI=true``, where it fails: CI
promises that every such test ran.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest
import redis

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


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
