"""Django settings for the Border Coordination Hub.

Everything deployment-specific comes from the environment through
``hub.config.load_config``; read README.md "Configuration" for the variables.
"""

from __future__ import annotations

import os

import django_stubs_ext

from hub.config import BASE_DIR, VAR_DIR, attachment_storage_settings, load_config

# Lets admin/queryset classes be subscripted for the type checker at runtime.
django_stubs_ext.monkeypatch()

CONFIG = load_config(os.environ)

HUB_ENV = CONFIG.env
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "hub.accounts",
    "hub.agencies",
    "hub.events",
    "hub.incidents",
    "hub.attachments",
    "hub.alerts",
    "hub.operations",
    "hub.sitreps",
    "hub.jobs",
    "hub.realtime",
    "hub.demo",
    "hub.contracts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "hub.middleware.ApiJsonErrorsMiddleware",
    "hub.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hub.urls"
ASGI_APPLICATION = "hub.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/admin/login/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "hub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = CONFIG.redis_url
HUB_REDIS_PREFIX = CONFIG.redis_prefix
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's default 5 s socket_timeout equals channels_redis'
                # brpop_timeout (channels_redis#422); None avoids spurious drops.
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": f"{HUB_REDIS_PREFIX}:asgi",
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Alerts: seconds a targeted agency has to acknowledge, by severity, before the
# alert escalates to its duty officers and coordinators (manage.py run_escalations).
HUB_ALERT_ACK_WINDOWS = CONFIG.alert_ack_windows
HUB_ESCALATION_INTERVAL = 15  # seconds between escalation sweeps
# Search the record: PostgreSQL's text-search configuration (hub.incidents.fulltext).
HUB_SEARCH_CONFIG = CONFIG.search_config
# Signed checkpoints of the record (hub.events.checkpoints) and their outside witness.
HUB_SIGNING_KEY_FILE = CONFIG.signing_key_file
HUB_SIGNING_PUBLIC_KEYS = list(CONFIG.signing_public_keys)
HUB_CHECKPOINT_SECONDS = CONFIG.checkpoint_seconds
HUB_CHECKPOINT_EVENTS = CONFIG.checkpoint_events
HUB_WITNESS_FILE = CONFIG.witness_file
HUB_WITNESS_URL = CONFIG.witness_url
HUB_WITNESS_TIMEOUT = 5.0  # seconds an HTTP witness has to answer
HUB_CAP_SENDER = "border-hub@" + (ALLOWED_HOSTS[0] if ALLOWED_HOSTS else "localhost")

# E-mail (escalation notices): SMTP in production or when EMAIL_HOST is set,
# the console otherwise.
EMAIL_BACKEND = CONFIG.email.backend
EMAIL_HOST = CONFIG.email.host
EMAIL_PORT = CONFIG.email.port
EMAIL_HOST_USER = CONFIG.email.host_user
EMAIL_HOST_PASSWORD = CONFIG.email.host_password
EMAIL_USE_TLS = CONFIG.email.use_tls
EMAIL_USE_SSL = CONFIG.email.use_ssl
EMAIL_TIMEOUT = 10  # seconds; the escalation loop must not hang on a dead relay
DEFAULT_FROM_EMAIL = CONFIG.email.default_from
SERVER_EMAIL = CONFIG.email.default_from

# Sign-in attempts (POST /api/v1/auth/token and /auth/login) per client address,
# in ninja's rate syntax; more are answered 429. Read on every request, so a test
# can raise it (the API fuzz run signs in far more often).
HUB_LOGIN_RATE = "20/m"

# WebSocket limits (see docs/protocol.md).
HUB_WS_RATE = 10.0  # frames per second per connection, on average
HUB_WS_BURST = 40  # frames a connection may send at once
HUB_WS_MAX_CONNECTIONS_PER_USER = CONFIG.ws_max_connections_per_user
# Sockets a worker sets up at once (sign-in, grants, first subscription); more are
# closed at once with 4013 so their clients back off (hub.realtime.admission).
HUB_WS_MAX_SETUPS = CONFIG.ws_max_setups
# Seconds between each worker's batched re-check of every socket's user, session,
# token and grants (catches an access change whose control message was lost), and
# how many subscriptions one such pass re-checks against their streams.
HUB_WS_RECHECK_INTERVAL = 15.0
HUB_WS_RECHECK_STREAMS = 50
# Bytes queued to one socket (a reader that stopped reading) before it is closed
# with 4508; the client resumes from its last seq.
HUB_WS_MAX_SEND_BUFFER = 8 * 1024 * 1024

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [("app", FRONTEND_DIST)] if FRONTEND_DIST.is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Evidence files (hub.attachments): private, never under STATIC/MEDIA, served
    # only through the API (never a presigned or public URL). An S3-compatible
    # store when HUB_ATTACHMENTS_S3_* name one, else the filesystem.
    "attachments": attachment_storage_settings(CONFIG),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if CONFIG.is_production
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not CONFIG.is_production

# Request bodies: the API refuses anything larger with a JSON 413.
HUB_MAX_REQUEST_BODY = 256 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = HUB_MAX_REQUEST_BODY

# Evidence files (hub.attachments): the largest file, counted while the body
# streams in; uploads per officer per minute; Pillow's decompression-bomb limit.
HUB_ATTACHMENT_MAX_BYTES = CONFIG.attachment_max_bytes
HUB_ATTACHMENT_UPLOADS_PER_MINUTE = CONFIG.attachment_uploads_per_minute
HUB_ATTACHMENT_MAX_PIXELS = CONFIG.attachment_max_pixels
# An upload no message or task refers to within this many seconds is discarded
# by the background loop (hub.attachments.cleanup).
HUB_ATTACHMENT_UNREFERENCED_TTL = CONFIG.attachment_unreferenced_ttl

# Security. Production sits behind a TLS-terminating proxy (deploy/nginx.conf),
# which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = CONFIG.secure_ssl_redirect
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = CONFIG.hsts_seconds > 0
SECURE_HSTS_PRELOAD = CONFIG.hsts_preload
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = CONFIG.is_production
CSRF_COOKIE_SECURE = CONFIG.is_production
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60  # one duty shift
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {
        # One handler for everything (Django's default adds its own for DEBUG).
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
    },
}
