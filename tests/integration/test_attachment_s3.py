"""hub.attachments.s3.S3Storage: one boto3 session per storage, a resource per thread."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.core.files.base import ContentFile
from storages.backends import s3 as stock

from hub.attachments.s3 import S3Storage
from tests.seaweedfs import SeaweedS3


def in_threads(count: int, work: Any) -> list[Any]:
    """``work()`` in ``count`` new threads started together; their results, in order."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_threads_share_one_session_and_each_has_its_own_resource(
    seaweedfs: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = seaweedfs.create_bucket(f"hub-s3-{uuid.uuid4().hex[:8]}")
    storage = S3Storage(**seaweedfs.storage_options(bucket))
    sessions: list[Any] = []
    create = stock.S3Storage._create_session

    def counted(self: Any) -> Any:
        session = create(self)
        sessions.append(session)
        return session

    monkeypatch.setattr(stock.S3Storage, "_create_session", counted)

    def work() -> Any:
        name = storage.save(f"t/{uuid.uuid4().hex}.txt", ContentFile(b"evidence"))
        assert storage.exists(name)
        with storage.open(name) as handle:
            assert handle.read() == b"evidence"
        storage.delete(name)
        assert not storage.exists(name)
        return storage.connection

    resources = in_threads(8, work)

    assert len(sessions) == 1  # one boto3 session for all threads
    assert len({id(r) for r in resources}) == 8  # resources are not shared (not thread-safe)


def test_pickles_without_its_session(seaweedfs: SeaweedS3) -> None:
    import pickle

    storage = S3Storage(**seaweedfs.storage_options("hub-files"))
    storage._create_session()
    copy = pickle.loads(pickle.dumps(storage))  # noqa: S301
    assert copy._shared_session is None
