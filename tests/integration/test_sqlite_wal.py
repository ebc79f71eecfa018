"""The embedded database really runs in WAL mode, with a busy timeout.

Not a string check on OPTIONS: a real connection, opened by Django from the
settings ``hub.config`` builds for an unset DATABASE_URL, is asked with PRAGMAs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.utils import ConnectionHandler

from hub.config import load_config


@pytest.fixture
def embedded(tmp_path: Path, django_db_blocker: Any) -> Iterator[Any]:
    """A Django connection to the default (embedded) database, in ``tmp_path``.

    Not the test database, so pytest-django's blocker is lifted for it explicitly.
    """
    settings = load_config({}, var_dir=tmp_path).database
    handler = ConnectionHandler({"default": settings})
    conn = handler["default"]
    with django_db_blocker.unblock():
        try:
            yield conn
        finally:
            conn.close()


def pragma(conn: Any, name: str) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_embedded_database_is_in_wal_mode(embedded: Any, tmp_path: Path) -> None:
    assert embedded.vendor == "sqlite"
    assert pragma(embedded, "journal_mode") == "wal"
    assert pragma(embedded, "synchronous") == 1  # NORMAL: safe with WAL, fewer fsyncs
    assert pragma(embedded, "foreign_keys") == 1
    # Writers wait for the lock (20 s) instead of failing with "database is locked".
    assert pragma(embedded, "busy_timeout") == 20_000
    with embedded.cursor() as cursor:
        cursor.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
        cursor.execute("INSERT INTO probe DEFAULT VALUES")
    assert (tmp_path / "hub.sqlite3-wal").exists()


def test_wal_mode_persists_for_every_new_connection(embedded: Any, tmp_path: Path) -> None:
    pragma(embedded, "journal_mode")  # the first connection creates the file
    # A connection that runs no init_command still finds the file in WAL mode.
    raw = sqlite3.connect(tmp_path / "hub.sqlite3")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


@pytest.mark.django_db
def test_the_suites_own_sqlite_database_is_in_wal_mode() -> None:
    # On the PostgreSQL pass there is no SQLite connection to check: the tests
    # above still ran against a real SQLite file.
    if connection.vendor == "sqlite":
        assert pragma(connection, "journal_mode") == "wal"
        assert pragma(connection, "busy_timeout") == 20_000
    else:
        assert connection.vendor == "postgresql"
