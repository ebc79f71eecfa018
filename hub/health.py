"""Liveness and readiness endpoints.

``/healthz`` answers 200 while the process can run a view at all. ``/readyz``
answers 200 only when every readiness check passes (the database, the channel
layer, and whatever other apps register, such as the realtime hub's Redis
subscription), and 503 naming each failing check otherwise. Load balancers send
traffic only to ready workers. Registered *details* (``register_readiness_detail``,
such as the outside witness's delivery state) appear under ``detail`` and never
change the status. Registered *sections* (``register_readiness_section``, such as
the evidence-file store) are checks that also answer a few public facts under
their own name (``"attachments": {"backend": "s3", "reachable": true}``).

The 503 body is public (anyone who can reach the port reads it), so it carries
only a short reason per check: what failed and the exception class. Driver
messages, which can name internal hosts and ports, go to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# A check returns None when healthy, or a reason "<summary>: <detail>". Only the
# summary (before the first ": ") is answered; the whole reason is logged.
ReadinessCheck = Callable[[], "str | None"]
REASON_SEPARATOR = ": "
_extra_checks: dict[str, ReadinessCheck] = {}
# Detail never changes readiness: it reports something an operator should see (a
# witness that is not answering) without taking the worker out of the balancer.
ReadinessDetail = Callable[[], "dict[str, str] | None"]
_details: dict[str, ReadinessDetail] = {}
# A section is a check with public facts: it returns (facts, None) when healthy,
# or (facts, reason) when not; the facts are answered either way.
ReadinessSection = Callable[[], "tuple[dict[str, object], str | None]"]
_sections: dict[str, ReadinessSection] = {}


def register_readiness_check(name: str, check: ReadinessCheck) -> None:
    """Add a readiness check (called from an AppConfig.ready())."""
    _extra_checks[name] = check


def register_readiness_detail(name: str, detail: ReadinessDetail) -> None:
    """Add a section to /readyz's ``detail`` (called from an AppConfig.ready()).
    Its values are public: short summaries only, no host names or driver messages."""
    _details[name] = detail


def register_readiness_section(name: str, section: ReadinessSection) -> None:
    """Add a check whose facts appear under ``name`` in /readyz (from an
    AppConfig.ready()). The facts are public: short values, no host names."""
    _sections[name] = section


def run_section(name: str, section: ReadinessSection) -> tuple[dict[str, object], str | None]:
    try:
        return section()
    except Exception as exc:
        logger.exception("readiness section %s raised", name)
        return {"error": type(exc).__name__}, failure(f"{name} check raised", exc)


def collect_details() -> dict[str, dict[str, str]]:
    details: dict[str, dict[str, str]] = {}
    for name, detail in _details.items():
        try:
            section = detail()
        except Exception as exc:
            logger.exception("readiness detail %s raised", name)
            section = {"error": type(exc).__name__}
        if section:
            details[name] = section
    return details


def failure(summary: str, exc: BaseException) -> str:
    """``summary (ExceptionClass): message``: the part before ": " is what /readyz answers."""
    return f"{summary} ({type(exc).__name__}){REASON_SEPARATOR}{exc}"


def public_reason(reason: str) -> str:
    """The summary of a check's reason, safe to answer to anyone."""
    return reason.split(REASON_SEPARATOR, 1)[0].strip() or "failing"


def run_check(name: str, check: ReadinessCheck) -> str | None:
    """Run one check; a check that raises is failing (with its exception class), not a 500."""
    try:
        return check()
    except Exception as exc:
        logger.exception("readiness check %s raised", name)
        return failure(f"{name} check raised", exc)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return failure("database unreachable", exc)
    return None


def check_channel_layer() -> str | None:
    url = settings.REDIS_URL
    if not url:
        return None  # in-memory layer lives in this process
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return failure("channel layer (Redis) unreachable", exc)
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, ReadinessCheck] = {
        "database": check_database,
        "channel_layer": check_channel_layer,
        **_extra_checks,
    }
    results: dict[str, str] = {}
    failures: dict[str, str] = {}
    for name, check in checks.items():
        reason = run_check(name, check)
        results[name] = "ok" if reason is None else "failing"
        if reason is not None:
            failures[name] = reason
    sections: dict[str, object] = {}
    for name, section in _sections.items():
        facts, reason = run_section(name, section)
        sections[name] = facts
        results[name] = "ok" if reason is None else "failing"
        if reason is not None:
            failures[name] = reason
    details = collect_details()
    extra: dict[str, object] = {**sections, **({"detail": details} if details else {})}
    if failures:
        logger.warning("readiness failed: %s", failures)
        reasons = {name: public_reason(reason) for name, reason in failures.items()}
        return JsonResponse(
            {"status": "unavailable", "checks": results, "reasons": reasons, **extra},
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results, **extra})
