"""The HTTP side of ``hub.asgi``: Django's handler with the sync chain in one thread hop."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.testing import HttpCommunicator
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest
from django.test import override_settings
from django.utils.deprecation import MiddlewareMixin

from hub.handler import SyncChainASGIHandler
from hub.incidents.models import Message
from tests.factories import officer, report, seed

MODES: list[bool] = []


class RecordMode(MiddlewareMixin):
    """Django's own middlewares are MiddlewareMixins: record the mode they run in."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        MODES.append(bool(getattr(self, "async_mode", None)))

    def process_request(self, request: HttpRequest) -> None:
        return None


def built_modes(handler_class: type[ASGIHandler]) -> list[bool]:
    """Whether the innermost and the outermost middleware run in async mode."""
    MODES.clear()
    recorder = f"{__name__}.RecordMode"
    with override_settings(MIDDLEWARE=[recorder, *settings.MIDDLEWARE, recorder]):
        handler_class()
    return list(MODES)


def test_the_hub_serves_http_with_the_sync_chain_handler() -> None:
    from hub.asgi import django_asgi_app

    assert isinstance(django_asgi_app, SyncChainASGIHandler)


def test_every_middleware_runs_in_sync_mode() -> None:
    # Stock Django, under ASGI, builds the middlewares inside the hub's sync-only
    # ones in async mode: each of their hooks is then a sync_to_async call of its
    # own. (This also checks that the recorder can tell the modes apart.)
    assert built_modes(ASGIHandler) == [True, False]
    assert built_modes(SyncChainASGIHandler) == [False, False]


async def request(
    method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, Any]:
    from hub.asgi import application

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    communicator = HttpCommunicator(
        application,
        method,
        path,
        body=json.dumps(body).encode() if body is not None else b"",
        headers=headers,
    )
    response = await communicator.get_response(timeout=10)
    return response["status"], json.loads(response["body"] or b"null")


@pytest.mark.django_db(transaction=True)
async def test_requests_pass_through_the_chain_end_to_end() -> None:
    from asgiref.sync import sync_to_async

    from hub.accounts.services import token_issue

    status, body = await request("GET", "/healthz")
    assert (status, body) == (200, {"status": "ok"})

    def setup() -> tuple[str, str]:
        seed()
        incident = report("na-imm.duty")
        return incident.ref, token_issue(user=officer("na-imm.duty"), name="asgi test").raw

    ref, token = await sync_to_async(setup)()
    cmid = str(uuid.uuid4())
    path = f"/api/v1/incidents/{ref}/messages"
    status, body = await request(
        "POST", path, {"body": "through ASGI", "client_msg_id": cmid}, token
    )
    assert status == 201, body
    assert body["message"]["body"] == "through ASGI"
    stored = await Message.objects.filter(incident__ref=ref, client_msg_id=cmid).acount()
    assert stored == 1

    # Errors keep the API's shape through the handler (middleware included).
    status, body = await request("GET", "/api/v1/no-such-endpoint", token=token)
    assert status == 404
    assert body["code"] == "not_found"
    status, body = await request("GET", f"/api/v1/incidents/{ref}")
    assert status == 401
    assert body["code"] == "unauthenticated"
