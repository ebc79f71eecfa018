"""Streaming limits for evidence uploads.

Two layers, both before a byte beyond the limit is kept:

- ``capped_receive`` wraps the ASGI ``receive`` of an upload request
  (``hub.handler``): a declared ``Content-Length`` above the envelope, or a body
  that grows past it or past its declared length, stops the read at once; the
  request then reaches ``BodySizeLimitMiddleware`` flagged and is answered 413
  (too large) or 400 ``content_length_mismatch``, and the rest of the body is
  never read.
- ``LimitedUploadHandler`` counts the file part's bytes as Django's multipart
  parser streams them, and stops the parse (without draining the input) as soon
  as the file exceeds ``HUB_ATTACHMENT_MAX_BYTES``. It spools the file to a
  temporary file on disk, never whole in memory.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

# Room for the multipart envelope (boundaries, part headers, client_msg_id).
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_PATH = re.compile(r"^/api/v1/incidents/[^/]+/attachments/?$")
SCOPE_FLAG = "hub.upload_refused"


def is_upload(method: str, path: str) -> bool:
    return method == "POST" and UPLOAD_PATH.match(path) is not None


def upload_envelope() -> int:
    """The largest request body an upload may be."""
    limit: int = settings.HUB_ATTACHMENT_MAX_BYTES
    return limit + MULTIPART_OVERHEAD


Receive = Callable[[], Awaitable[dict[str, Any]]]


def capped_receive(scope: MutableMapping[str, Any], receive: Receive) -> Receive:
    """``receive`` that stops reading an upload body beyond its envelope or its length."""
    envelope = upload_envelope()
    declared: int | None = None
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
    seen = 0
    done = False

    async def wrapped() -> dict[str, Any]:
        nonlocal seen, done
        if done:
            # Django listens for a disconnect once the body is "complete"; the
            # rest of a refused body is never pulled. That listener is cancelled
            # as soon as the (small) refusal is sent.
            await asyncio.Future()
        if declared is not None and declared > envelope:
            done = True
            scope[SCOPE_FLAG] = "too_large"
            return {"type": "http.request", "body": b"", "more_body": False}
        message = await receive()
        if message["type"] != "http.request":
            return message
        seen += len(message.get("body", b""))
        if seen > envelope:
            scope[SCOPE_FLAG] = "too_large"
        elif declared is not None and (
            seen > declared or (not message.get("more_body") and seen != declared)
        ):
            scope[SCOPE_FLAG] = "length_mismatch"
        if SCOPE_FLAG in scope:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return message

    return wrapped


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Spools the file to disk and stops the parse once it is over the limit."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit: int = settings.HUB_ATTACHMENT_MAX_BYTES
        self.received = 0
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            # connection_reset: Django's parser then does not drain the rest.
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
