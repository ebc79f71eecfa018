"""The admission gate: a worker sets up at most HUB_WS_MAX_SETUPS sockets at once.

A socket over the bound is accepted and closed with 4013 (Try Again Later) before
any database work, so a reconnect storm cannot pile abandoned set-ups on the
worker's database threads (the 1,000-socket soak after a Redis restart). A slot is
freed by the socket's first ``caught_up``, its end, or the hold timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection, connections
from websockets.typing import Origin

from hub.accounts.services import token_issue
from hub.realtime import admission
from hub.realtime import protocol as p
from hub.realtime.admission import AdmissionMiddleware, SetupGate
from hub.realtime.hub import reset_hub
from tests.factories import officer, seed
from tests.processes import DaphneWorker, database_url_for
from tests.realtime_support import Socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def one_at_a_time(settings: Any) -> AsyncIterator[list[Socket]]:
    settings.REDIS_URL = None
    settings.HUB_WS_MAX_SETUPS = 1
    await sync_to_async(seed)()
    opened: list[Socket] = []
    yield opened
    for socket in opened:
        with contextlib.suppress(Exception):
            await socket.close()
    await reset_hub()
    await sync_to_async(connections.close_all)()


async def test_a_socket_over_the_bound_is_closed_with_4013_until_one_is_set_up(
    one_at_a_time: list[Socket],
) -> None:
    assert admission.GATE.busy == 0
    first = await Socket.open("na-imm.duty")  # holds the only slot: not caught up yet
    one_at_a_time.append(first)
    refused_before = admission.GATE.refused
    second = await Socket.open("na-cus.duty", expect_welcome=False)
    one_at_a_time.append(second)
    assert await second.closed_with() == p.CloseCode.TRY_AGAIN_LATER == 4013
    assert admission.GATE.refused == refused_before + 1
    # The first socket's first caught_up frees the slot: the next one is let in.
    frames = await first.subscribe("crossing:WDH")
    assert frames[-1]["type"] == "caught_up"
    third = await Socket.open("na-cus.duty")
    one_at_a_time.append(third)
    assert third.welcome is not None
    assert third.welcome["user"] == "na-cus.duty"
    await third.close()
    await first.close()
    for _ in range(100):  # both ended: every slot is back
        if admission.GATE.busy == 0:
            break
        await asyncio.sleep(0.02)
    assert admission.GATE.busy == 0


async def test_the_refusal_reads_nothing_from_the_database(settings: Any) -> None:
    calls: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope)
        await asyncio.sleep(3600)

    gate = SetupGate()
    middleware = AdmissionMiddleware(app, gate)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    holder = asyncio.ensure_future(middleware({"type": "websocket"}, receive, send))
    await asyncio.sleep(0)
    assert gate.busy == 1
    assert len(calls) == 1
    assert "hub.setup_slot" in calls[0]
    settings.HUB_WS_MAX_SETUPS = 1
    # The refusal runs on the event loop: any database read there would raise
    # SynchronousOnlyOperation, and the application (authentication) is never called.
    await middleware({"type": "websocket"}, receive, send)
    assert sent == [
        {"type": "websocket.accept"},
        {"type": "websocket.close", "code": p.CloseCode.TRY_AGAIN_LATER},
    ]
    assert len(calls) == 1
    assert gate.refused == 1
    holder.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await holder
    assert gate.busy == 0  # a cancelled set-up gives its slot back
    calls[0]["hub.setup_slot"].release()  # idempotent
    assert gate.busy == 0


async def test_a_slot_held_too_long_is_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admission, "SLOT_HOLD", 0.05)
    gate = SetupGate()
    slot = gate.enter(1)
    assert slot is not None
    assert gate.enter(1) is None
    await asyncio.sleep(0.2)
    assert slot.released
    assert gate.busy == 0
    assert gate.enter(1) is not None


@pytest.mark.slow
async def test_a_real_worker_sends_the_refusal_code_itself(settings: Any) -> None:
    """Through Daphne, not a test communicator: its WebSocket library (autobahn) only
    sends 1000 or 3000-4999 and failed the socket with 1011 when the gate said 1013."""
    settings.REDIS_URL = None
    await sync_to_async(seed)()
    token = await sync_to_async(lambda: token_issue(user=officer("na-imm.duty")).raw)()
    worker = DaphneWorker(
        database_url=database_url_for(connection.settings_dict),
        name="admission",
        extra_env={"HUB_WS_MAX_SETUPS": "1"},
    )
    await asyncio.to_thread(worker.start)
    origin = Origin(worker.base_url)
    bearer = {"Authorization": f"Bearer {token}"}
    try:
        async with websockets.connect(
            worker.ws_url, origin=origin, additional_headers=bearer, open_timeout=20
        ) as first:  # holds the only slot: signed in, not caught up yet
            assert json.loads(await asyncio.wait_for(first.recv(), 20))["type"] == "welcome"
            async with websockets.connect(worker.ws_url, origin=origin, open_timeout=20) as second:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(second.recv(), 20)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == p.CloseCode.TRY_AGAIN_LATER == 4013
    finally:
        await asyncio.to_thread(worker.stop)
        await sync_to_async(connections.close_all)()
