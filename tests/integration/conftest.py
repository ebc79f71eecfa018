"""Integration-test plumbing: the authorization matrices report their size, and
the evidence-file tests run on both storage backends.

A matrix cell test calls ``record_property(MATRIX_PROPERTY, "<matrix name>")``;
the terminal summary then says how many cells ran and passed, so CI logs show
"authorization matrix: N cells checked" (a ``print`` in a test is swallowed by
pytest's output capture).

A test module that stores or reads evidence files uses the ``attachment_storage``
fixture (``pytestmark = pytest.mark.usefixtures("attachment_storage")``): each of
its tests runs twice, once on the filesystem (a temporary directory) and once on
S3 (a SeaweedFS server this test process starts once, ``tests.seaweedfs``; each
test gets a key prefix of its own in one bucket). Without the ``weed`` binary the
S3 variant is skipped, and fails under CI=true.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import Storage, storages

from tests.seaweedfs import S3_BACKEND, SeaweedS3
from tests.services import require_s3

MATRIX_PROPERTY = "authorization_matrix"


def _matrix_counts(reports: list[pytest.TestReport]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for report in reports:
        if getattr(report, "when", "call") != "call":
            continue
        for key, value in getattr(report, "user_properties", ()):
            if key == MATRIX_PROPERTY:
                counts[str(value)] += 1
    return counts


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    passed = _matrix_counts(terminalreporter.stats.get("passed", []))
    failed = _matrix_counts(terminalreporter.stats.get("failed", []))
    if not passed and not failed:
        return
    line = f"authorization matrix: {sum(passed.values())} cells checked"
    if failed:
        line += f", {sum(failed.values())} failed"
    names = sorted(set(passed) | set(failed))
    if len(names) > 1:
        line += " (" + ", ".join(f"{name}: {passed[name]}" for name in names) + ")"
    terminalreporter.write_sep("-", "authorization matrix")
    terminalreporter.write_line(line)


TEST_BUCKET = "hub-test-attachments"


@dataclass(frozen=True)
class AttachmentStorage:
    backend: str  # "filesystem" or "s3"
    server: SeaweedS3 | None

    @property
    def storage(self) -> Storage:
        return storages["attachments"]


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedS3]:
    """This test process's SeaweedFS, with the bucket of the storage tests (written
    once, so the volume the server grows on a first write exists before any test)."""
    server = require_s3()
    if TEST_BUCKET not in server.buckets:
        server.create_bucket(TEST_BUCKET)
        client = server.client()
        client.put_object(Bucket=TEST_BUCKET, Key="warm-up", Body=b"warm-up")
        client.delete_object(Bucket=TEST_BUCKET, Key="warm-up")
    yield server
    server.stop()


@pytest.fixture(params=["filesystem", "s3"])
def attachment_storage(
    request: pytest.FixtureRequest, settings: Any, tmp_path: Path
) -> AttachmentStorage:
    """``STORAGES["attachments"]`` on a fresh temporary directory, or on a fresh key
    prefix of the SeaweedFS bucket. (Assigning STORAGES sends setting_changed,
    which empties django.core.files.storage.storages.)"""
    server: SeaweedS3 | None = None
    if request.param == "filesystem":
        config = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments"), "base_url": None},
        }
    else:
        server = request.getfixturevalue("seaweedfs")
        config = {
            "BACKEND": S3_BACKEND,
            "OPTIONS": server.storage_options(TEST_BUCKET, location=f"t-{uuid.uuid4().hex}"),
        }
    settings.STORAGES = {**settings.STORAGES, "attachments": config}
    assert storages["attachments"].__class__.__name__ == (
        "FileSystemStorage" if server is None else "S3Storage"
    )
    return AttachmentStorage(request.param, server)
