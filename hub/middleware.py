"""HTTP middleware owned by the hub.

``BodySizeLimitMiddleware`` refuses oversized API bodies before any view reads
them, with the API's error shape, so a client never sees Django's HTML 400.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from hub.attachments.uploads import (
    SCOPE_FLAG,
    LimitedUploadHandler,
    is_upload,
    upload_envelope,
)


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit: int = settings.HUB_MAX_REQUEST_BODY
        if is_upload(request.method or "", request.path):
            # Evidence uploads have their own, larger limit, enforced while the
            # body streams in (``hub.attachments.uploads``).
            limit = upload_envelope()
            refused = getattr(request, "scope", {}).get(SCOPE_FLAG)
            if refused == "length_mismatch":
                return JsonResponse(
                    {
                        "code": "content_length_mismatch",
                        "detail": "The body does not match its Content-Length.",
                    },
                    status=400,
                )
            if refused == "too_large":
                return _too_large(settings.HUB_ATTACHMENT_MAX_BYTES)
            # Before anything (CSRF included) reads the body: count the file's
            # bytes as they stream and stop past the limit.
            request.upload_handlers = [LimitedUploadHandler(request)]
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return JsonResponse(
                {"code": "bad_request", "detail": "Content-Length is not a number."}, status=400
            )
        if length > limit:
            return _too_large(limit)
        return self.get_response(request)


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        {"code": "payload_too_large", "detail": f"Request bodies are limited to {limit} bytes."},
        status=413,
    )


API_PREFIX = "/api/"
STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
}


class ApiJsonErrorsMiddleware:
    """Under /api/, every error response is JSON ``{"code", "detail"}``.

    The API's own handlers already answer that way; this catches what answers
    before or around them (unknown paths, wrong methods, Django's 500 page).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code = STATUS_CODES.get(response.status_code, "error")
            detail = {
                404: "No such endpoint.",
                405: f"{request.method} is not allowed here.",
                500: "The server failed to handle this request; it has been logged.",
            }.get(response.status_code, code.replace("_", " ").capitalize() + ".")
            replacement = JsonResponse(
                {"code": code, "detail": detail}, status=response.status_code
            )
            if response.has_header("Allow"):
                replacement["Allow"] = response["Allow"]
            return replacement
        return response
