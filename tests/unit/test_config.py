"""Settings parsing, above all the production refusals."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from hub.config import generate_signing_key, load_config, secret_key_weakness

STRONG_KEY = "x7G!k2pQ9z#Lm4Vb8Nc1Rt6Yw3Ue5Io0As-Df_Gh+Jk=Lz;Xc,Vb.Nm/Qw"
_SIGNING_KEYS = Path(tempfile.mkdtemp(prefix="hub-test-config-key-"))
SIGNING_KEY = _SIGNING_KEYS / "ed25519.pem"
generate_signing_key(SIGNING_KEY)


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "HUB_ENV": "production",
        "SECRET_KEY": STRONG_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "hub.example.org",
        "HUB_SIGNING_KEY_FILE": str(SIGNING_KEY),
    }
    env.update(overrides)
    return env


def test_defaults_are_embedded_sqlite_wal_and_in_memory_layer(tmp_path: Path) -> None:
    config = load_config({}, var_dir=tmp_path)
    assert config.env == "development"
    assert config.debug is True
    assert config.redis_url is None
    db = config.database
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "hub.sqlite3")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_development_secret_key_is_random_and_persisted(tmp_path: Path) -> None:
    first = load_config({}, var_dir=tmp_path).secret_key
    second = load_config({}, var_dir=tmp_path).secret_key
    assert first == second
    assert secret_key_weakness(first) is None
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_and_redis_urls(tmp_path: Path) -> None:
    config = load_config(
        {
            "DATABASE_URL": "postgres://hub:pw@db.internal:5433/hubdb",
            "REDIS_URL": "redis://cache.internal:6379/2",
        },
        var_dir=tmp_path,
    )
    db = config.database
    assert db["ENGINE"] == "hub.backends.postgresql"  # Django's, with a cheaper pool check
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("db.internal", 5433, "hubdb", "hub")
    assert db["CONN_HEALTH_CHECKS"] is True
    assert config.redis_url == "redis://cache.internal:6379/2"


def test_postgres_connections_are_pooled_by_default(tmp_path: Path) -> None:
    db = load_config({"DATABASE_URL": "postgres://hub@db/hub"}, var_dir=tmp_path).database
    assert db["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 10}
    assert db["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert db["OPTIONS"]["connect_timeout"] == 5


def test_postgres_pool_size_and_switching_it_off(tmp_path: Path) -> None:
    url = "postgres://hub@db/hub"
    one = load_config({"DATABASE_URL": url, "HUB_DB_POOL_SIZE": "1"}, var_dir=tmp_path).database
    assert one["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 1, "timeout": 10}
    off = load_config(
        {"DATABASE_URL": url, "HUB_DB_POOL_SIZE": "0", "HUB_DB_CONN_MAX_AGE": "30"},
        var_dir=tmp_path,
    ).database
    assert "pool" not in off["OPTIONS"]
    assert off["CONN_MAX_AGE"] == 30


def test_sqlite_has_no_pool(tmp_path: Path) -> None:
    db = load_config({"HUB_DB_POOL_SIZE": "5"}, var_dir=tmp_path).database
    assert "pool" not in db["OPTIONS"]


def test_allowed_hosts_and_trusted_origins_are_lists(tmp_path: Path) -> None:
    config = load_config(
        {"ALLOWED_HOSTS": " a.example , b.example,", "CSRF_TRUSTED_ORIGINS": "https://a.example"},
        var_dir=tmp_path,
    )
    assert config.allowed_hosts == ["a.example", "b.example"]
    assert config.csrf_trusted_origins == ["https://a.example"]


def test_production_with_sound_settings_starts(tmp_path: Path) -> None:
    config = load_config(production_env(), var_dir=tmp_path)
    assert config.is_production
    assert config.debug is False
    assert config.secure_ssl_redirect is True
    assert config.hsts_seconds == 31_536_000


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "too-short-key"}, "shorter than 50"),
        ({"SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 6}, "development key"),
        ({"SECRET_KEY": "ab" * 40}, "fewer than 5 distinct"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"ALLOWED_HOSTS": "hub.example.org,*"}, "must not contain '*'"),
        ({"ALLOWED_HOSTS": ""}, "must name the hub's host names"),
    ],
)
def test_production_refuses_unsafe_settings(
    tmp_path: Path, overrides: dict[str, str], expected: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match="Refusing to start") as info:
        load_config(production_env(**overrides), var_dir=tmp_path)
    assert expected in str(info.value)


def test_production_names_every_problem_at_once(tmp_path: Path) -> None:
    env = production_env(SECRET_KEY="", DEBUG="1", ALLOWED_HOSTS="*")
    with pytest.raises(ImproperlyConfigured) as info:
        load_config(env, var_dir=tmp_path)
    message = str(info.value)
    assert "SECRET_KEY is not set" in message
    assert "DEBUG must be off" in message
    assert "'*'" in message


def test_production_missing_secret_key_variable(tmp_path: Path) -> None:
    env = production_env()
    del env["SECRET_KEY"]
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set"):
        load_config(env, var_dir=tmp_path)
    assert not (tmp_path / "secret_key").exists(), "production must never invent a key"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_ENV": "staging"}, "HUB_ENV must be one of"),
        ({"DEBUG": "maybe"}, "DEBUG must be one of"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must start with"),
        ({"DATABASE_URL": "mysql://root@localhost/hub"}, "DATABASE_URL must be"),
        ({"HUB_HSTS_SECONDS": "soon"}, "HUB_HSTS_SECONDS must be an integer"),
        ({"HUB_DB_CONN_MAX_AGE": "-1"}, "HUB_DB_CONN_MAX_AGE must be >= 0"),
        ({"HUB_DB_POOL_SIZE": "-2"}, "HUB_DB_POOL_SIZE must be >= 0"),
        ({"HUB_DB_POOL_SIZE": "many"}, "HUB_DB_POOL_SIZE must be an integer"),
    ],
)
def test_malformed_values_are_refused(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        load_config(env, var_dir=tmp_path)


@pytest.mark.parametrize("word", ["1", "true", "YES", "on"])
def test_debug_true_words(tmp_path: Path, word: str) -> None:
    assert load_config({"HUB_ENV": "test", "DEBUG": word}, var_dir=tmp_path).debug is True


@pytest.mark.parametrize("word", ["0", "false", "No", "off"])
def test_debug_false_words(tmp_path: Path, word: str) -> None:
    assert load_config({"DEBUG": word}, var_dir=tmp_path).debug is False


def test_alert_ack_windows_default_and_override(tmp_path: Path) -> None:
    assert load_config({}, var_dir=tmp_path).alert_ack_windows == {
        "critical": 300,
        "high": 900,
        "medium": 3600,
        "low": 14400,
    }
    config = load_config({"HUB_ALERT_ACK_WINDOWS": "critical=60, low=600"}, var_dir=tmp_path)
    assert config.alert_ack_windows["critical"] == 60
    assert config.alert_ack_windows["low"] == 600
    assert config.alert_ack_windows["high"] == 900


@pytest.mark.parametrize("raw", ["urgent=5", "critical=soon", "critical=0"])
def test_alert_ack_windows_refuse_nonsense(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="HUB_ALERT_ACK_WINDOWS"):
        load_config({"HUB_ALERT_ACK_WINDOWS": raw}, var_dir=tmp_path)


def test_email_defaults_print_to_the_console_in_development(tmp_path: Path) -> None:
    email = load_config({}, var_dir=tmp_path).email
    assert email.backend == "django.core.mail.backends.console.EmailBackend"
    assert (email.host, email.port, email.use_tls, email.use_ssl) == ("localhost", 25, False, False)
    assert (email.host_user, email.host_password) == ("", "")
    assert email.default_from == "Border Coordination Hub <no-reply@border-hub.example>"


def test_email_is_smtp_in_production_even_without_a_host(tmp_path: Path) -> None:
    email = load_config(production_env(), var_dir=tmp_path).email
    assert email.backend == "django.core.mail.backends.smtp.EmailBackend"
    assert email.host == "localhost"


def test_email_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    env = production_env(
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="2525",
        EMAIL_HOST_USER="hub@example.org",
        EMAIL_HOST_PASSWORD=" secret with spaces ",
        EMAIL_USE_TLS="true",
        DEFAULT_FROM_EMAIL="BCOCC <bcocc@example.org>",
    )
    email = load_config(env, var_dir=tmp_path).email
    assert email.backend == "django.core.mail.backends.smtp.EmailBackend"
    assert (email.host, email.port) == ("smtp.example.org", 2525)
    assert email.host_user == "hub@example.org"
    assert email.host_password == " secret with spaces "  # passwords are not trimmed
    assert (email.use_tls, email.use_ssl) == (True, False)
    assert email.default_from == "BCOCC <bcocc@example.org>"


def test_email_host_switches_development_to_smtp(tmp_path: Path) -> None:
    email = load_config({"EMAIL_HOST": "mail.internal"}, var_dir=tmp_path).email
    assert email.backend == "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("env", "port"),
    [({}, 25), ({"EMAIL_USE_TLS": "1"}, 587), ({"EMAIL_USE_SSL": "yes"}, 465)],
)
def test_email_port_defaults_follow_the_tls_mode(
    tmp_path: Path, env: dict[str, str], port: int
) -> None:
    assert load_config(env, var_dir=tmp_path).email.port == port


def test_compose_style_empty_email_values_mean_unset(tmp_path: Path) -> None:
    # docker-compose.yml passes ${EMAIL_HOST:-} etc.: empty strings, not absent keys.
    empty = dict.fromkeys(
        [
            "EMAIL_HOST",
            "EMAIL_PORT",
            "EMAIL_HOST_USER",
            "EMAIL_HOST_PASSWORD",
            "EMAIL_USE_TLS",
            "EMAIL_USE_SSL",
            "DEFAULT_FROM_EMAIL",
        ],
        "",
    )
    assert load_config(empty, var_dir=tmp_path).email == load_config({}, var_dir=tmp_path).email


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT must be an integer"),
        ({"EMAIL_PORT": "0"}, "EMAIL_PORT must be >= 1"),
        ({"EMAIL_USE_TLS": "sometimes"}, "EMAIL_USE_TLS must be one of"),
        ({"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "are exclusive"),
    ],
)
def test_malformed_email_settings_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        load_config(env, var_dir=tmp_path)


def test_search_config_defaults_to_simple_and_is_an_identifier(tmp_path: Path) -> None:
    assert load_config({}, var_dir=tmp_path).search_config == "simple"
    env = {"HUB_SEARCH_CONFIG": " english "}
    assert load_config(env, var_dir=tmp_path).search_config == "english"
    for raw in ("simple'; DROP TABLE x; --", "English", "pg_catalog.simple", "a b"):
        with pytest.raises(ImproperlyConfigured, match="HUB_SEARCH_CONFIG"):
            load_config({"HUB_SEARCH_CONFIG": raw}, var_dir=tmp_path)


def test_development_generates_a_signing_key_under_var(tmp_path: Path) -> None:
    config = load_config({}, var_dir=tmp_path)
    assert config.signing_key_file == tmp_path / "signing" / "ed25519.pem"
    assert config.signing_key_file.stat().st_mode & 0o777 == 0o600
    before = config.signing_key_file.read_bytes()
    assert load_config({}, var_dir=tmp_path).signing_key_file.read_bytes() == before


def test_production_refuses_to_start_without_a_signing_key(tmp_path: Path) -> None:
    env = production_env()
    del env["HUB_SIGNING_KEY_FILE"]
    with pytest.raises(ImproperlyConfigured, match="HUB_SIGNING_KEY_FILE must name"):
        load_config(env, var_dir=tmp_path)
    assert not (tmp_path / "signing").exists(), "production must never invent a key"
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        load_config(production_env(HUB_SIGNING_KEY_FILE=str(tmp_path / "no.pem")), var_dir=tmp_path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_production_refuses_a_signing_key_others_can_read(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "key.pem"
    generate_signing_key(key)
    key.chmod(mode)
    with pytest.raises(ImproperlyConfigured, match="readable by other users"):
        load_config(production_env(HUB_SIGNING_KEY_FILE=str(key)), var_dir=tmp_path)
    key.chmod(0o600)
    assert load_config(production_env(HUB_SIGNING_KEY_FILE=str(key)), var_dir=tmp_path)


def test_production_refuses_a_signing_key_that_is_not_ed25519(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    key.chmod(0o600)
    with pytest.raises(ImproperlyConfigured, match="not a PEM private key"):
        load_config(production_env(HUB_SIGNING_KEY_FILE=str(key)), var_dir=tmp_path)


def test_checkpoint_and_witness_settings(tmp_path: Path) -> None:
    config = load_config({}, var_dir=tmp_path)
    assert (config.checkpoint_seconds, config.checkpoint_events) == (300, 1000)
    assert (config.witness_file, config.witness_url) == (None, None)
    config = load_config(
        {
            "HUB_CHECKPOINT_SECONDS": "60",
            "HUB_CHECKPOINT_EVENTS": "10",
            "HUB_WITNESS_FILE": str(tmp_path / "witness.jsonl"),
            "HUB_WITNESS_URL": "https://archive.example.org/checkpoints",
        },
        var_dir=tmp_path,
    )
    assert (config.checkpoint_seconds, config.checkpoint_events) == (60, 10)
    assert config.witness_file == tmp_path / "witness.jsonl"
    assert config.witness_url == "https://archive.example.org/checkpoints"
    with pytest.raises(ImproperlyConfigured, match="HUB_WITNESS_URL"):
        load_config({"HUB_WITNESS_URL": "ftp://x"}, var_dir=tmp_path)
