"""Notices, ``read``/``seen``/``seen_state`` over the WebSocket, end to end.

Each test drives the full ASGI application through ``WebsocketCommunicator`` (as
``test_ws_frames`` does). Incidents are reported at WDH by NA-IMM with
``visibility="participants"`` unless a test says otherwise: NA-IMM officers read them,
NA-POL (deployed at WDH, not participating) does not, until visibility widens.

Most tests run on the in-process bus; ``TestThroughRedis`` runs the same paths
through a real Redis, under a prefix of its own per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from hub.events.models import ReadMarker
from hub.events.notices import mention_notice
from hub.events.reads import stream_mark_read
from hub.incidents import services
from hub.realtime import consumers
from hub.realtime import protocol as p
from hub.realtime.hub import reset_hub
from tests.factories import officer, post, report, seed
from tests.realtime_support import Socket

pytestmark = pytest.mark.django_db(transaction=True)

Frame = dict[str, Any]
NOISE = frozenset({"presence", "typing"})


class Sockets:
    def __init__(self) -> None:
        self.opened: list[Socket] = []

    async def open(self, username: str) -> Socket:
        socket = await Socket.open(username)
        self.opened.append(socket)
        return socket

    async def close_all(self) -> None:
        for socket in self.opened:
            with contextlib.suppress(Exception):
                await socket.close()
        self.opened.clear()


@pytest.fixture
async def region(settings: Any) -> AsyncIterator[Sockets]:
    settings.REDIS_URL = None
    await sync_to_async(seed)()
    sockets = Sockets()
    yield sockets
    await sockets.close_all()
    await reset_hub()
    await sync_to_async(connections.close_all)()


async def recv(s: Socket, timeout: float = 5) -> Frame:
    """The next frame, checked against the protocol (a crash fails at once)."""
    c = s.c
    getter = asyncio.ensure_future(c.output_queue.get())
    with mock.patch("channels.db.close_old_connections", return_value=None):
        done, _ = await asyncio.wait(
            {getter, c.future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    if getter not in done:
        getter.cancel()
        if c.future.done():
            error = None if c.future.cancelled() else c.future.exception()
            pytest.fail(f"the consumer crashed instead of answering: {error!r}")
        raise TimeoutError(f"no frame within {timeout} s")
    output = getter.result()
    if output["type"] == "websocket.close":
        return {"type": "__closed__", "code": output.get("code")}
    frame: Frame = json.loads(output["text"])
    p.SERVER_FRAME.validate_python(frame)
    return frame


async def until(s: Socket, wanted: Callable[[Frame], bool], timeout: float = 5) -> list[Frame]:
    """Frames (presence and typing left out) up to and including the first ``wanted``."""
    got: list[Frame] = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await recv(s, max(deadline - time.monotonic(), 0.01))
        assert frame["type"] != "__closed__", frame
        if frame["type"] in NOISE:
            continue
        got.append(frame)
        if wanted(frame):
            return got


async def barrier(s: Socket) -> list[Frame]:
    """Everything the socket was sent before the answer to a ``ping``."""
    await s.send({"type": "ping"})
    return (await until(s, lambda f: f["type"] == "pong"))[:-1]


async def drain(s: Socket, duration: float = 0.4) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + duration
    while (left := deadline - time.monotonic()) > 0:
        if await s.nothing(left):
            break
        frame = await recv(s)
        if frame["type"] not in NOISE:
            frames.append(frame)
    return frames


async def subscribe(s: Socket, stream: str) -> list[Frame]:
    await s.send({"type": "subscribe", "stream": stream, "after": 0})
    return await until(s, lambda f: f["type"] == "caught_up" and f["stream"] == stream)


def is_seen(seq: int) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "seen" and f["seq"] == seq


def notices(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f["type"] == "notice"]


def marker(username: str, stream: str) -> int | None:
    found = ReadMarker.objects.filter(user__username=username, stream_name=stream).first()
    return None if found is None else found.seq


async def marker_becomes(username: str, stream: str, seq: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while (now := await sync_to_async(marker)(username, stream)) != seq:
        assert time.monotonic() < deadline, f"marker is {now}, never became {seq}"
        await asyncio.sleep(0.05)


async def incident_at(seqs: int, **fields: Any) -> str:
    """An incident of na-imm.duty's with ``seqs`` events (a report, then messages)."""

    def build() -> str:
        incident = report("na-imm.duty", "WDH", **fields)
        for i in range(seqs - 1):
            post("na-imm.duty", incident.ref, f"message {i}")
        return incident.ref

    return await sync_to_async(build)()


def user_ref(username: str, agency: str) -> Frame:
    return {"user": username, "name": officer(username).display_name, "agency": agency}


# --- read / seen ----------------------------------------------------------------------


async def test_read_records_the_marker_and_tells_every_subscriber(region: Sockets) -> None:
    ref = await incident_at(3)
    stream = f"incident:{ref}"
    duty = await region.open("na-imm.duty")
    coord = await region.open("na-imm.coord")
    await subscribe(duty, stream)
    await subscribe(coord, stream)
    await duty.send({"type": "read", "stream": stream, "seq": 2})
    expected = {
        "type": "seen",
        "stream": stream,
        "user": await sync_to_async(user_ref)("na-imm.duty", "NA-IMM"),
        "seq": 2,
    }
    assert (await until(coord, is_seen(2)))[-1] == expected
    assert (await until(duty, is_seen(2)))[-1] == expected  # the sender's socket too
    assert await sync_to_async(marker)("na-imm.duty", stream) == 2


async def test_read_needs_a_subscription(region: Sockets) -> None:
    ref = await incident_at(2)
    stream = f"incident:{ref}"
    duty = await region.open("na-imm.duty")
    await duty.send({"type": "read", "stream": stream, "seq": 1})
    (error,) = await until(duty, lambda f: f["type"] == "error")
    assert (error["code"], error["ref"]) == ("not_subscribed", stream)
    assert await sync_to_async(marker)("na-imm.duty", stream) is None


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "read", "stream": "incident:X-1", "seq": -1}, "invalid_frame"),
        ({"type": "read", "stream": "incident:X-1", "seq": "3"}, "invalid_frame"),
        ({"type": "read", "stream": "incident:X-1"}, "invalid_frame"),
        ({"type": "read", "stream": "incident:X-1", "seq": 1, "extra": True}, "invalid_frame"),
    ],
)
async def test_bad_read_frames_are_refused(region: Sockets, frame: Frame, code: str) -> None:
    duty = await region.open("na-imm.duty")
    await duty.send(frame)
    (error,) = await until(duty, lambda f: f["type"] == "error")
    assert error["code"] == code
    assert await barrier(duty) == []  # the socket stays usable


async def test_reads_within_the_window_are_held_and_the_latest_is_written(
    region: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the window nothing more is written; the next frame after it writes the
    highest position held (the clock is moved by hand: nothing here is timed)."""
    clock = [1000.0]
    monkeypatch.setattr(consumers, "read_clock", lambda: clock[0])
    monkeypatch.setattr(consumers, "READ_INTERVAL", 60.0)  # no timer fires during the test
    ref = await incident_at(6)
    stream = f"incident:{ref}"
    duty = await region.open("na-imm.duty")
    witness = await region.open("na-imm.coord")
    await subscribe(duty, stream)
    await subscribe(witness, stream)
    await duty.send({"type": "read", "stream": stream, "seq": 1})
    await until(witness, is_seen(1))
    for seq in (4, 3):  # held: 4 is the highest
        await duty.send({"type": "read", "stream": stream, "seq": seq})
    await barrier(duty)  # both frames were handled
    assert await sync_to_async(marker)("na-imm.duty", stream) == 1
    assert [f["seq"] for f in await barrier(witness) if f["type"] == "seen"] == []
    clock[0] += 61  # the window is over: the next frame writes max(held, its own)
    await duty.send({"type": "read", "stream": stream, "seq": 2})
    got = await until(witness, lambda f: f["type"] == "seen")
    assert [f["seq"] for f in got if f["type"] == "seen"] == [4]
    assert await sync_to_async(marker)("na-imm.duty", stream) == 4


async def test_a_held_read_is_written_when_the_window_ends(
    region: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "READ_INTERVAL", 0.3)
    ref = await incident_at(5)
    stream = f"incident:{ref}"
    duty = await region.open("na-imm.duty")
    witness = await region.open("na-imm.coord")
    await subscribe(duty, stream)
    await subscribe(witness, stream)
    await duty.send({"type": "read", "stream": stream, "seq": 1})
    await duty.send({"type": "read", "stream": stream, "seq": 5})
    # No further frame comes: the end of the window writes the last position.
    seen = [f["seq"] for f in await until(witness, is_seen(5)) if f["type"] == "seen"]
    assert seen[-1] == 5
    assert seen == sorted(set(seen))
    assert await sync_to_async(marker)("na-imm.duty", stream) == 5


@pytest.mark.parametrize("how", ["close", "unsubscribe"])
async def test_a_held_read_is_written_when_the_socket_goes(
    region: Sockets, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(consumers, "READ_INTERVAL", 60.0)
    ref = await incident_at(4)
    stream = f"incident:{ref}"
    duty = await region.open("na-imm.duty")
    await subscribe(duty, stream)
    await duty.send({"type": "read", "stream": stream, "seq": 1})
    await until(duty, is_seen(1))
    await duty.send({"type": "read", "stream": stream, "seq": 4})
    await barrier(duty)
    assert await sync_to_async(marker)("na-imm.duty", stream) == 1  # held
    if how == "close":
        await duty.close()
    else:
        await duty.send({"type": "unsubscribe", "stream": stream})
        await until(duty, lambda f: f["type"] == "unsubscribed")
    await marker_becomes("na-imm.duty", stream, 4)


async def test_seen_state_follows_caught_up_on_incident_streams(region: Sockets) -> None:
    ref = await incident_at(3)
    stream = f"incident:{ref}"

    def markers() -> None:
        stream_mark_read(actor=officer("na-imm.coord"), stream=stream, seq=2)
        stream_mark_read(actor=officer("na-imm.senior"), stream=stream, seq=0)  # read nothing
        # A marker of someone who cannot read the incident (any more) is not shown.
        ReadMarker.objects.create(
            user=officer("na-pol.duty"), stream_name=stream, seq=3, updated_at=timezone.now()
        )

    await sync_to_async(markers)()
    duty = await region.open("na-imm.duty")
    frames = await subscribe(duty, stream)
    assert [f["seq"] for f in frames if f["type"] == "event"] == [1, 2, 3]
    (state,) = await until(duty, lambda f: f["type"] == "seen_state")
    assert state == {
        "type": "seen_state",
        "stream": stream,
        "readers": [{**await sync_to_async(user_ref)("na-imm.coord", "NA-IMM"), "seq": 2}],
    }
    # A crossing point's feed gets its pending alerts instead.
    await duty.send({"type": "subscribe", "stream": "crossing:WDH"})
    await until(duty, lambda f: f["type"] == "caught_up")
    after = await barrier(duty)
    assert [f["type"] for f in after] == ["pending_alerts"]


# --- notices ----------------------------------------------------------------------------


async def test_incident_notices_reach_only_readers_watching_the_crossing_point(
    region: Sockets,
) -> None:
    imm = await region.open("na-imm.duty")
    pol = await region.open("na-pol.duty")
    bystander = await region.open("na-imm.senior")  # a reader, but not watching WDH
    await subscribe(imm, "crossing:WDH")
    await subscribe(pol, "crossing:WDH")
    coord = await sync_to_async(officer)("na-imm.coord")
    incident = await sync_to_async(report)("na-imm.coord", "WDH")
    ref = incident.ref

    def notice(seq: int) -> Frame:
        return {
            "type": "notice",
            "kind": "incident",
            "crossing_point": "WDH",
            "ref": ref,
            "stream": f"incident:{ref}",
            "seq": seq,
        }

    assert notices(await until(imm, lambda f: f["type"] == "notice")) == [notice(1)]
    # Wider visibility: NA-POL may read it now, and hears of it.
    await sync_to_async(services.incident_update)(
        actor=coord, ref=ref, changes={"visibility": "crossing_point"}
    )
    assert notices(await until(imm, lambda f: f["type"] == "notice")) == [notice(2)]
    got = notices(await until(pol, lambda f: f["type"] == "notice"))
    assert got == [notice(2)]  # never the report it could not read
    # Narrower again: NA-POL may not read it, so it hears nothing more.
    await sync_to_async(services.incident_update)(
        actor=coord, ref=ref, changes={"visibility": "participants"}
    )
    await sync_to_async(services.incident_transition)(actor=coord, ref=ref, to_status="triaged")
    # Each notice is delivered by a task of its own, so 3 and 4 may arrive either way
    # round (a notice is a hint: the client reads the incident up to the highest seq).
    got = notices(await until(imm, lambda f: f["type"] == "notice"))
    if len(got) < 2:
        got += notices(await until(imm, lambda f: f["type"] == "notice"))
    assert sorted(got, key=lambda f: int(f["seq"])) == [notice(3), notice(4)]
    assert notices(await drain(pol)) == []
    assert notices(await drain(bystander, 0.1)) == []


async def test_mention_notices_reach_every_socket_of_the_mentioned(region: Sockets) -> None:
    def build() -> str:
        incident = report("na-imm.duty", "WDH")
        services.incident_invite_agency(
            actor=officer("na-imm.coord"), ref=incident.ref, agency="NA-CUS"
        )
        return incident.ref

    ref = await sync_to_async(build)()
    stream = f"incident:{ref}"
    author = await region.open("na-imm.duty")
    cus_a = await region.open("na-cus.duty")  # two tabs, subscribed to nothing
    cus_b = await region.open("na-cus.duty")
    coord = await region.open("na-imm.coord")
    pol = await region.open("na-pol.duty")  # cannot read the incident
    await subscribe(author, stream)
    await subscribe(coord, stream)
    body = "@NA-CUS hold the container, @na-imm.coord FYI, @na-pol.duty too " + "x" * 200
    cmid = str(uuid.uuid4())
    await author.send(
        {"type": "message.send", "stream": stream, "client_msg_id": cmid, "body": body}
    )
    answered = await until(author, lambda f: f["type"] == "event")
    if not any(f["type"] == "ack" for f in answered):  # the event may overtake the ack
        answered += await until(author, lambda f: f["type"] == "ack")
    ack = next(f for f in answered if f["type"] == "ack")
    event = next(f for f in answered if f["type"] == "event")
    assert event["payload"]["mentions"] == [
        {"kind": "agency", "key": "NA-CUS", "name": "Namibia Customs and Excise"},
        {
            "kind": "officer",
            "key": "na-imm.coord",
            "name": await sync_to_async(lambda: officer("na-imm.coord").display_name)(),
        },
    ]
    expected = {
        "type": "notice",
        "kind": "mention",
        "crossing_point": "WDH",
        "ref": ref,
        "stream": stream,
        "seq": ack["seq"],
        "by": await sync_to_async(user_ref)("na-imm.duty", "NA-IMM"),
        "excerpt": body[:140],
    }
    for socket in (cus_a, cus_b, coord):
        assert notices(await until(socket, lambda f: f["type"] == "notice")) == [expected]
    assert notices(await drain(author)) == []  # never the author
    assert notices(await drain(pol, 0.1)) == []


async def test_a_mentioned_officer_who_lost_access_is_not_notified(region: Sockets) -> None:
    """The live layer checks readers again after commit, on fresh grants."""
    ref = await incident_at(1, visibility="crossing_point")
    pol = await region.open("na-pol.duty")

    # Named while NA-POL read it, delivered after it stopped: each worker checks the
    # recipients against the grants and facts that hold when it delivers.
    def publish() -> None:
        services.incident_update(
            actor=officer("na-imm.coord"), ref=ref, changes={"visibility": "participants"}
        )
        mention_notice(
            recipients=[officer("na-pol.duty").pk, officer("na-imm.coord").pk],
            crossing_point="WDH",
            ref=ref,
            seq=1,
            by_user="na-imm.duty",
            by_name="x",
            by_agency="NA-IMM",
            excerpt="x",
        )

    coord = await region.open("na-imm.coord")
    await sync_to_async(publish)()
    assert [f["ref"] for f in notices(await until(coord, lambda f: f["type"] == "notice"))] == [ref]
    assert notices(await drain(pol)) == []


# --- through Redis ------------------------------------------------------------------------


class TestThroughRedis:
    """The same paths over a real Redis bus (one prefix per test)."""

    @pytest.fixture
    async def region(self, settings: Any, redis_url: str) -> AsyncIterator[Sockets]:
        import redis

        prefix = f"{os.environ.get('HUB_REDIS_PREFIX', 'test')}-notices-{uuid.uuid4().hex[:10]}"
        settings.REDIS_URL = redis_url
        settings.HUB_REDIS_PREFIX = prefix
        await sync_to_async(seed)()
        sockets = Sockets()
        yield sockets
        await sockets.close_all()
        await reset_hub()
        await sync_to_async(connections.close_all)()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()

    async def test_seen_and_notices(self, region: Sockets) -> None:
        from hub.realtime.hub import current_hub
        from hub.realtime.transport import RedisTransport

        ref = await incident_at(2)
        stream = f"incident:{ref}"
        duty = await region.open("na-imm.duty")
        coord = await region.open("na-imm.coord")
        hub = current_hub()
        assert hub is not None
        assert isinstance(hub.transport, RedisTransport)
        await subscribe(duty, stream)
        await subscribe(coord, "crossing:WDH")
        await subscribe(coord, stream)
        await duty.send({"type": "read", "stream": stream, "seq": 2})
        assert (await until(coord, is_seen(2)))[-1]["user"]["user"] == "na-imm.duty"
        await sync_to_async(services.incident_transition)(
            actor=await sync_to_async(officer)("na-imm.coord"), ref=ref, to_status="triaged"
        )
        got = notices(await until(coord, lambda f: f["type"] == "notice"))
        assert [(n["kind"], n["ref"], n["seq"]) for n in got] == [("incident", ref, 3)]
        await sync_to_async(post)("na-imm.duty", ref, "@na-imm.coord over Redis")
        got = notices(await until(coord, lambda f: f["type"] == "notice"))
        assert [(n["kind"], n["seq"], n["by"]["user"]) for n in got] == [
            ("mention", 4, "na-imm.duty")
        ]
        assert notices(await drain(duty)) == []
