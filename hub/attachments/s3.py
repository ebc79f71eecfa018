"""django-storages' S3Storage without a new boto3 session for every request thread.

The stock ``S3Storage`` keeps its boto3 resource in a ``threading.local`` and builds
each one from a new ``boto3.Session``. Django runs each request's sync code in a new
thread, so every upload or download on S3 paid for a new session: botocore loading and
parsing its S3 service models again, 0.18-0.25 CPU s (bench/RESULTS.md, "Evidence file
uploads").

boto3's documentation: clients are thread-safe; resources and sessions are not
("should not be shared across threads"). So each thread still gets its own resource,
as in the stock storage, but all of them are created from one ``boto3.Session`` per
storage (per process: Django caches the storage instance). The session's loader
caches the parsed service models, so a new thread's resource costs about 0.005 CPU s
instead of 0.1-0.2. The session is only touched while a resource is created, and that
happens under a lock, so it is never used by two threads at once.

The class keeps the name ``S3Storage``: hub code recognises the S3 store by it.
"""

from __future__ import annotations

import threading
from typing import Any

from storages.backends import s3

# Guards the shared sessions: created and used (resource creation) by one thread at a time.
_SESSION_LOCK = threading.RLock()


class S3Storage(s3.S3Storage):
    _shared_session: Any = None

    def _create_session(self) -> Any:
        with _SESSION_LOCK:
            if self._shared_session is None:
                self._shared_session = super()._create_session()
            return self._shared_session

    @property
    def connection(self) -> Any:
        connection = getattr(self._connections, "connection", None)
        if connection is None:
            with _SESSION_LOCK:
                connection = super().connection
        return connection

    @property
    def unsigned_connection(self) -> Any:
        connection = getattr(self._unsigned_connections, "connection", None)
        if connection is None:
            with _SESSION_LOCK:
                connection = super().unsigned_connection
        return connection

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop("_shared_session", None)
        return state
