"""Settings for the test suite: the production settings module plus speed-ups.

The SQLite test database is a file (not ``:memory:``) so that Daphne worker
processes started by the tests and concurrent threads share it for real.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Checkpoints are signed with a key generated for this test run in a temporary
# directory (hub.config generates it when absent); set in the environment before
# the settings load, so subprocesses (Daphne workers, the job loop) share it.
os.environ.setdefault(
    "HUB_SIGNING_KEY_FILE",
    str(Path(tempfile.mkdtemp(prefix="hub-test-signing-")) / "ed25519.pem"),
)

from hub.settings import *  # noqa: F403
from hub.settings import CONFIG, DATABASES, STORAGES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One file per test process, so concurrent runs never share a test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-hub-{os.getpid()}.sqlite3")}

# Connections opened by worker threads (the live layer's pool) close after each
# call, so nothing holds the test database open when it is dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0

# Evidence files of the test run live in a temporary directory, not under var/
# (a test that starts Daphne workers hands them its own with HUB_ATTACHMENTS_DIR),
# unless HUB_ATTACHMENTS_S3_* name an S3 store (bench/attachments_upload.py's workers).
if CONFIG.attachments_s3 is None:
    STORAGES["attachments"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.environ.get("HUB_TEST_ATTACHMENTS_DIR")
            or tempfile.mkdtemp(prefix="hub-test-attachments-"),
            "base_url": None,
        },
    }
