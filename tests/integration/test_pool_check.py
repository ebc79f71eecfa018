"""The pooled connections' check (hub.backends.postgresql): no round trip for a quiet,
recently used connection; a connection the server ended is never handed out."""

from __future__ import annotations

import os
import select
import tempfile
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from hub.backends.postgresql import base as backend
from tests.processes import database_url_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def url() -> str:
    if connection.vendor != "postgresql":
        pytest.skip("pooled connections are PostgreSQL's (runs in the PostgreSQL pass)")
    return database_url_for(connection.settings_dict)


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True) as c:
        yield c


def end_backend(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()
        assert ended == (True,)


def wait_readable(c: psycopg.Connection) -> None:
    readable, _, _ = select.select([c.pgconn.socket], [], [], 10)
    assert readable, "the server's notice never arrived"


def traced(c: psycopg.Connection) -> tuple[int, str]:
    fd, path = tempfile.mkstemp(prefix="pgtrace-")
    c.pgconn.trace(fd)
    return fd, path


def sent_bytes(c: psycopg.Connection, fd: int, path: str) -> str:
    c.pgconn.untrace()
    os.close(fd)
    with open(path) as f:
        text = f.read()
    os.unlink(path)
    return text


def test_the_hub_pool_uses_the_quiet_check() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pooled connections are PostgreSQL's (runs in the PostgreSQL pass)")
    pool = connection.pool  # type: ignore[attr-defined]  # (PostgreSQL backend only)
    assert pool is not None, "the hub pools PostgreSQL connections by default"
    assert pool._check is backend.check_quietly


def test_a_quiet_recently_used_connection_is_not_queried(conn: psycopg.Connection) -> None:
    backend.check_quietly(conn)  # first sight: the full check, which stamps it
    fd, path = traced(conn)
    backend.check_quietly(conn)
    assert sent_bytes(conn, fd, path) == ""  # nothing went to the server


def test_a_connection_idle_too_long_gets_the_round_trip(conn: psycopg.Connection) -> None:
    backend.check_quietly(conn)
    setattr(conn, backend._CHECKED_AT, time.monotonic() - backend.FULL_CHECK_AFTER - 1)
    fd, path = traced(conn)
    backend.check_quietly(conn)
    assert "Query" in sent_bytes(conn, fd, path)


def test_a_connection_the_server_ended_fails_the_check(url: str, conn: psycopg.Connection) -> None:
    backend.check_quietly(conn)
    end_backend(url, conn.info.backend_pid)
    wait_readable(conn)
    with pytest.raises(psycopg.OperationalError):
        backend.check_quietly(conn)


def test_the_pool_replaces_a_connection_the_server_ended(url: str) -> None:
    pool = ConnectionPool(url, min_size=1, max_size=1, check=backend.check_quietly, open=True)
    try:
        first = pool.getconn()
        pid = first.info.backend_pid
        pool.putconn(first)
        end_backend(url, pid)
        wait_readable(first)  # (still the same object, idle in the pool)
        with pool.connection() as c:
            assert c.info.backend_pid != pid
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.close()
