"""The per-process live hub: one feed per stream, fanned out to local sockets.

Delivery path (no channel-layer queue, no per-socket thread hop or query):

    bus (Redis pub/sub or in-process) ─► transport reader ─► Feed.on_event(seq, frame)
        ─► in seq order, gap-free ─► for each local Subscription: ASGI send(frame)

- Each worker receives one bus message per stream event and writes the frame,
  encoded once by the publisher, to each local subscriber in a plain loop, each
  write in its own ``try``.
- A ``Feed`` delivers seqs strictly in order with no gap: out-of-order arrivals
  wait briefly for the missing seq, then the gap is filled from the database
  (once per worker, not per socket). A sweeper compares feeds with the stream
  heads in the database every few seconds, so a lost notification costs latency,
  never an event.
- A ``Subscription`` joins its feed *before* replaying from the database; live
  frames that arrive meanwhile are buffered and released after ``caught_up``,
  dropping any seq the replay already sent. The client never sees a gap or a
  duplicate across the switch.
- When the bus is lost, open sockets stay open: every ``SWEEP_INTERVAL`` the
  sweeper fills each feed from the database (at once, not after two sweeps) and
  re-checks every socket's access (control messages cannot arrive). Deliveries
  run seconds late; none is lost. Presence and typing pause; new sockets and new
  feeds are refused with 4503 until the bus is back. The transport reconnects by
  itself and subscribes again to every feed's channel; then each feed is filled
  up to the record's head at once, the presence store (empty after a Redis
  restart) is written again and every socket is re-checked. Closing every socket
  instead sent a whole worker's clients back at once: at 1,000 sockets the
  reconnect storm took about a minute of set-up on two cores.

Access changes never stall the reader. A control message suspends the affected
subscriptions at once (synchronously, so no event published after the change
reaches them: Redis delivers the control message and later events in order on
the one connection), then re-checks each affected socket in a bounded
background task, which drops the subscriptions it may no longer read and
resumes the others (buffered frames are released in order). Control messages are
at most once, so every ``HUB_WS_RECHECK_INTERVAL`` seconds the hub also re-checks
every local socket in one batch (a handful of queries per worker, whatever the
number of sockets): signed-out users, sessions and expired or revoked tokens are
closed with 4401; sockets whose grants changed are re-checked; and a rolling
window of ``HUB_WS_RECHECK_STREAMS`` (socket, stream) pairs is re-authorized.

Notices (``hub.events.notices``) never stall the reader either. An incident
notice arrives on a ``crossing:`` feed (header ``N``); a mention notice on the
control channel, naming its recipients. Either way a background task asks the
database which of the local users concerned can read the incident *now* (one
batch of queries per notice per worker) and writes the ``notice`` frame to those
users' sockets only: through the crossing subscription (held while it is being
re-checked) for an incident notice, to every socket of the user for a mention.
``seen`` frames (header ``S``) go to a stream's subscribers like presence does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Coroutine, Iterable
from functools import partial
from typing import Any, Literal, Protocol

from django.conf import settings

from hub.agencies.access import Access
from hub.events.bus import (
    control_channel,
    parse_stream_message,
    stream_channel,
    stream_from_channel,
)
from hub.events.notices import MENTION_NOTICE, NOTICE_HEADER
from hub.events.selectors import stream_head, stream_heads
from hub.realtime.db import close_pool_connections, db
from hub.realtime.presence import (
    HEARTBEAT,
    LocalPresence,
    Member,
    PresenceStore,
    RedisPresence,
    with_member,
)
from hub.realtime.protocol import (
    NOTICE,
    CloseCode,
    IncidentNotice,
    MentionNotice,
    OnlineUser,
    Presence,
    encode,
)
from hub.realtime.selectors import (
    ConnectionRef,
    connections_recheck,
    frames_between,
    readers_among,
)
from hub.realtime.transport import (
    LiveFeedUnavailable,
    LocalTransport,
    RedisTransport,
    Transport,
)
from hub.realtime.wire import DirectWrite, text_frame

logger = logging.getLogger(__name__)

GAP_GRACE = 0.25  # seconds an out-of-order frame waits for the missing seq
SWEEP_INTERVAL = 2.0  # seconds between database reconciliations of active feeds
FEED_LINGER = 30.0  # seconds a feed with no subscribers stays subscribed
PRESENCE_DEBOUNCE = 0.2  # seconds joins and leaves are gathered into one presence frame
# How long a worker answers a newcomer from the stream's last presence read (plus the
# newcomer) instead of reading every member again: one read per join made a storm
# of N joins on one stream cost N^2 member decodes (5,000 sockets: ~40 ms per connect).
PRESENCE_FRESH = 1.0
RECHECK_CONCURRENCY = 4  # access re-checks at once per worker (the DB pool has 8 threads)


def recheck_interval() -> float:
    """Seconds between batched re-checks of every local socket (a setting, for tests)."""
    return float(settings.HUB_WS_RECHECK_INTERVAL)


def recheck_streams_budget() -> int:
    return int(settings.HUB_WS_RECHECK_STREAMS)


class Connection(Protocol):
    """What the hub needs from a socket (implemented by the consumer)."""

    conn_id: str
    user_id: int
    session_key: str | None
    token_id: int | None
    write_direct: DirectWrite | None
    subs: dict[str, Subscription]
    access: Access
    closing: bool
    recheck_requested: int

    async def send_raw(self, text: str) -> None: ...

    async def send_wire(self, text: str, wire: bytes) -> None: ...

    def stop_deliveries(self) -> None:
        """Synchronously: write nothing more to this socket (a close follows)."""
        ...

    async def close_with(self, code: int, reason: str) -> None: ...

    async def recheck_access(self) -> None: ...

    async def subscription_lost(
        self, stream: str, reason: Literal["gap", "ahead_of_stream"]
    ) -> None: ...


class Subscription:
    """One socket's subscription to one stream.

    ``live`` is the fast path's single test: active, replayed, not suspended and
    nothing buffered being released. Otherwise frames are buffered, in order.
    """

    def __init__(self, conn: Connection, stream: str, member: Member) -> None:
        self.conn = conn
        self.stream = stream
        self.member = member
        self.replaying = True
        self.suspended = 0  # pending access re-checks
        self.releasing = False
        self.live = False
        self.buffer: list[tuple[int | None, str]] = []
        self.last_seq = 0
        self.active = True

    def push_event_now(self, seq: int, wire: bytes) -> bool:
        """The fast path: the next seq of a live subscription, straight to the socket."""
        write = self.conn.write_direct
        if self.live and seq == self.last_seq + 1 and write is not None and write(wire):
            self.last_seq = seq
            return True
        return False

    async def push_event(self, seq: int, frame: str, wire: bytes | None = None) -> None:
        if not self.active:
            return
        if not self.live:
            self.buffer.append((seq, frame))
            return
        await self._send_event(seq, frame, wire)

    async def push_other(self, frame: str) -> None:
        if not self.active:
            return
        if not self.live:
            self.buffer.append((None, frame))
            return
        await self.conn.send_raw(frame)

    def deactivate(self) -> None:
        """Nothing more is delivered; whatever was buffered is dropped."""
        self.active = False
        self.live = False
        self.buffer.clear()

    def suspend(self) -> None:
        """Hold every frame from now on until ``resume`` (an access re-check is pending)."""
        self.suspended += 1
        self.live = False

    async def resume(self) -> None:
        self.suspended = max(0, self.suspended - 1)
        await self._release_buffer()

    async def _send_event(self, seq: int, frame: str, wire: bytes | None = None) -> None:
        if seq <= self.last_seq:
            return
        if seq != self.last_seq + 1:
            # Never deliver out of order: hand the client back to replay.
            logger.error(
                "gap on %s for %s: %s after %s", self.stream, self.conn.conn_id, seq, self.last_seq
            )
            self.deactivate()
            await self.conn.subscription_lost(self.stream, "gap")
            return
        self.last_seq = seq
        if wire is None:
            await self.conn.send_raw(frame)
        else:
            await self.conn.send_wire(frame, wire)

    async def go_live(self, replayed_to: int) -> None:
        """After replay and ``caught_up``: release buffered frames, then go live."""
        self.last_seq = replayed_to
        self.replaying = False
        await self._release_buffer()

    async def _release_buffer(self) -> None:
        if self.releasing:
            return  # the running release picks up whatever arrives
        self.releasing = True
        try:
            while self.active and not self.replaying and not self.suspended:
                if not self.buffer:
                    # No await between the empty check and this: nothing slips in.
                    self.live = True
                    return
                batch, self.buffer = self.buffer, []
                for i, (seq, frame) in enumerate(batch):
                    if not self.active:
                        return
                    if self.suspended:
                        self.buffer[:0] = batch[i:]  # resume() releases the rest
                        return
                    if seq is None:
                        await self.conn.send_raw(frame)
                    else:
                        await self._send_event(seq, frame)
        finally:
            self.releasing = False


class Feed:
    """A worker's ordered, gap-free view of one stream's live events."""

    def __init__(self, hub: RealtimeHub, stream: str) -> None:
        self.hub = hub
        self.stream = stream
        self.channel = stream_channel(stream)
        self.subs: dict[str, Subscription] = {}
        self.head = -1  # unknown until open() has read it
        self.early: list[tuple[int, str]] = []
        self.pending: dict[int, str] = {}
        self.lock = asyncio.Lock()
        self.open_task: asyncio.Task[None] | None = None
        self.fill_task: asyncio.Task[None] | None = None
        self.linger: asyncio.TimerHandle | None = None
        self.behind_since: float | None = None
        self.subscribed = False  # holds a transport reference (released by the hub)

    async def open(self) -> None:
        # Subscribe first (confirmed by the bus), then read the head: every event
        # after the head is published after we listen, so none can be missed.
        await self.hub.transport.subscribe(self.channel)
        self.subscribed = True  # no await since subscribe returned: nothing can slip in
        head = await db(stream_head)(self.stream)
        async with self.lock:
            self.head = head
            early, self.early = self.early, []
            for seq, frame in sorted(early):
                await self._accept(seq, frame)

    async def on_event(self, seq: int, frame: str) -> None:
        if self.head < 0:
            self.early.append((seq, frame))
            return
        async with self.lock:
            await self._accept(seq, frame)

    async def _accept(self, seq: int, frame: str) -> None:
        if seq <= self.head or seq in self.pending:
            return
        if seq != self.head + 1:
            self.pending[seq] = frame
            self.schedule_fill(GAP_GRACE)
            return
        await self._deliver(seq, frame)
        while self.head + 1 in self.pending:
            nxt = self.head + 1
            await self._deliver(nxt, self.pending.pop(nxt))

    async def _deliver(self, seq: int, frame: str) -> None:
        self.head = seq
        self.behind_since = None
        if not self.subs:
            return
        wire = text_frame(frame.encode("utf-8"))  # one frame's bytes for every socket
        # A plain loop (not gather): cheaper, and keeps each socket's order. Each
        # write stands alone: one broken socket must not stop the others.
        for sub in list(self.subs.values()):
            try:
                if not sub.push_event_now(seq, wire):
                    await sub.push_event(seq, frame, wire)
            except Exception:
                logger.exception("delivery to %s failed", sub.conn.conn_id)

    def schedule_fill(self, delay: float, upto: int | None = None) -> None:
        if self.fill_task is None or self.fill_task.done():
            self.fill_task = asyncio.create_task(self._fill(delay, upto))

    async def _fill(self, delay: float, upto: int | None) -> None:
        await asyncio.sleep(delay)
        while True:
            target = upto if upto is not None else (max(self.pending) if self.pending else None)
            if target is None or self.head < 0 or target <= self.head:
                return
            frames = await db(frames_between)(self.stream, after=self.head, upto=target)
            if not frames:
                return
            async with self.lock:
                for seq, frame in frames:
                    await self._accept(seq, frame)

    def close(self) -> None:
        for task in (self.open_task, self.fill_task):
            if task is not None and not task.done():
                task.cancel()
        if self.linger is not None:
            self.linger.cancel()


class RealtimeHub:
    """Process-wide: feeds, connections, presence and control messages."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.worker_id = uuid.uuid4().hex[:8]
        self._ids = itertools.count(1)
        self.redis_url: str | None = settings.REDIS_URL
        self.prefix: str = settings.HUB_REDIS_PREFIX
        self.transport: Transport = (
            RedisTransport(self.redis_url) if self.redis_url else LocalTransport()
        )
        self.presence: PresenceStore = LocalPresence()
        self.feeds: dict[str, Feed] = {}
        self.conns: dict[str, Connection] = {}
        self.by_user: dict[int, set[str]] = defaultdict(set)
        self.memberships: dict[str, dict[str, Member]] = defaultdict(
            dict
        )  # stream -> conn -> member
        self.healthy = False
        self.state_reason = "starting"
        self.outages = 0  # times the bus was lost (a comeback after one catches up)
        self.comeback: asyncio.Task[None] | None = None
        self.start_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_presence: dict[str, str] = {}
        self._online: dict[str, tuple[float, dict[str, list[OnlineUser]]]] = {}
        self._presence_due: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._recheck_slots = asyncio.Semaphore(RECHECK_CONCURRENCY)
        self._pair_cursor = 0

    # --- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        await self.transport.start(self._on_message, self._on_state)
        if isinstance(self.transport, RedisTransport) and self.transport.client is not None:
            self.presence = RedisPresence(self.transport.client, self.prefix)
        self._tasks = [
            asyncio.create_task(self._sweep_forever(), name="hub-sweeper"),
            asyncio.create_task(self._heartbeat_forever(), name="hub-heartbeat"),
            asyncio.create_task(self._recheck_forever(), name="hub-recheck"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for feed in list(self.feeds.values()):
            self._close_feed(feed)
        self.feeds.clear()
        for task in list(self._background):
            task.cancel()
        await self.transport.stop()

    def new_conn_id(self) -> str:
        return f"{self.worker_id}-{next(self._ids)}"

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """A background task the hub keeps a reference to (and cancels on stop)."""
        task = self.loop.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _on_state(self, healthy: bool, reason: str) -> None:
        self.healthy = healthy
        self.state_reason = reason
        if not healthy:
            # Sockets and feeds stay: the sweeper feeds them from the database
            # until the bus is back (see the module's docstring).
            self.outages += 1
            logger.error(
                "live feed lost (%s): %d sockets kept, fed from the database every %.0f s",
                reason,
                len(self.conns),
                SWEEP_INTERVAL,
            )
            return
        if self.outages:
            self.comeback = self.spawn(self.after_outage(), name="hub-after-outage")

    async def after_outage(self) -> None:
        """The bus is back. What it did not carry meanwhile comes from the record
        at once; the presence store (empty after a Redis restart) is written again;
        every socket is re-checked (control messages sent meanwhile are lost)."""
        for step in (partial(self.sweep, at_once=True), self.heartbeat, self.recheck_connections):
            try:
                await step()
            except Exception:
                logger.exception("catching up after the outage failed")

    def _close_feed(self, feed: Feed) -> None:
        feed.close()
        if feed.subscribed:
            feed.subscribed = False
            self.transport.unsubscribe(feed.channel)

    # --- connections ------------------------------------------------------------

    async def register(self, conn: Connection, *, limit: int) -> bool:
        if not await self.presence.open_connection(conn.user_id, conn.conn_id, limit):
            return False
        self.conns[conn.conn_id] = conn
        self.by_user[conn.user_id].add(conn.conn_id)
        return True

    def forget(
        self, conn: Connection, subscriptions: Iterable[Subscription]
    ) -> list[tuple[str, Member]]:
        """Drop the connection from every local structure at once (synchronous).

        Returns the presence entries it held, for ``release_remote``.
        """
        members = []
        for sub in list(subscriptions):
            member = self.detach(sub)
            if member is not None:
                members.append((sub.stream, member))
        self.conns.pop(conn.conn_id, None)
        ids = self.by_user.get(conn.user_id)
        if ids is not None:
            ids.discard(conn.conn_id)
            if not ids:
                del self.by_user[conn.user_id]
        return members

    async def release_remote(
        self, user_id: int, conn_id: str, members: list[tuple[str, Member]]
    ) -> None:
        """Presence and the connection count: Redis round trips (or local, instantly)."""
        for stream, member in members:
            try:
                await self.presence.leave(stream, member)
            except Exception:
                logger.warning("presence leave failed for %s", stream, exc_info=True)
            self.schedule_presence(stream)
        try:
            await self.presence.close_connection(user_id, conn_id)
        except Exception:
            logger.warning("could not release connection %s", conn_id, exc_info=True)

    async def unregister(self, conn: Connection, subscriptions: Iterable[Subscription]) -> None:
        members = self.forget(conn, subscriptions)
        if self.healthy or not self.presence.remote:
            await self.release_remote(conn.user_id, conn.conn_id, members)
        # else: Redis is down; its entries expire within presence.TTL on their own.

    def release_later(self, conn: Connection, subscriptions: Iterable[Subscription]) -> None:
        """``unregister`` from a place that cannot await (a cancelled consumer)."""
        members = self.forget(conn, subscriptions)
        if self.healthy or not self.presence.remote:
            self.spawn(self.release_remote(conn.user_id, conn.conn_id, members))

    # --- subscriptions ----------------------------------------------------------

    async def subscribe(self, sub: Subscription) -> None:
        """Join the stream's feed (opening it if needed) before any replay."""
        if not self.healthy:
            raise LiveFeedUnavailable(self.state_reason)
        feed = self.feeds.get(sub.stream)
        if feed is None:
            feed = Feed(self, sub.stream)
            self.feeds[sub.stream] = feed
            feed.open_task = asyncio.create_task(feed.open())
        if feed.linger is not None:
            feed.linger.cancel()
            feed.linger = None
        feed.subs[sub.conn.conn_id] = sub
        try:
            assert feed.open_task is not None
            await asyncio.shield(feed.open_task)
        except BaseException:
            if feed.subs.get(sub.conn.conn_id) is sub:
                del feed.subs[sub.conn.conn_id]
            if self.feeds.get(sub.stream) is feed and not feed.subs:
                self._close_feed(feed)
                del self.feeds[sub.stream]
            raise

    def detach(self, sub: Subscription) -> Member | None:
        """End a subscription locally, at once; returns its presence entry if it had one."""
        sub.deactivate()
        feed = self.feeds.get(sub.stream)
        if feed is not None and feed.subs.get(sub.conn.conn_id) is sub:
            del feed.subs[sub.conn.conn_id]
            if not feed.subs and feed.linger is None:
                feed.linger = self.loop.call_later(FEED_LINGER, self._drop_if_idle, sub.stream)
        by_conn = self.memberships.get(sub.stream)
        member = None
        if by_conn is not None and by_conn.get(sub.conn.conn_id) is sub.member:
            member = by_conn.pop(sub.conn.conn_id)
            if not by_conn:
                del self.memberships[sub.stream]
        return member

    async def unsubscribe(self, sub: Subscription) -> None:
        member = self.detach(sub)
        if member is not None:
            try:
                await self.presence.leave(sub.stream, member)
            except Exception:
                logger.warning("presence leave failed for %s", sub.stream, exc_info=True)
            self.schedule_presence(sub.stream)

    def _drop_if_idle(self, stream: str) -> None:
        feed = self.feeds.get(stream)
        if feed is None:
            return
        feed.linger = None
        if feed.subs:
            return
        del self.feeds[stream]
        self._close_feed(feed)

    # --- presence and typing ----------------------------------------------------

    async def join_presence(self, sub: Subscription) -> None:
        if not sub.active:
            return
        self.memberships[sub.stream][sub.conn.conn_id] = sub.member
        await self.presence.join(sub.stream, sub.member)
        # The newcomer sees who is here (themselves included) at once; the
        # others hear of them in the next coalesced broadcast. Within
        # PRESENCE_FRESH of the last read, that read (plus the newcomer) answers;
        # any change since then reaches them in the broadcasts that follow.
        cached = self._online.get(sub.stream)
        if cached is not None and self.loop.time() - cached[0] < PRESENCE_FRESH:
            online = with_member(cached[1], sub.member)
        else:
            online = await self.online_now(sub.stream)
        await sub.push_other(encode(Presence(type="presence", stream=sub.stream, online=online)))
        self.schedule_presence(sub.stream)

    async def online_now(self, stream: str) -> dict[str, list[OnlineUser]]:
        """Who is on ``stream``, read from the presence store (and kept for newcomers)."""
        online = await self.presence.online(stream)
        self._online[stream] = (self.loop.time(), online)
        return online

    def schedule_presence(self, stream: str) -> None:
        """Broadcast the stream's presence soon, once for a burst of joins and leaves.

        A reconnect storm of N sockets would otherwise send N presence frames to
        each of N sockets; coalesced and deduplicated, it sends a few.
        """
        if stream in self._presence_due:
            return
        self._presence_due.add(stream)
        self.loop.call_later(PRESENCE_DEBOUNCE, self._presence_now, stream)

    def _presence_now(self, stream: str) -> None:
        self._presence_due.discard(stream)
        self.spawn(self.broadcast_presence(stream))

    async def broadcast_presence(self, stream: str) -> None:
        try:
            online = await self.online_now(stream)
        except Exception:
            logger.warning("presence read failed for %s", stream, exc_info=True)
            return
        frame = encode(Presence(type="presence", stream=stream, online=online))
        if self._last_presence.get(stream) == frame:
            return  # nobody's view changes: agencies and users, not sockets, are shown
        await self.transport.publish(stream_channel(stream), f"P\n{frame}")

    async def broadcast_typing(self, stream: str, sender: str, frame: str) -> None:
        await self.transport.publish(stream_channel(stream), f"T{sender}\n{frame}")

    # --- the bus ------------------------------------------------------------------

    async def _on_message(self, channel: str, message: str) -> None:
        if channel == control_channel():
            self._on_control(message)
            return
        stream = stream_from_channel(channel)
        feed = self.feeds.get(stream) if stream else None
        if feed is None:
            return
        header, frame = parse_stream_message(message)
        if header.startswith("E"):
            try:
                seq = int(header[1:])
            except ValueError:
                logger.warning("malformed event header on %s: %r", channel, header[:20])
                return
            await feed.on_event(seq, frame)
            return
        if header == NOTICE_HEADER:
            self._on_incident_notice(feed, frame)
            return
        if header == "P":
            if self._last_presence.get(feed.stream) == frame:
                return
            self._last_presence[feed.stream] = frame
            self._online.pop(feed.stream, None)  # someone's view changed: read anew
        sender = header[1:] if header.startswith("T") else None
        for sub in list(feed.subs.values()):
            if sender is not None and sub.conn.conn_id == sender:
                continue
            try:
                await sub.push_other(frame)
            except Exception:
                logger.exception("delivery to %s failed", sub.conn.conn_id)

    def _on_control(self, message: str) -> None:
        """Apply a control message without awaiting anything (the reader must not stall).

        Closes and suspensions happen here, synchronously, so no event published
        after the change is written to an affected socket; the database work runs
        in background tasks.
        """
        try:
            data = json.loads(message)
        except ValueError:
            logger.warning("malformed control message ignored")
            return
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        if kind == MENTION_NOTICE:
            self._on_mention_notice(data)
        elif kind == "access_changed":
            user_id = data.get("user_id")
            for conn_id in list(self.by_user.get(user_id, ())) if isinstance(user_id, int) else []:
                conn = self.conns.get(conn_id)
                if conn is None or conn.closing:
                    continue
                ends_it = (
                    data.get("close_all")
                    or (data.get("session_key") and data.get("session_key") == conn.session_key)
                    or (data.get("token_id") and data.get("token_id") == conn.token_id)
                )
                if ends_it:
                    self.close_soon(conn, CloseCode.UNAUTHENTICATED, str(data.get("reason", "")))
                else:
                    self.schedule_recheck(conn)
        elif kind == "stream_access_changed":
            stream = data.get("stream")
            if not isinstance(stream, str):
                return
            affected: dict[str, list[Subscription]] = defaultdict(list)
            feeds = [self.feeds.get(stream)]
            if stream.startswith("incident:"):
                # An operation's readers include its incident's readers: re-check
                # every operation stream (visibility changes are rare).
                feeds += [f for name, f in self.feeds.items() if name.startswith("operation:")]
            for feed in feeds:
                for sub in list(feed.subs.values()) if feed is not None else []:
                    affected[sub.conn.conn_id].append(sub)
            for conn_id, subs in affected.items():
                conn = self.conns.get(conn_id)
                if conn is not None and not conn.closing:
                    self.schedule_recheck(conn, subs)

    # --- notices ------------------------------------------------------------------

    def _on_incident_notice(self, feed: Feed, data: str) -> None:
        """An incident at this crossing point changed: tell this worker's subscribers
        of the point who can read it (checked in the background, never on the reader)."""
        try:
            notice = NOTICE.validate_json(data)
        except ValueError:
            logger.warning("malformed incident notice on %s ignored", feed.stream)
            return
        if not isinstance(notice, IncidentNotice) or not feed.subs:
            return
        self.spawn(self._deliver_incident_notice(feed.stream, notice))

    async def _deliver_incident_notice(self, stream: str, notice: IncidentNotice) -> None:
        feed = self.feeds.get(stream)
        users = sorted({sub.conn.user_id for sub in feed.subs.values()}) if feed else []
        if not users:
            return
        try:
            # Fresh grants and incident facts, read after the change committed.
            readers = await db(readers_among)(notice.stream, users)
        except Exception:
            logger.exception("checking who may see a notice of %s failed", notice.stream)
            return
        frame = encode(notice)
        feed = self.feeds.get(stream)
        for sub in list(feed.subs.values()) if feed else []:
            if sub.conn.user_id not in readers:
                continue  # joined meanwhile (not checked) or may not read the incident
            try:
                # Through the subscription: held while its access is being re-checked.
                await sub.push_other(frame)
            except Exception:
                logger.exception("delivery to %s failed", sub.conn.conn_id)

    def _on_mention_notice(self, data: dict[str, Any]) -> None:
        """A message mentions these users: tell every local socket of theirs."""
        recipients = data.get("recipients")
        if not isinstance(recipients, list):
            return
        try:
            notice = NOTICE.validate_python(data.get("notice"))
        except ValueError:
            logger.warning("malformed mention notice ignored")
            return
        if not isinstance(notice, MentionNotice):
            return
        local = sorted(
            {u for u in recipients if isinstance(u, int) and not isinstance(u, bool)}
            & set(self.by_user)
        )
        if local:
            self.spawn(self._deliver_mention_notice(notice, local))

    async def _deliver_mention_notice(self, notice: MentionNotice, users: list[int]) -> None:
        try:
            readers = await db(readers_among)(notice.stream, users)
        except Exception:
            logger.exception("checking who may see a mention in %s failed", notice.stream)
            return
        frame = encode(notice)
        for user_id in sorted(readers):
            for conn_id in sorted(self.by_user.get(user_id, ())):
                conn = self.conns.get(conn_id)
                if conn is None or conn.closing:
                    continue
                try:
                    await conn.send_raw(frame)
                except Exception:
                    logger.exception("delivery to %s failed", conn_id)

    def close_soon(self, conn: Connection, code: int, reason: str) -> None:
        conn.stop_deliveries()  # at once: nothing more reaches it
        self.spawn(conn.close_with(code, reason))

    def schedule_recheck(
        self, conn: Connection, subs: Iterable[Subscription] | None = None
    ) -> asyncio.Task[Any]:
        """Suspend ``subs`` (all of the socket's by default) now; re-check in the background."""
        held = list(conn.subs.values()) if subs is None else list(subs)
        for sub in held:
            sub.suspend()
        conn.recheck_requested += 1
        return self.spawn(self._recheck(conn, held))

    async def _recheck(self, conn: Connection, held: list[Subscription]) -> None:
        try:
            async with self._recheck_slots:
                if not conn.closing:
                    await conn.recheck_access()
        except Exception:
            logger.exception("re-checking %s failed", conn.conn_id)
        finally:
            for sub in held:
                try:
                    await sub.resume()  # dropped ones are inactive: their buffer is gone
                except Exception:
                    logger.exception("resuming %s on %s failed", sub.stream, conn.conn_id)

    # --- background ---------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweep failed")
            if not self.healthy:
                # No control message can arrive: re-check every socket each sweep.
                try:
                    await self.recheck_connections()
                except Exception:
                    logger.exception("re-check during the outage failed")

    async def sweep(self, *, at_once: bool = False) -> None:
        """Reconcile feeds with the database: fill anything the bus did not bring.

        A feed behind the record is filled on the second sweep that finds it
        behind (the notification may be in flight), or on the first one with
        ``at_once`` or while the bus is down.
        """
        at_once = at_once or not self.healthy
        feeds = [f for f in self.feeds.values() if f.head >= 0]
        if not feeds:
            return
        # What each feed had delivered *before* the database read: the record's
        # head can only be behind that if the record went back. (Compared with the
        # feed's head after the read, events delivered meanwhile would look like it.)
        delivered = {feed.stream: feed.head for feed in feeds}
        heads = await db(stream_heads)([f.stream for f in feeds])
        now = time.monotonic()
        for feed in feeds:
            if heads.get(feed.stream, 0) < delivered[feed.stream]:
                if self.feeds.get(feed.stream) is feed:
                    await self._rewound(feed, heads.get(feed.stream, 0))
            elif heads.get(feed.stream, 0) > feed.head:
                # Behind on two sweeps in a row: the notification is not in flight.
                if at_once or (
                    feed.behind_since is not None and now - feed.behind_since >= SWEEP_INTERVAL / 2
                ):
                    feed.schedule_fill(0, upto=heads[feed.stream])
                elif feed.behind_since is None:
                    feed.behind_since = now
            else:
                feed.behind_since = None

    async def _rewound(self, feed: Feed, head: int) -> None:
        """The record's head is behind what this feed delivered: the database was
        restored (or replaced). Nothing the feed holds can be trusted to continue
        from: end it, and send its subscribers back to the record
        (``resync_required``, ``ahead_of_stream``: drop what you hold beyond the head)."""
        logger.error(
            "stream %s went back in the record from seq %s to %s (database restored?); "
            "its live subscribers must resync",
            feed.stream,
            feed.head,
            head,
        )
        del self.feeds[feed.stream]
        self._close_feed(feed)
        for sub in list(feed.subs.values()):
            sub.deactivate()
            try:
                await sub.conn.subscription_lost(feed.stream, "ahead_of_stream")
            except Exception:
                logger.exception("resync of %s failed", sub.conn.conn_id)

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(recheck_interval())
            try:
                await self.recheck_connections()
            except Exception:
                logger.exception("periodic access re-check failed")

    async def recheck_connections(self) -> None:
        """Re-check every local socket in one batch (control messages may be lost).

        One database call for all sockets: who is still signed in (users,
        sessions, tokens), every user's grants, and a rolling window of
        (socket, stream) pairs. Signed-out sockets close with 4401; a socket whose
        grants changed, or with a stream it may no longer read, is re-checked
        (suspended meanwhile) like after a control message.
        """
        conns = {c.conn_id: c for c in self.conns.values() if not c.closing}
        if not conns:
            return
        refs = [
            ConnectionRef(c.conn_id, c.user_id, c.session_key, c.token_id) for c in conns.values()
        ]
        pairs = self._next_pairs(conns)
        result = await db(connections_recheck)(refs, pairs)
        for conn_id, conn in conns.items():
            if conn.closing or self.conns.get(conn_id) is not conn:
                continue
            if conn_id in result.signed_out:
                self.close_soon(conn, CloseCode.UNAUTHENTICATED, "signed out")
            elif result.access.get(conn.user_id) != conn.access:
                self.schedule_recheck(conn)
        for conn_id, stream in result.unreadable:
            conn = conns[conn_id]
            sub = conn.subs.get(stream)
            if sub is not None and not conn.closing:
                self.schedule_recheck(conn, [sub])

    def _next_pairs(self, conns: dict[str, Connection]) -> list[tuple[str, str]]:
        every = sorted((cid, s) for cid, c in conns.items() for s in c.subs)
        budget = recheck_streams_budget()
        if not every or budget <= 0:
            return []
        if len(every) <= budget:
            return every
        start = self._pair_cursor % len(every)
        self._pair_cursor = start + budget
        window = every[start : start + budget]
        return window + every[: budget - len(window)]

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            if not self.healthy and self.presence.remote:
                continue  # Redis is down; after_outage() writes everything again
            try:
                await self.heartbeat()
            except Exception:
                logger.warning("presence heartbeat failed", exc_info=True)

    async def heartbeat(self) -> None:
        """Refresh this worker's presence entries and connection counts, and the
        local sockets' view of who is online."""
        members = [
            (stream, member)
            for stream, by_conn in self.memberships.items()
            for member in by_conn.values()
        ]
        conns = [(c.user_id, c.conn_id) for c in self.conns.values()]
        await self.presence.heartbeat(members, conns)
        # Workers that died without leaving age out; refresh local views.
        for stream in list(self.memberships):
            online = await self.online_now(stream)
            frame = encode(Presence(type="presence", stream=stream, online=online))
            if self._last_presence.get(stream) != frame:
                self._last_presence[stream] = frame
                feed = self.feeds.get(stream)
                for sub in list(feed.subs.values()) if feed else []:
                    await sub.push_other(frame)


_hub: RealtimeHub | None = None


async def get_hub() -> RealtimeHub:
    """This process's hub, started on first use (one per event loop)."""
    global _hub
    loop = asyncio.get_running_loop()
    hub = _hub
    if hub is None or hub.loop is not loop:
        if hub is not None and isinstance(hub.transport, LocalTransport):
            # A hub of a finished loop (tests): detach it from the in-process bus.
            from hub.events.bus import local_bus

            local_bus().remove_listener(hub.transport._listener)
        hub = RealtimeHub(loop)
        _hub = hub
        hub.start_task = loop.create_task(hub.start())
    assert hub.start_task is not None
    await asyncio.shield(hub.start_task)
    return hub


def current_hub() -> RealtimeHub | None:
    return _hub


async def reset_hub() -> None:
    """Stop this process's hub (tests use it between event loops)."""
    global _hub
    hub, _hub = _hub, None
    if hub is not None and hub.loop is asyncio.get_running_loop():
        await hub.stop()
    await asyncio.get_running_loop().run_in_executor(None, close_pool_connections)
