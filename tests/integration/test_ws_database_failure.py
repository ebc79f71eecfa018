"""The database failing under a socket's frames (found by the soak's PostgreSQL restart).

A ``subscribe`` whose replay (or sign-in check) hit a dropped database connection used
to be answered with a bare ``error internal_error``: the consumer had already thrown
the subscription away, the client could not tell which frame had failed, and it waited
for events that never came (a silent hang until its next reconnect). Now the consumer
closes with 1011, and the client reconnects and resumes from its last seq. Other frames
that fail still get ``error internal_error``, with the frame's ``ref``, so an outbox
knows which write to send again.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connections

from hub.realtime import protocol as p
from hub.realtime.hub import reset_hub
from tests.factories import post, report, seed
from tests.realtime_support import Socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def stream(settings: Any) -> AsyncIterator[str]:
    """An incident with two messages (events 1..3) on the in-process bus."""
    settings.REDIS_URL = None

    def make() -> str:
        seed()
        incident = report("na-imm.duty")
        post("na-imm.duty", incident.ref, "first")
        post("na-imm.duty", incident.ref, "second")
        return f"incident:{incident.ref}"

    yield await sync_to_async(make)()
    await reset_hub()
    await sync_to_async(connections.close_all)()


def lost_connection(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("server closed the connection unexpectedly")


async def test_a_subscribe_whose_replay_fails_closes_the_socket_so_the_client_resumes(
    stream: str,
) -> None:
    socket = await Socket.open("na-imm.duty")
    with mock.patch("hub.realtime.consumers.replay_page", lost_connection):
        await socket.send({"type": "subscribe", "stream": stream, "after": 0})
        frames = await socket.recv_until("caught_up")

    assert frames[-1] == {"type": "__closed__", "code": p.CloseCode.INTERNAL_ERROR}
    assert not [f for f in frames if f["type"] in {"event", "caught_up"}]

    # What the client does next: reconnect and resume; nothing was skipped.
    again = await Socket.open("na-imm.duty")
    replayed = await again.subscribe(stream, after=0)
    assert [f["seq"] for f in replayed if f["type"] == "event"] == [1, 2, 3]
    assert replayed[-1] == {"type": "caught_up", "stream": stream, "seq": 3}
    await again.close()


async def test_a_failed_write_answers_internal_error_naming_the_write(stream: str) -> None:
    socket = await Socket.open("na-imm.duty")
    await socket.subscribe(stream)
    client_msg_id = str(uuid.uuid4())
    with mock.patch("hub.realtime.consumers.message_send_from_socket", lost_connection):
        await socket.send(
            {
                "type": "message.send",
                "stream": stream,
                "client_msg_id": client_msg_id,
                "body": "during the outage",
            }
        )
        error = (await socket.recv_until("error"))[-1]

    assert error["code"] == p.ErrorCode.INTERNAL_ERROR
    assert error["ref"] == client_msg_id
    # The socket stays up and the same write goes through once the database is back.
    await socket.send(
        {
            "type": "message.send",
            "stream": stream,
            "client_msg_id": client_msg_id,
            "body": "during the outage",
        }
    )
    ack = (await socket.recv_until("ack"))[-1]
    assert ack["seq"] == 4
    await socket.close()
