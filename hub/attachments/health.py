"""Readiness of the evidence-file store (``/readyz``'s ``attachments`` section).

Write-free: the filesystem directory must exist and be writable by this process;
an S3 bucket must answer HEAD (with short timeouts, so an unreachable endpoint
makes the worker not ready within seconds instead of hanging the probe). The
answer names the backend and whether it is reachable, never the path, endpoint
or bucket (the body is public); the failure's detail goes to the log.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage, Storage

from hub.attachments.services import attachment_storage
from hub.health import REASON_SEPARATOR, failure

S3_TIMEOUT = 2.0  # seconds to connect, and to read the answer


def backend_name(storage: Storage) -> str:
    if isinstance(storage, FileSystemStorage):
        return "filesystem"
    if type(storage).__name__ == "S3Storage":
        return "s3"
    return type(storage).__name__


def filesystem_problem(location: str | os.PathLike[str]) -> str | None:
    path = Path(location)
    if not path.is_dir():
        return f"evidence file directory missing{REASON_SEPARATOR}{path} is not a directory"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"evidence file directory not writable{REASON_SEPARATOR}{path}"
    return None


def s3_client(storage: Any, *, timeout: float = S3_TIMEOUT) -> Any:
    """A client on the storage's endpoint and credentials with short timeouts (the
    storage's own client waits a minute to connect)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=storage.endpoint_url,
        aws_access_key_id=storage.access_key or None,
        aws_secret_access_key=storage.secret_key or None,
        aws_session_token=getattr(storage, "security_token", None) or None,
        region_name=storage.region_name,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": storage.addressing_style or "path"},
        ),
    )


# Readiness clients by storage settings: making a boto3 client costs tens of
# milliseconds, a probe comes every few seconds. (boto3 clients are thread-safe.)
_probe_clients: dict[tuple[str, ...], Any] = {}


def _probe_client(storage: Any) -> Any:
    key = tuple(
        str(getattr(storage, name, None) or "")
        for name in ("endpoint_url", "access_key", "secret_key", "region_name", "bucket_name")
    )
    client = _probe_clients.get(key)
    if client is None:
        client = _probe_clients[key] = s3_client(storage)
    return client


def s3_problem(storage: Any) -> str | None:
    try:
        _probe_client(storage).head_bucket(Bucket=storage.bucket_name)
    except Exception as exc:  # any client or transport error means "not ready"
        return failure("evidence file store (S3) unreachable", exc)
    return None


def attachments_readiness() -> tuple[dict[str, object], str | None]:
    storage = attachment_storage()
    backend = backend_name(storage)
    if isinstance(storage, FileSystemStorage):
        problem = filesystem_problem(storage.location)
    elif backend == "s3":
        problem = s3_problem(storage)
    else:
        problem = None  # another backend: nothing known to probe
    return {"backend": backend, "reachable": problem is None}, problem


def ensure_filesystem_location() -> None:
    """Create the filesystem store's directory at startup (it is otherwise made by
    the first upload), so that a missing directory later means a lost mount."""
    storage = attachment_storage()
    if isinstance(storage, FileSystemStorage):
        with contextlib.suppress(OSError):  # /readyz reports it
            Path(storage.location).mkdir(parents=True, exist_ok=True)
