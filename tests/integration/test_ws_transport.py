"""The Redis transport and the hub's handling of a lost live feed, against a real Redis.

- Subscription bookkeeping is reference-counted and synchronous: a subscribe that
  races a pending unsubscribe keeps its channel in Redis; a failed subscribe
  holds nothing; after an outage only what is still wanted is subscribed again.
- Any failure of the reader (not only network errors) is reported: the hub turns
  unhealthy (/readyz red, new sockets refused with 4503) and the transport reconnects.
- When Redis is lost, open sockets stay open and are fed from the record (and
  re-checked) every sweep, even if Redis clean-up would hang on a Redis that times
  out; after it returns, the presence store is written again and the feeds go live.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from unittest import mock

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connections

from hub.agencies.services import user_deactivate
from hub.events.bus import RedisBus, control_channel, stream_channel
from hub.realtime import protocol as p
from hub.realtime.hub import RealtimeHub, current_hub, reset_hub
from hub.realtime.transport import LiveFeedUnavailable, RedisTransport
from tests.factories import officer, post, report, seed
from tests.realtime_support import Socket

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

WAIT = 20.0


async def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.states: list[bool] = []

    async def on_message(self, channel: str, message: str) -> None:
        self.messages.append((channel, message))

    async def on_state(self, healthy: bool, reason: str) -> None:
        self.states.append(healthy)


@pytest.fixture
async def prefix(settings: Any, redis_url: str) -> AsyncIterator[str]:
    name = f"test-transport-{uuid.uuid4().hex[:10]}"
    settings.REDIS_URL = redis_url
    settings.HUB_REDIS_PREFIX = name
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def transport(prefix: str, redis_url: str) -> AsyncIterator[tuple[RedisTransport, Recorder]]:
    recorder = Recorder()
    t = RedisTransport(redis_url)
    await t.start(recorder.on_message, recorder.on_state)
    assert t.healthy
    yield t, recorder
    await t.stop()


def server_channels(redis_url: str, prefix: str) -> set[str]:
    client = redis.Redis.from_url(redis_url)
    try:
        names: list[bytes] = client.pubsub_channels(f"{prefix}:*")  # type: ignore[assignment]
        return {c.decode() for c in names}
    finally:
        client.close()


async def published_and_received(
    t: RedisTransport, recorder: Recorder, channel: str, redis_url: str
) -> None:
    """Publish on ``channel`` from another client until the transport receives it once."""
    marker = uuid.uuid4().hex
    client = redis.Redis.from_url(redis_url)
    try:
        client.publish(channel, marker)
    finally:
        client.close()
    await eventually(lambda: (channel, marker) in recorder.messages, f"a message on {channel}")


# --- 6. reference-counted, synchronous bookkeeping -----------------------------------


async def test_subscribe_racing_a_pending_unsubscribe_keeps_the_channel(
    transport: tuple[RedisTransport, Recorder], redis_url: str, prefix: str
) -> None:
    t, recorder = transport
    channel = stream_channel("incident:RACE-1")
    await t.subscribe(channel)
    # The last subscriber leaves while the connection is busy (the lock is held, as
    # by another command): the unsubscribe is queued; a new subscriber arrives.
    async with t._lock:
        t.unsubscribe(channel)
        again = asyncio.create_task(t.subscribe(channel))
        await asyncio.sleep(0.05)
    await asyncio.wait_for(again, WAIT)
    assert channel in t.wanted
    await published_and_received(t, recorder, channel, redis_url)
    assert channel in server_channels(redis_url, prefix)


async def test_subscribe_after_the_unsubscribe_was_sent_waits_for_its_own_confirmation(
    transport: tuple[RedisTransport, Recorder], redis_url: str, prefix: str
) -> None:
    t, recorder = transport
    channel = stream_channel("incident:RACE-2")
    await t.subscribe(channel)
    t.unsubscribe(channel)
    await eventually(lambda: not t._background, "the UNSUBSCRIBE to be sent")
    await t.subscribe(channel)  # must not return on the old confirmation
    await published_and_received(t, recorder, channel, redis_url)
    await eventually(lambda: channel in server_channels(redis_url, prefix), "Redis to agree")


async def test_two_holders_one_release_keeps_the_channel(
    transport: tuple[RedisTransport, Recorder], redis_url: str
) -> None:
    t, recorder = transport
    channel = stream_channel("incident:TWO-1")
    await t.subscribe(channel)
    await t.subscribe(channel)
    t.unsubscribe(channel)
    await eventually(lambda: not t._background, "background work")
    assert channel in t.wanted
    await published_and_received(t, recorder, channel, redis_url)


async def test_a_failed_subscribe_holds_nothing(
    transport: tuple[RedisTransport, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    t, _ = transport
    channel = stream_channel("incident:FAIL-1")
    assert t._pubsub is not None

    async def refused(*channels: str) -> None:
        raise redis.ConnectionError("refused")

    monkeypatch.setattr(t._pubsub, "subscribe", refused)
    with pytest.raises(LiveFeedUnavailable):
        await t.subscribe(channel)
    assert channel not in t.wanted


async def test_after_an_outage_only_wanted_channels_are_subscribed_again(
    transport: tuple[RedisTransport, Recorder], redis_url: str, prefix: str
) -> None:
    t, recorder = transport
    kept, dropped = stream_channel("incident:KEEP-1"), stream_channel("incident:DROP-1")
    await t.subscribe(kept)
    await t.subscribe(dropped)
    t.unsubscribe(dropped)
    assert t._pubsub is not None
    assert t._pubsub.connection is not None
    await t._pubsub.connection.disconnect()  # the connection drops under the reader
    await eventually(lambda: recorder.states[-2:] == [False, True], "a reconnect")
    await eventually(lambda: t.healthy, "the transport to be healthy again")
    assert server_channels(redis_url, prefix) == {control_channel(), kept}
    await published_and_received(t, recorder, kept, redis_url)


# --- 5. any reader failure is a lost live feed ---------------------------------------


async def test_an_unexpected_reader_failure_is_reported_and_recovered(
    transport: tuple[RedisTransport, Recorder], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    t, recorder = transport
    channel = stream_channel("incident:BUG-1")
    await t.subscribe(channel)
    pubsub = t._pubsub
    assert pubsub is not None
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    t._waiters.setdefault(stream_channel("incident:PENDING-1"), []).append(waiter)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the reader")

    monkeypatch.setattr(pubsub, "get_message", broken)
    await eventually(lambda: False in recorder.states, "the failure to be reported")
    assert recorder.states[:2] == [True, False]
    with pytest.raises(LiveFeedUnavailable):
        await waiter  # whoever waited for a confirmation hears of it
    await eventually(lambda: recorder.states[-1] is True and t.healthy, "a reconnect")
    await published_and_received(t, recorder, channel, redis_url)


async def test_a_failing_message_handler_does_not_stop_the_reader(
    prefix: str, redis_url: str
) -> None:
    received: list[str] = []

    async def on_message(channel: str, message: str) -> None:
        if message == "poison":
            raise ValueError("cannot handle this one")
        received.append(message)

    states: list[bool] = []

    async def on_state(healthy: bool, reason: str) -> None:
        states.append(healthy)

    t = RedisTransport(redis_url)
    await t.start(on_message, on_state)
    try:
        client = redis.Redis.from_url(redis_url)
        client.publish(control_channel(), "poison")
        client.publish(control_channel(), "fine")
        client.close()
        await eventually(lambda: received == ["fine"], "the next message")
        assert states == [True]
    finally:
        await t.stop()


# --- the hub: sockets kept, fed from the record, while the bus is down -----------------


@pytest.fixture
async def redis_hub(prefix: str, settings: Any) -> AsyncIterator[None]:
    settings.HUB_WS_RECHECK_INTERVAL = 3600  # only the outage's own re-checks run
    await sync_to_async(seed)()
    yield
    await reset_hub()
    await sync_to_async(connections.close_all)()


async def _hang(*args: Any, **kwargs: Any) -> None:
    await asyncio.Event().wait()  # a Redis that times out instead of refusing


@contextlib.contextmanager
def nothing_published() -> Iterator[None]:
    """Every publication (events, control messages) goes into the void, as when Redis is down."""
    with mock.patch.object(RedisBus, "publish", return_value=False):
        yield


async def next_event(s: Socket, timeout: float = WAIT) -> dict[str, Any]:
    frames = await s.recv_until("event", timeout)
    assert frames[-1]["type"] == "event", frames
    return frames[-1]


async def test_a_lost_redis_keeps_every_socket_and_feeds_it_from_the_record(
    redis_hub: None, prefix: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inc = await sync_to_async(report)(visibility="crossing_point")
    users = ("na-imm.duty", "na-pol.duty", "na-cus.duty")
    sockets = [await Socket.open(u) for u in users]
    for s in sockets:
        await s.subscribe(inc.stream_name)
    hub = current_hub()
    assert hub is not None
    for name in ("leave", "close_connection", "online", "join", "heartbeat"):
        monkeypatch.setattr(hub.presence, name, _hang)
    # Reported at once, even though any Redis clean-up would hang.
    await asyncio.wait_for(hub._on_state(False, "lost Redis: timed out"), 2)
    assert len(hub.conns) == 3
    assert inc.stream_name in hub.feeds
    with nothing_published():
        for i in range(3):
            seq = (await sync_to_async(post)("na-imm.duty", inc.ref, f"during {i}")).seq
            for s in sockets:  # from the record, by the sweeper, in order
                event = await next_event(s)
                assert (event["seq"], event["payload"]["body"]) == (seq, f"during {i}")
        # Access still ends without a control message: re-checked every sweep.
        await sync_to_async(lambda: user_deactivate(user=officer("na-cus.duty")))()
        assert await sockets[2].closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED
    newcomer = await Socket.open("na-imm.duty", expect_welcome=False)
    assert await newcomer.closed_with(WAIT) == p.CloseCode.LIVE_FEED_UNAVAILABLE
    monkeypatch.undo()
    # Redis restarted empty: the comeback writes this worker's presence again.
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()
    await hub._on_state(True, "connected to Redis")
    assert hub.comeback is not None
    await asyncio.wait_for(hub.comeback, WAIT)
    online = await hub.presence.online(inc.stream_name)
    assert {u.user for users_ in online.values() for u in users_} == {"na-imm.duty", "na-pol.duty"}
    seq = (await sync_to_async(post)("na-imm.duty", inc.ref, "after")).seq
    for s in sockets[:2]:
        event = await next_event(s)
        assert (event["seq"], event["payload"]["body"]) == (seq, "after")
    for s in sockets[:2]:
        await s.close()


async def test_a_reader_failure_keeps_sockets_and_the_hub_recovers(
    redis_hub: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    inc = await sync_to_async(report)(visibility="crossing_point")
    s = await Socket.open("na-imm.duty")
    await s.subscribe(inc.stream_name)
    hub: RealtimeHub | None = current_hub()
    assert hub is not None
    assert isinstance(hub.transport, RedisTransport)
    pubsub = hub.transport._pubsub
    assert pubsub is not None

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the reader")

    monkeypatch.setattr(pubsub, "get_message", broken)
    await eventually(lambda: hub.outages == 1, "the outage to be reported")
    from hub.health import _extra_checks

    await eventually(lambda: hub.healthy, "the hub to reconnect")
    assert _extra_checks["live_feed"]() is None  # /readyz is green again
    assert hub.transport.wanted == {control_channel(), stream_channel(inc.stream_name)}
    seq = (await sync_to_async(post)("na-imm.duty", inc.ref, "live again")).seq
    assert (await next_event(s))["seq"] == seq, "the kept socket is live again"
    again = await Socket.open("na-imm.duty")
    frames = await again.subscribe(inc.stream_name)
    assert frames[-1]["type"] == "caught_up"
    await again.close()
    await s.close()
