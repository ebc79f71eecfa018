"""The real settings module, loaded by ``manage.py`` in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hub.config import generate_signing_key

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "x7G!k2pQ9z#Lm4Vb8Nc1Rt6Yw3Ue5Io0As-Df_Gh+Jk=Lz;Xc,Vb.Nm/Qw"
SIGNING_KEY = Path(tempfile.mkdtemp(prefix="hub-test-settings-key-")) / "ed25519.pem"
generate_signing_key(SIGNING_KEY)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_with_weak_secret_key() -> None:
    result = manage(
        "check", HUB_ENV="production", SECRET_KEY="changeme", ALLOWED_HOSTS="hub.example.org"
    )
    assert result.returncode != 0
    assert "Refusing to start with HUB_ENV=production" in result.stderr
    assert "SECRET_KEY is shorter than 50 characters" in result.stderr


def test_production_refuses_debug_and_wildcard_hosts() -> None:
    result = manage(
        "check", HUB_ENV="production", SECRET_KEY=STRONG_KEY, DEBUG="1", ALLOWED_HOSTS="*"
    )
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr
    assert "ALLOWED_HOSTS must not contain '*'" in result.stderr


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        HUB_ENV="production",
        SECRET_KEY=STRONG_KEY,
        HUB_SIGNING_KEY_FILE=str(SIGNING_KEY),
        ALLOWED_HOSTS="hub.example.org",
        DEBUG="false",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_take_email_from_the_environment() -> None:
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, "
        "s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.DEFAULT_FROM_EMAIL, sep='|')",
        HUB_ENV="production",
        SECRET_KEY=STRONG_KEY,
        HUB_SIGNING_KEY_FILE=str(SIGNING_KEY),
        ALLOWED_HOSTS="hub.example.org",
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="hub",
        EMAIL_HOST_PASSWORD="pw",
        EMAIL_USE_TLS="true",
        DEFAULT_FROM_EMAIL="bcocc@example.org",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "django.core.mail.backends.smtp.EmailBackend|smtp.example.org|587|hub|True|False|"
        "bcocc@example.org"
    )


def test_production_refuses_to_start_without_a_private_signing_key(tmp_path: Path) -> None:
    common = {"HUB_ENV": "production", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "h.example"}
    result = manage("check", **common, HUB_SIGNING_KEY_FILE="")
    assert result.returncode != 0
    assert "HUB_SIGNING_KEY_FILE must name the Ed25519 checkpoint signing key" in result.stderr
    readable = tmp_path / "group-readable.pem"
    generate_signing_key(readable)
    readable.chmod(0o640)
    result = manage("check", **common, HUB_SIGNING_KEY_FILE=str(readable))
    assert result.returncode != 0
    assert "is readable by other users (mode 0640)" in result.stderr
