"""``template:<CODE>`` over the socket: replay, then a version published in the browser live.

Every officer may subscribe (the stream kind's resolver is
``hub.operations.selectors.template_stream_readable``); an account without a
membership, and an unknown template, get ``error not_found``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from hub.accounts.models import User
from hub.operations.sops import load_sops
from hub.realtime.hub import reset_hub
from tests.factories import Api, seed
from tests.realtime_support import Socket

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = "template:TIP-SCREENING"
WAIT = 20.0  # seconds: generous, for something that must happen


@pytest.fixture
async def sockets(settings: Any) -> AsyncIterator[list[Socket]]:
    settings.REDIS_URL = None
    await sync_to_async(seed)()
    await sync_to_async(load_sops)()
    opened: list[Socket] = []
    yield opened
    for socket in opened:
        with contextlib.suppress(Exception):
            await socket.close()
    await reset_hub()
    await sync_to_async(connections.close_all)()


def publish_v2() -> dict[str, Any]:
    api = Api("na-pol.admin")
    current = api.get("/api/v1/checklist-templates/tip-screening").json()
    response = api.post(
        "/api/v1/checklist-templates/tip-screening/versions",
        {
            "base_version": current["version"],
            "title": "TIP screening (revised live)",
            "description": current["description"],
            "items": current["items"],
        },
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


async def test_a_duty_officer_replays_the_versions_and_hears_a_new_one_live(
    sockets: list[Socket],
) -> None:
    s = await Socket.open("na-cus.duty")
    sockets.append(s)
    frames = await s.subscribe(STREAM)
    events = [f for f in frames if f["type"] == "event"]
    assert [(e["seq"], e["kind"], e["payload"]["version"]) for e in events] == [
        (1, "template.published", 1)
    ]
    assert frames[-1] == {"type": "caught_up", "stream": STREAM, "seq": 1}

    published = await sync_to_async(publish_v2)()
    [live] = [f for f in await s.recv_until("event", timeout=WAIT) if f["type"] == "event"]
    assert (live["stream"], live["seq"], live["kind"]) == (STREAM, 2, "template.published")
    assert live["payload"]["title"] == "TIP screening (revised live)"
    assert live["payload"]["source"] == "browser"
    assert live["actor"]["username"] == "na-pol.admin"
    assert live["actor"]["agency"] == "NA-POL"
    assert published["seq"] == 2


async def test_no_membership_or_no_template_is_not_found(sockets: list[Socket]) -> None:
    await sync_to_async(User.objects.create_user)("nobody", "n@example.org", "nobody-pass-123")
    s = await Socket.open("nobody")
    sockets.append(s)
    await s.send({"type": "subscribe", "stream": STREAM, "after": 0})
    [error] = await s.recv_until("error")
    assert (error["code"], error["ref"]) == ("not_found", STREAM)

    t = await Socket.open("na-imm.duty")
    sockets.append(t)
    await t.send({"type": "subscribe", "stream": "template:NO-SUCH-SOP", "after": 0})
    [error] = await t.recv_until("error")
    assert error["code"] == "not_found"
