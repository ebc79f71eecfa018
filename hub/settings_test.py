"""Settings for the test suite: the production settings module plus speed-ups.

The SQLite test database is a file (not ``:memory:``) so that Daphne worker
processes started by the tests and concurrent threads share it for real.
"""

from __future__ import annotations

from hub.settings import *  # noqa: F403
from hub.settings import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-hub.sqlite3")}
