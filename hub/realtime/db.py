"""Database calls from the live layer, off the event loop, in parallel.

Channels' ``database_sync_to_async`` is thread-sensitive by default: every call
of the process queues for one thread. A reconnect storm (hundreds of officers
after a worker restart) would then queue its handshakes behind each other's
queries until Daphne's handshake timeout. The live layer's calls are
independent (each service opens its own transaction), so they run on a small
pool of their own, each thread with its own database connection.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from channels.db import DatabaseSyncToAsync

P = ParamSpec("P")
R = TypeVar("R")

DB_THREADS = 8
_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="hub-realtime-db")


def db(func: Callable[P, R]) -> Any:
    """``await db(service)(...)``: run a blocking ORM call on the live layer's pool."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor)


def close_pool_connections() -> None:
    """Close the database connections the pool's threads hold (tests; shutdown)."""
    from threading import Barrier

    from django.db import connections

    barrier = Barrier(DB_THREADS)

    def close() -> None:
        barrier.wait(timeout=10)  # every thread takes exactly one of these jobs
        connections.close_all()

    for future in [_executor.submit(close) for _ in range(DB_THREADS)]:
        future.result(timeout=15)
