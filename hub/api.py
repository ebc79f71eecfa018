"""The REST API (django-ninja) mounted at /api/v1: routers, auth and error mapping.

Every error leaves as ``{"code", "detail"}`` with a 4xx status: domain errors
(``hub.errors``), request validation (422), malformed JSON (400), missing auth
(401), CSRF failures (403) and throttling (429).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DataError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from hub.auth import API_AUTH
from hub.errors import HubError

logger = logging.getLogger(__name__)


class HubJSONEncoder(NinjaJSONEncoder):
    """Times keep their microseconds, exactly as the event record holds them
    (Django's encoder would cut them to milliseconds)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


class HubRenderer(JSONRenderer):
    encoder_class = HubJSONEncoder


class NulCharacter(ValueError):
    """Text with a NUL character or a lone surrogate: PostgreSQL cannot store
    either, and no officer types one."""


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return _unstorable(value)
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _json_number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: an integer when its value is whole.
    JSON Schema's ``integer`` is a mathematical integer (``102.0`` is one), so an
    integer field takes it, as the schema says."""
    value = float(text)
    return int(value) if value.is_integer() else value


class HubParser(Parser):
    """JSON bodies, refusing NUL characters in any string (after authentication); query
    strings and forms, refusing a parameter given twice unless it is a list."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body, parse_float=_json_number)
        if _has_nul(data):
            raise NulCharacter("Text must not contain NUL characters or lone surrogates.")
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        # Django's QueryDict keeps every value; ninja would take the last one of a
        # single-valued parameter, so ?actor=a&actor=b would quietly filter by b alone.
        # The schema says one value: two are a 422 naming the parameter.
        repeated = [key for key in data if key not in list_fields and len(data.getlist(key)) > 1]
        if repeated:
            source = "form" if request.method == "POST" and data is request.POST else "query"
            raise ValidationError(
                [
                    {"loc": (source, key), "msg": "give this parameter once", "type": "repeated"}
                    for key in repeated
                ]
            )
        return super().parse_querydict(data, list_fields, request)


api = NinjaAPI(
    renderer=HubRenderer(),
    parser=HubParser(),
    title="Border Coordination Hub API",
    version="1",
    description=(
        "Incidents, their channels and timelines for border coordination committees. "
        "Authenticate with `Authorization: Bearer <token>` from `POST /auth/token`, or "
        "with the browser session (and the `X-CSRFToken` header on writes). Every error "
        'is `{"code": "...", "detail": "..."}`.'
    ),
    auth=API_AUTH,
    urls_namespace="api",
)


def _error(
    request: HttpRequest, status: int, code: str, detail: str, **extra: object
) -> HttpResponse:
    return api.create_response(request, {"code": code, "detail": detail, **extra}, status=status)


@api.exception_handler(HubError)
def on_hub_error(request: HttpRequest, exc: HubError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.detail)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for err in exc.errors[:20]:
        location = ".".join(
            str(part) for part in err.get("loc", ()) if part not in {"body", "payload"}
        )
        problems.append(f"{location or 'body'}: {err.get('msg', 'invalid')}")
    detail = "; ".join(problems) or "The request is not valid."
    return _error(
        request,
        422,
        "invalid_request",
        detail,
        errors=[
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors[:20]
        ],
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", "Sign in, or send a valid bearer token.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if isinstance(exc.__cause__, NulCharacter):
        return _error(request, 422, "invalid_request", str(exc.__cause__))
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        return _error(request, 400, "malformed_json", "The request body is not valid JSON.")
    if exc.status_code == 403 and "CSRF" in message:
        return _error(
            request, 403, "csrf_failed", "CSRF check failed: send the X-CSRFToken header."
        )
    if exc.status_code == 429:
        return _error(request, 429, "rate_limited", "Too many requests; slow down.")
    codes = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found"}
    return _error(request, exc.status_code, codes.get(exc.status_code, "error"), message)


@api.exception_handler(DataError)
def on_data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    # PostgreSQL refuses some values outright (a NUL in a path or query string):
    # the transaction rolled back, so this is the caller's input, not our failure.
    if "NUL" in str(exc):
        return _error(request, 422, "invalid_request", "Text must not contain NUL characters.")
    logger.exception("database refused a value")
    return _error(request, 422, "invalid_request", "A value could not be stored.")


@api.exception_handler(OperationalError)
def on_database_unavailable(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    # The database did not answer, refused the connection, or every pooled
    # connection stayed busy (HUB_DB_POOL_SIZE): the transaction did not commit,
    # so nothing was written. Clients retry; writes are idempotent on client_msg_id.
    logger.exception("database unavailable")
    response = _error(
        request, 503, "unavailable", "The database is unavailable; retry in a few seconds."
    )
    response["Retry-After"] = "5"
    return response


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, "payload_too_large", "The request body is too large.")


def _mount() -> None:
    from hub.accounts.api import router as auth_router
    from hub.agencies.api import router as agencies_router
    from hub.alerts.api import router as alerts_router
    from hub.attachments.api import router as attachments_router
    from hub.events.api import router as events_router
    from hub.events.reads_api import router as reads_router
    from hub.incidents.api import router as incidents_router
    from hub.incidents.review_api import router as review_router
    from hub.incidents.search_api import router as search_router
    from hub.metrics.api import router as metrics_router
    from hub.operations.api import router as operations_router
    from hub.sitreps.api import router as sitreps_router

    api.add_router("/auth", auth_router)
    api.add_router("/", agencies_router)
    api.add_router("/", events_router)
    api.add_router("/", reads_router)
    api.add_router("/incidents", incidents_router)
    api.add_router("/incidents", review_router)
    api.add_router("/incidents", attachments_router)
    api.add_router("/", search_router)
    api.add_router("/", metrics_router)
    api.add_router("/", alerts_router)
    api.add_router("/", operations_router)
    api.add_router("/", sitreps_router)


_mount()
