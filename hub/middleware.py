"""HTTP middleware owned by the hub.

``BodySizeLimitMiddleware`` refuses oversized API bodies before any view reads
them, with the API's error shape, so a client never sees Django's HTML 400.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit: int = settings.HUB_MAX_REQUEST_BODY
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return JsonResponse(
                {"code": "bad_request", "detail": "Content-Length is not a number."}, status=400
            )
        if length > limit:
            return JsonResponse(
                {
                    "code": "payload_too_large",
                    "detail": f"Request bodies are limited to {limit} bytes.",
                },
                status=413,
            )
        return self.get_response(request)
