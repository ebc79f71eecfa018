"""Django's PostgreSQL backend with a cheaper check of pooled connections.

With ``CONN_HEALTH_CHECKS`` and a pool, Django makes psycopg_pool run
``check_connection`` on every checkout: an empty query, one round trip to the
server before every request and every socket frame's database call. A profile of
the write path put about a tenth of a worker's samples there.

``check_quietly`` asks the socket instead. An idle connection in the pool has
nothing to read: a server that restarted or ended the session has written its
notice or closed the socket, so the socket is readable (or the connection is
already marked closed). Only then, or when the connection was last handed out
more than ``FULL_CHECK_AFTER`` seconds ago (a peer that vanished without a word
sends nothing), does the real round trip run; a failing check makes the pool
throw the connection away and hand out another, as before.
"""

from __future__ import annotations

import select
import time
from typing import Any

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

FULL_CHECK_AFTER = 30.0  # seconds idle in the pool before a round-trip check
_CHECKED_AT = "_hub_checked_at"


def check_quietly(conn: Any) -> None:
    """psycopg_pool ``check``: raise if ``conn`` is unusable, without a round trip
    while its socket is quiet and it was used recently."""
    if conn.closed or conn.broken:
        raise ConnectionError("connection closed")
    now = time.monotonic()
    checked = getattr(conn, _CHECKED_AT, None)
    if checked is not None and now - checked < FULL_CHECK_AFTER:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
        if not readable:
            setattr(conn, _CHECKED_AT, now)
            return
    ConnectionPool.check_connection(conn)
    setattr(conn, _CHECKED_AT, now)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool  # type: ignore[misc]  # (not in django-stubs yet)
        # Django passes ``check=ConnectionPool.check_connection`` (CONN_HEALTH_CHECKS)
        # and offers no option for another (a ``check`` in OPTIONS["pool"] would be
        # passed twice); swap in the quiet one, before the pool opens on first use.
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_quietly
        return pool
