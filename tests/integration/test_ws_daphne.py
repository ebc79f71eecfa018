"""The live layer inside a real Daphne process: what the ASGI test client cannot show.

- A client that stops reading: Twisted would buffer its backlog without limit.
  Past ``HUB_WS_MAX_SEND_BUFFER`` (256 KiB in ``tests.settings_ws_slow``) the
  socket is closed (4508, then dropped if the client does not answer the close),
  the server releases it, and the client resumes from its last seq with no gap.
- Close codes that autobahn's ``sendClose`` refuses (1009) still reach the client.

The worker shares the test database; without Redis it learns of new events from
its database sweeper, which is all these tests need.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections, transaction
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from hub.accounts.services import token_issue
from hub.agencies.models import Agency
from hub.events.pipeline import emit
from hub.events.selectors import stream_head
from hub.events.types import MessagePosted
from hub.realtime import protocol as p
from tests.factories import officer, report, seed
from tests.processes import DaphneWorker, database_url_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT = 60.0
BODY = "x" * 8000


@pytest.fixture
def worker(settings: Any) -> Iterator[DaphneWorker]:
    settings.REDIS_URL = None
    seed()
    w = DaphneWorker(
        database_url=database_url_for(connection.settings_dict),
        name="slow-reader",
        extra_env={
            "DJANGO_SETTINGS_MODULE": "tests.settings_ws_slow",
            "HUB_WS_MAX_CONNECTIONS_PER_USER": "1",
        },
    )
    w.start()
    try:
        yield w
    finally:
        w.stop()
        connections.close_all()


def bulk(stream: str, count: int) -> int:
    """``count`` large events on ``stream`` in one transaction; returns the head."""
    actor = officer("na-imm.duty")
    agency = Agency.objects.get(code="NA-IMM")
    with transaction.atomic():
        for i in range(count):
            emit(
                stream=stream,
                payload=MessagePosted(message_id=2_000_000 + i, body=f"{i} {BODY}"),
                actor=actor,
                agency=agency,
            )
    return stream_head(stream)


def tight_socket(port: int) -> socket.socket:
    """A connected TCP socket with a tiny receive buffer (no autotuning)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def open_ws(worker: DaphneWorker, token: str, **kwargs: Any) -> ClientConnection:
    return await connect(
        worker.ws_url,
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=Origin(worker.base_url),
        max_size=2**22,
        **kwargs,
    )


async def until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        frames.append(frame)
        if frame["type"] == kind:
            return frames


async def test_a_client_that_stops_reading_is_closed_and_resumes_without_a_gap(
    worker: DaphneWorker,
) -> None:
    inc = await sync_to_async(report)(visibility="crossing_point")
    stream = inc.stream_name
    token = (await sync_to_async(token_issue)(user=await sync_to_async(officer)("na-pol.duty"))).raw
    slow = await open_ws(worker, token, sock=tight_socket(worker.port), max_queue=1)
    await slow.send(json.dumps({"type": "subscribe", "stream": stream, "after": 0}))
    replayed = [f for f in await until(slow, "caught_up") if f["type"] == "event"]
    # From here on the client reads nothing. About 6.4 MB is written for it: the
    # kernel takes up to 4 MB (tcp_wmem autotuning on loopback), Twisted the rest.
    head = await sync_to_async(bulk)(stream, 800)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while "is too slow" not in worker.log():
        assert loop.time() < deadline, f"the slow socket was never closed:\n{worker.log()}"
        await asyncio.sleep(0.2)
    # The client reads again: what reached it is in order, then the connection ends.
    received = list(replayed)
    code = None
    try:
        async for raw in slow:
            frame = json.loads(raw)
            if frame["type"] == "event":
                received.append(frame)
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else None
    else:
        code = slow.close_code
    assert code in {p.CloseCode.TOO_SLOW, None, 1006}, code
    seqs = [f["seq"] for f in received]
    assert seqs == list(range(1, len(seqs) + 1)), "no gap, no duplicate"
    assert seqs[-1] < head, "it was closed before the end, not after"
    # The server released it (one connection per user here): the client resumes.
    while True:
        again = await open_ws(worker, token)
        welcome = json.loads(await asyncio.wait_for(again.recv(), WAIT))
        if welcome["type"] == "welcome":
            break
        await again.close()
        assert loop.time() < deadline + WAIT, "the slow connection was never released"
        await asyncio.sleep(0.2)
    await again.send(json.dumps({"type": "subscribe", "stream": stream, "after": seqs[-1]}))
    rest = [f["seq"] for f in await until(again, "caught_up") if f["type"] == "event"]
    await again.close()
    assert seqs + rest == list(range(1, head + 1))


async def test_an_oversized_frame_is_closed_with_1009_by_daphne_too(
    worker: DaphneWorker,
) -> None:
    token = (await sync_to_async(token_issue)(user=await sync_to_async(officer)("na-imm.duty"))).raw
    ws = await open_ws(worker, token)
    assert json.loads(await ws.recv())["type"] == "welcome"
    # Over the application's 64 KiB, under Daphne's own 128 KiB frame limit.
    await ws.send(json.dumps({"type": "ping", "pad": "y" * (70 * 1024)}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(read_until_closed(ws), WAIT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == p.CloseCode.MESSAGE_TOO_BIG


async def read_until_closed(ws: ClientConnection) -> None:
    while True:
        await ws.recv()
