"""Configuration read from the environment.

This module owns every environment variable the hub reads. ``load_config`` is a
pure function of a mapping (``os.environ`` in production, a dict in tests), so the
rules, above all the production refusals, are testable without reloading Django.

Invariants:
- ``HUB_ENV=production`` never starts with a missing or weak ``SECRET_KEY``, with
  ``DEBUG`` on, or with ``*`` in ``ALLOWED_HOSTS``: ``load_config`` raises
  ``ImproperlyConfigured`` naming every problem at once.
- ``HUB_ENV=production`` never starts without an Ed25519 signing key file
  (``HUB_SIGNING_KEY_FILE``) or with one that group or others can read; outside
  production a missing key is generated under ``var/signing/`` (mode 0600). The key
  is only ever read from its file, never stored in the database.
- With nothing set, the hub runs embedded: SQLite (WAL) under ``var/`` and the
  in-memory channel layer, evidence files under ``var/attachments``.
- Evidence files go to an S3-compatible store only when both
  ``HUB_ATTACHMENTS_S3_ENDPOINT`` and ``HUB_ATTACHMENTS_S3_BUCKET`` are set; any
  other ``HUB_ATTACHMENTS_S3_*`` combination is refused at startup.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

ENVIRONMENTS = ("development", "test", "production")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
# Django's own check (security.W009) uses the same thresholds.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    """Parse a boolean variable; anything but a known word is an error, not a guess."""
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no/on/off, got {raw!r}")


def parse_int(name: str, raw: str | None, default: int, *, minimum: int = 0) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def parse_list(raw: str | None, default: list[str]) -> list[str]:
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


DEFAULT_ACK_WINDOWS = {"critical": 5 * 60, "high": 15 * 60, "medium": 60 * 60, "low": 4 * 60 * 60}


def parse_ack_windows(raw: str | None) -> dict[str, int]:
    """``critical=300,high=900,...``: seconds to acknowledge an alert, by severity."""
    windows = dict(DEFAULT_ACK_WINDOWS)
    if not raw:
        return windows
    for part in raw.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in windows:
            raise ImproperlyConfigured(
                f"HUB_ALERT_ACK_WINDOWS: unknown severity {name!r} (use {', '.join(windows)})"
            )
        windows[name] = parse_int(f"HUB_ALERT_ACK_WINDOWS[{name}]", value, 0, minimum=1)
    return windows


SEARCH_CONFIG_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def parse_search_config(raw: str | None) -> str:
    """The PostgreSQL text-search configuration of the record's search
    (``HUB_SEARCH_CONFIG``, default ``simple``; see ``hub.incidents.fulltext``).
    It is written into SQL, so only a plain lower-case identifier is accepted."""
    value = (raw or "").strip() or "simple"
    if not SEARCH_CONFIG_NAME.fullmatch(value):
        raise ImproperlyConfigured(
            f"HUB_SEARCH_CONFIG must be a text search configuration name such as simple, "
            f"got {value!r}"
        )
    return value


def secret_key_weakness(key: str | None) -> str | None:
    """Return why ``key`` is unfit for production, or None when it is strong enough."""
    if not key:
        return "SECRET_KEY is not set"
    if key.startswith("django-insecure"):
        return "SECRET_KEY is a Django development key (django-insecure...)"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"SECRET_KEY is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return f"SECRET_KEY has fewer than {SECRET_KEY_MIN_UNIQUE_CHARACTERS} distinct characters"
    return None


def development_secret_key(var_dir: Path) -> str:
    """A random key kept under ``var/`` so development sessions survive restarts."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    path.write_text(key)
    path.chmod(0o600)
    return key


def database_settings(
    url: str | None, *, var_dir: Path, conn_max_age: int, pool_max_size: int = 0
) -> dict[str, Any]:
    """Translate ``DATABASE_URL`` into Django's DATABASES['default'].

    SQLite gets WAL, a busy timeout and IMMEDIATE transactions, so concurrent
    writers queue for the lock instead of failing with "database is locked"
    when a read transaction tries to upgrade.

    PostgreSQL gets a connection pool of up to ``pool_max_size`` connections per
    process (psycopg_pool, through Django's ``OPTIONS["pool"]``). Under ASGI every
    request runs its sync code in a thread of its own, so a persistent connection
    (``CONN_MAX_AGE``) is never reused and each request would connect anew; the
    pool hands connections across threads. ``pool_max_size=0`` turns the pool off
    and keeps connections for ``conn_max_age`` seconds instead.
    """
    import dj_database_url

    if not url:
        url = f"sqlite:///{var_dir / 'hub.sqlite3'}"
    if not (url.startswith("sqlite:") or url.startswith(("postgres://", "postgresql://"))):
        raise ImproperlyConfigured(
            "DATABASE_URL must be sqlite:///path or postgres://user@host:port/name"
        )
    db: dict[str, Any] = dict(dj_database_url.parse(url))
    if db["ENGINE"] == "django.db.backends.sqlite3":
        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        db["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
            ),
        }
        db["CONN_MAX_AGE"] = 0
    else:
        # Each checkout is checked; hub.backends.postgresql makes that check cheap.
        db["ENGINE"] = "hub.backends.postgresql"
        db["CONN_HEALTH_CHECKS"] = True
        db.setdefault("OPTIONS", {})
        db["OPTIONS"].setdefault("connect_timeout", 5)
        if pool_max_size > 0:
            db["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool
            db["OPTIONS"]["pool"] = {
                "min_size": min(2, pool_max_size),
                "max_size": pool_max_size,
                "timeout": 10,  # seconds a request waits for a free connection
            }
        else:
            db["CONN_MAX_AGE"] = conn_max_age
    return db


DEFAULT_SIGNING_KEY = Path("signing") / "ed25519.pem"  # under var/, outside production


def generate_signing_key(path: Path) -> None:
    """Write a new Ed25519 private key (PKCS8 PEM) to ``path``, readable by its owner only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def signing_key_problem(path: Path) -> str | None:
    """Why the key file at ``path`` is unfit to sign checkpoints, or None."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"HUB_SIGNING_KEY_FILE {path} cannot be read ({type(exc).__name__})"
    if mode & 0o077:
        return (
            f"HUB_SIGNING_KEY_FILE {path} is readable by other users (mode "
            f"{stat.S_IMODE(mode):04o}); chmod 600 it"
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        return f"HUB_SIGNING_KEY_FILE {path} is not a PEM private key ({type(exc).__name__})"
    if not isinstance(key, Ed25519PrivateKey):
        return f"HUB_SIGNING_KEY_FILE {path} is not an Ed25519 key"
    return None


def parse_public_key_files(raw: str | None) -> list[Path]:
    """``HUB_SIGNING_PUBLIC_KEYS``: a directory of PEM files, or a comma-separated list."""
    paths: list[Path] = []
    for item in parse_list(raw, default=[]):
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.suffix == ".pem"))
        elif path.is_file():
            paths.append(path)
        else:
            raise ImproperlyConfigured(f"HUB_SIGNING_PUBLIC_KEYS: {item} does not exist")
    return paths


def parse_witness_url(raw: str | None) -> str | None:
    url = (raw or "").strip() or None
    if url and not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"HUB_WITNESS_URL must be an http(s) URL, got {url!r}")
    return url


S3_VARIABLES = (
    "HUB_ATTACHMENTS_S3_ENDPOINT",
    "HUB_ATTACHMENTS_S3_BUCKET",
    "HUB_ATTACHMENTS_S3_ACCESS_KEY",
    "HUB_ATTACHMENTS_S3_SECRET_KEY",
    "HUB_ATTACHMENTS_S3_REGION",
)
S3_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Config:
    """An S3-compatible object store for evidence files (SeaweedFS, MinIO, AWS S3)."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def s3_settings(environ: Mapping[str, str]) -> S3Config | None:
    """``HUB_ATTACHMENTS_S3_*``: None (the filesystem) when none is set; an S3 store
    when endpoint and bucket are; anything in between is a startup error."""
    values = {name: (environ.get(name) or "").strip() for name in S3_VARIABLES}
    if not any(values.values()):
        return None
    endpoint = values["HUB_ATTACHMENTS_S3_ENDPOINT"]
    bucket = values["HUB_ATTACHMENTS_S3_BUCKET"]
    access_key = values["HUB_ATTACHMENTS_S3_ACCESS_KEY"]
    secret_key = values["HUB_ATTACHMENTS_S3_SECRET_KEY"]
    problems: list[str] = []
    if not endpoint:
        problems.append("HUB_ATTACHMENTS_S3_ENDPOINT is not set")
    elif not endpoint.startswith(("http://", "https://")):
        problems.append(f"HUB_ATTACHMENTS_S3_ENDPOINT must be an http(s) URL, got {endpoint!r}")
    if not bucket:
        problems.append("HUB_ATTACHMENTS_S3_BUCKET is not set")
    elif not S3_BUCKET_NAME.fullmatch(bucket):
        problems.append(
            f"HUB_ATTACHMENTS_S3_BUCKET must be an S3 bucket name (3-63 of a-z 0-9 . -), "
            f"got {bucket!r}"
        )
    if bool(access_key) != bool(secret_key):
        problems.append(
            "HUB_ATTACHMENTS_S3_ACCESS_KEY and HUB_ATTACHMENTS_S3_SECRET_KEY go together; "
            "set both (or neither, to use the environment's AWS credentials)"
        )
    if problems:
        raise ImproperlyConfigured(
            "HUB_ATTACHMENTS_S3_* is incomplete or invalid: "
            + "; ".join(problems)
            + " (unset every HUB_ATTACHMENTS_S3_* variable to store files under "
            "HUB_ATTACHMENTS_DIR)"
        )
    return S3Config(
        endpoint=endpoint.rstrip("/"),
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        region=values["HUB_ATTACHMENTS_S3_REGION"] or "us-east-1",
    )


DEFAULT_FROM_EMAIL = "Border Coordination Hub <no-reply@border-hub.example>"


@dataclass(frozen=True)
class EmailConfig:
    """SMTP for escalation notices to officers who are not connected.

    Production (or any environment that names an ``EMAIL_HOST``) sends through
    SMTP; development prints mails on the console.
    """

    smtp: bool
    host: str
    port: int
    host_user: str
    host_password: str
    use_tls: bool
    use_ssl: bool
    default_from: str

    @property
    def backend(self) -> str:
        if self.smtp:
            return "django.core.mail.backends.smtp.EmailBackend"
        return "django.core.mail.backends.console.EmailBackend"


def email_settings(environ: Mapping[str, str], *, production: bool) -> EmailConfig:
    """Read EMAIL_* and DEFAULT_FROM_EMAIL; an empty value means "not set"."""
    host = environ.get("EMAIL_HOST", "").strip()
    use_tls = parse_bool("EMAIL_USE_TLS", environ.get("EMAIL_USE_TLS"), default=False)
    use_ssl = parse_bool("EMAIL_USE_SSL", environ.get("EMAIL_USE_SSL"), default=False)
    if use_tls and use_ssl:
        raise ImproperlyConfigured(
            "EMAIL_USE_TLS (STARTTLS, usually port 587) and EMAIL_USE_SSL (implicit TLS, "
            "usually port 465) are exclusive; set one"
        )
    default_port = 465 if use_ssl else (587 if use_tls else 25)
    return EmailConfig(
        smtp=production or bool(host),
        host=host or "localhost",
        port=parse_int("EMAIL_PORT", environ.get("EMAIL_PORT"), default_port, minimum=1),
        host_user=environ.get("EMAIL_HOST_USER", "").strip(),
        host_password=environ.get("EMAIL_HOST_PASSWORD", ""),
        use_tls=use_tls,
        use_ssl=use_ssl,
        default_from=environ.get("DEFAULT_FROM_EMAIL", "").strip() or DEFAULT_FROM_EMAIL,
    )


@dataclass(frozen=True)
class Config:
    env: str
    secret_key: str
    debug: bool
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    database: dict[str, Any]
    redis_url: str | None
    redis_prefix: str
    secure_ssl_redirect: bool
    hsts_seconds: int
    hsts_preload: bool
    log_level: str
    ws_max_connections_per_user: int
    ws_max_setups: int
    alert_ack_windows: dict[str, int]
    email: EmailConfig
    search_config: str = "simple"
    signing_key_file: Path = VAR_DIR / DEFAULT_SIGNING_KEY
    signing_public_keys: tuple[Path, ...] = ()
    checkpoint_seconds: int = 300
    checkpoint_events: int = 1000
    witness_file: Path | None = None
    witness_url: str | None = None
    attachments_dir: Path = VAR_DIR / "attachments"
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_uploads_per_minute: int = 30
    attachment_max_pixels: int = 40_000_000
    attachments_s3: S3Config | None = None
    # Seconds an uploaded file may stay unreferenced before the loop discards it.
    attachment_unreferenced_ttl: int = 24 * 60 * 60

    @property
    def is_production(self) -> bool:
        return self.env == "production"


S3_STORAGE_BACKEND = "hub.attachments.s3.S3Storage"


def attachment_storage_settings(config: Config) -> dict[str, Any]:
    """``STORAGES["attachments"]``: django-storages' S3Storage when an S3 store is
    configured, else the filesystem under ``attachments_dir``.

    S3 objects are private (``default_acl=None``: the bucket's policy, no public
    ACL), never overwritten (``file_overwrite=False``: names are content-addressed,
    and a second writer of a name gets another one, as on the filesystem), and never
    handed out as URLs (``querystring_auth`` stays on, but the hub serves every file
    through its API and never calls ``url()``).
    """
    s3 = config.attachments_s3
    if s3 is None:
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(config.attachments_dir), "base_url": None},
        }
    options: dict[str, Any] = {
        "endpoint_url": s3.endpoint,
        "bucket_name": s3.bucket,
        "region_name": s3.region,
        "addressing_style": "path",
        "signature_version": "s3v4",
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
    }
    if s3.access_key:
        options["access_key"] = s3.access_key
        options["secret_key"] = s3.secret_key
    return {"BACKEND": S3_STORAGE_BACKEND, "OPTIONS": options}


def load_config(environ: Mapping[str, str], *, var_dir: Path = VAR_DIR) -> Config:
    """Read the hub's configuration from ``environ``.

    Raises ImproperlyConfigured for malformed values anywhere, and for every
    unsafe setting under ``HUB_ENV=production`` (all listed in one message).
    """
    env = environ.get("HUB_ENV", "development").strip().lower() or "development"
    if env not in ENVIRONMENTS:
        raise ImproperlyConfigured(f"HUB_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    production = env == "production"

    debug = parse_bool("DEBUG", environ.get("DEBUG"), default=not production and env != "test")
    allowed_hosts = parse_list(
        environ.get("ALLOWED_HOSTS"),
        default=[] if production else ["127.0.0.1", "localhost", "[::1]", "testserver"],
    )
    raw_key = environ.get("SECRET_KEY")
    problems: list[str] = []
    if production:
        weakness = secret_key_weakness(raw_key)
        if weakness:
            problems.append(weakness)
        if debug:
            problems.append("DEBUG must be off in production")
        if "*" in allowed_hosts:
            problems.append("ALLOWED_HOSTS must not contain '*' in production")
        if not allowed_hosts:
            problems.append("ALLOWED_HOSTS must name the hub's host names in production")
    raw_signing = (environ.get("HUB_SIGNING_KEY_FILE") or "").strip()
    signing_key_file = Path(raw_signing) if raw_signing else var_dir / DEFAULT_SIGNING_KEY
    if production:
        if not raw_signing:
            problems.append("HUB_SIGNING_KEY_FILE must name the Ed25519 checkpoint signing key")
        else:
            key_problem = signing_key_problem(signing_key_file)
            if key_problem:
                problems.append(key_problem)
        if problems:
            raise ImproperlyConfigured(
                "Refusing to start with HUB_ENV=production: " + "; ".join(problems)
            )
    elif not signing_key_file.exists():
        generate_signing_key(signing_key_file)
    secret_key = raw_key or development_secret_key(var_dir)
    raw_witness_file = (environ.get("HUB_WITNESS_FILE") or "").strip()

    redis_url = environ.get("REDIS_URL", "").strip() or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")

    return Config(
        env=env,
        secret_key=secret_key,
        debug=debug,
        allowed_hosts=allowed_hosts,
        csrf_trusted_origins=parse_list(environ.get("CSRF_TRUSTED_ORIGINS"), default=[]),
        database=database_settings(
            environ.get("DATABASE_URL", "").strip() or None,
            var_dir=var_dir,
            conn_max_age=parse_int("HUB_DB_CONN_MAX_AGE", environ.get("HUB_DB_CONN_MAX_AGE"), 60),
            pool_max_size=parse_int("HUB_DB_POOL_SIZE", environ.get("HUB_DB_POOL_SIZE"), 20),
        ),
        redis_url=redis_url,
        redis_prefix=environ.get("HUB_REDIS_PREFIX", "hub").strip() or "hub",
        secure_ssl_redirect=parse_bool(
            "HUB_SECURE_SSL_REDIRECT", environ.get("HUB_SECURE_SSL_REDIRECT"), default=production
        ),
        hsts_seconds=parse_int(
            "HUB_HSTS_SECONDS", environ.get("HUB_HSTS_SECONDS"), 31_536_000 if production else 0
        ),
        hsts_preload=parse_bool("HUB_HSTS_PRELOAD", environ.get("HUB_HSTS_PRELOAD"), production),
        log_level=(environ.get("HUB_LOG_LEVEL") or "INFO").upper(),
        alert_ack_windows=parse_ack_windows(environ.get("HUB_ALERT_ACK_WINDOWS")),
        ws_max_connections_per_user=parse_int(
            "HUB_WS_MAX_CONNECTIONS_PER_USER",
            environ.get("HUB_WS_MAX_CONNECTIONS_PER_USER"),
            20,
            minimum=1,
        ),
        ws_max_setups=parse_int(
            "HUB_WS_MAX_SETUPS", environ.get("HUB_WS_MAX_SETUPS"), 32, minimum=1
        ),
        email=email_settings(environ, production=production),
        search_config=parse_search_config(environ.get("HUB_SEARCH_CONFIG")),
        signing_key_file=signing_key_file,
        signing_public_keys=tuple(parse_public_key_files(environ.get("HUB_SIGNING_PUBLIC_KEYS"))),
        checkpoint_seconds=parse_int(
            "HUB_CHECKPOINT_SECONDS", environ.get("HUB_CHECKPOINT_SECONDS"), 300, minimum=1
        ),
        checkpoint_events=parse_int(
            "HUB_CHECKPOINT_EVENTS", environ.get("HUB_CHECKPOINT_EVENTS"), 1000, minimum=1
        ),
        witness_file=Path(raw_witness_file) if raw_witness_file else None,
        witness_url=parse_witness_url(environ.get("HUB_WITNESS_URL")),
        attachments_dir=Path(
            (environ.get("HUB_ATTACHMENTS_DIR") or "").strip() or var_dir / "attachments"
        ),
        attachment_max_bytes=parse_int(
            "HUB_ATTACHMENT_MAX_BYTES",
            environ.get("HUB_ATTACHMENT_MAX_BYTES"),
            25 * 1024 * 1024,
            minimum=1,
        ),
        attachment_uploads_per_minute=parse_int(
            "HUB_ATTACHMENT_UPLOADS_PER_MINUTE",
            environ.get("HUB_ATTACHMENT_UPLOADS_PER_MINUTE"),
            30,
            minimum=1,
        ),
        attachment_max_pixels=parse_int(
            "HUB_ATTACHMENT_MAX_PIXELS",
            environ.get("HUB_ATTACHMENT_MAX_PIXELS"),
            40_000_000,
            minimum=1,
        ),
        attachments_s3=s3_settings(environ),
        attachment_unreferenced_ttl=parse_int(
            "HUB_ATTACHMENT_UNREFERENCED_TTL",
            environ.get("HUB_ATTACHMENT_UNREFERENCED_TTL"),
            24 * 60 * 60,
            minimum=60,
        ),
    )
