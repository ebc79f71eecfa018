"""The WebSocket consumer at /ws/: parse, authorize, call one service or selector, reply.

One consumer per socket holds the connection's life cycle. Live deliveries do
not pass through it: the process hub writes event frames straight to this
socket's ASGI ``send`` (see ``hub.realtime.hub``). Every client frame is size-
checked, rate-limited, parsed against the protocol, and authorized afresh: the
user, their session or token are read from the database for each valid frame
(one query), so a sign-out is honoured even if its control message was lost.

Invariants:
- Whatever ends the consumer (a disconnect, a close, Daphne cancelling it after
  ``application_close_timeout``), it leaves the hub: ``__call__`` releases in a
  ``finally``.
- A close frame is sent before any Redis clean-up, which is skipped while Redis
  is down (its entries expire).
- ``self.access`` only ever moves to a snapshot read later than the one it holds
  (tickets), and a subscription authorized before an access re-check was
  requested is verified again before it goes live.
- A socket whose server-side send buffer exceeds ``HUB_WS_MAX_SEND_BUFFER``
  (Daphne only) is closed with 4508: clients resume from their last seq.
- ``read`` frames write at most one read marker per stream every
  ``READ_INTERVAL`` seconds; the highest seq held back is written when the
  window ends, by the next ``read`` after it, on unsubscribe or when the socket
  goes (in the hub's background, after a fresh sign-in check): never lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import redis
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from pydantic import ValidationError

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.selectors import access_for
from hub.errors import HubError, InvalidInput, NotFound
from hub.events.selectors import stream_head
from hub.realtime import protocol as p
from hub.realtime.admission import release_setup
from hub.realtime.db import db
from hub.realtime.hub import RealtimeHub, Subscription, get_hub
from hub.realtime.presence import Member
from hub.realtime.selectors import (
    connection_recheck,
    pending_alerts_frame,
    replay_page,
    seen_state_frame,
    signed_in_user,
    stream_readable_now,
    subscription_start,
)
from hub.realtime.services import (
    alert_ack_from_socket,
    as_signed_in,
    message_send_from_socket,
    read_mark_deferred,
    read_mark_from_socket,
)
from hub.realtime.transport import LiveFeedUnavailable
from hub.realtime.wire import (
    BufferProbe,
    CloseFrameSender,
    DirectWrite,
    close_frame_sender,
    direct_writer,
    send_buffer_probe,
)

logger = logging.getLogger(__name__)

TYPING_INTERVAL = 2.0
READ_INTERVAL = 2.0  # seconds between read-marker writes per stream per connection
REPLAY_STALL = 30.0  # seconds a replay waits for a send buffer that does not drain at all


def max_send_buffer() -> int:
    return int(settings.HUB_WS_MAX_SEND_BUFFER)


def read_clock() -> float:
    """The clock of the read-marker rate limit (a function, so tests can move it)."""
    return time.monotonic()


class TokenBucket:
    """Per-connection rate limit: ``rate`` frames/s on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class ReadWindow:
    """One stream's read-marker writes on one connection: at most one per
    ``READ_INTERVAL``; the highest seq sent meanwhile waits in ``pending`` and is
    written when the window ends (or by the next frame after it, or on close)."""

    written_at: float = float("-inf")
    pending: int | None = None
    timer: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class HubConsumer(AsyncWebsocketConsumer):
    # Deliveries bypass the channel layer (no per-consumer channel or queue):
    # an alias that names no layer makes Channels skip it entirely.
    channel_layer_alias = "__deliveries_bypass_the_channel_layer__"

    hub: RealtimeHub
    conn_id: str = ""
    user_id: int = 0
    session_key: str | None = None
    token_id: int | None = None
    write_direct: DirectWrite | None = None
    closing = False  # nothing more is written (a close is on its way)
    close_started = False
    registered = False
    recheck_requested = 0  # bumped by the hub, synchronously, for every re-check it asks

    # --- connection life cycle -------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Daphne cancels a consumer still busy application_close_timeout seconds
            # after the disconnect (a long replay): disconnect() never runs then.
            self._release_now()

    async def connect(self) -> None:
        self.subs: dict[str, Subscription] = {}
        self.typing_at: dict[str, float] = {}
        self.reads: dict[str, ReadWindow] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tickets = 0
        self._access_ticket = -1
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.accept()
            await self.close(code=p.CloseCode.UNAUTHENTICATED)
            self.closing = self.close_started = True
            return
        self.user: User = user
        self.user_id = user.pk
        self.token_id = self.scope.get("api_token_id")
        session = self.scope.get("session")
        self.session_key = None if self.token_id else getattr(session, "session_key", None)
        self.bucket = TokenBucket(settings.HUB_WS_RATE, settings.HUB_WS_BURST)
        server_send = self.scope.get("hub.server_send")
        self.max_buffer = max_send_buffer()
        self.buffer_probe: BufferProbe | None = send_buffer_probe(server_send)
        self.write_direct = direct_writer(
            server_send, max_buffer=self.max_buffer, on_overflow=self._too_slow
        )
        self._close_frame: CloseFrameSender | None = close_frame_sender(server_send)
        self.hub = await get_hub()
        self.conn_id = self.hub.new_conn_id()
        ticket = self._ticket()
        self.access: Access = await db(access_for)(user)
        self._access_ticket = ticket
        await self.accept()
        if not self.hub.healthy:
            await self.close_with(p.CloseCode.LIVE_FEED_UNAVAILABLE, "live feed unavailable")
            return
        try:
            admitted = await self.hub.register(self, limit=settings.HUB_WS_MAX_CONNECTIONS_PER_USER)
        except (redis.RedisError, OSError):
            logger.warning("cannot count %s's connections: Redis unavailable", user.username)
            await self.close_with(p.CloseCode.LIVE_FEED_UNAVAILABLE, "live feed unavailable")
            return
        if not admitted:
            await self.close_with(p.CloseCode.TOO_MANY_CONNECTIONS, "too many connections")
            return
        self.registered = True
        await self.send_frame(
            p.Welcome(
                type="welcome",
                connection_id=self.conn_id,
                user=user.username,
                name=user.display_name,
                agencies=sorted({g.agency_code for g in self.access.grants}),
                server_time=timezone.now(),
                limits=p.Limits(
                    max_frame_bytes=p.MAX_FRAME_BYTES,
                    max_subscriptions=p.MAX_SUBSCRIPTIONS,
                    resync_threshold=p.RESYNC_THRESHOLD,
                    rate_per_second=settings.HUB_WS_RATE,
                    burst=settings.HUB_WS_BURST,
                ),
            )
        )
        # Unacknowledged alerts are re-delivered whenever an officer connects.
        pending = await db(pending_alerts_frame)(self.access)
        if pending.alerts:
            await self.send_frame(pending)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        self._flush_reads()
        await self._release()

    async def _release(self) -> None:
        if self.registered:
            self.registered = False
            subs = list(self.subs.values())
            self.subs.clear()
            await self.hub.unregister(self, subs)

    def _release_now(self) -> None:
        """Leave the hub without awaiting (remote clean-up in the background)."""
        self.closing = True
        self.write_direct = None
        release_setup(self.scope)
        self._flush_reads()
        if self.registered:
            self.registered = False
            subs = list(self.subs.values())
            self.subs.clear()
            self.hub.release_later(self, subs)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _ticket(self) -> int:
        self._tickets += 1
        return self._tickets

    def _adopt_access(self, access: Access, ticket: int) -> None:
        """Keep the newest snapshot: one read later than the one held, never an older one."""
        if ticket > self._access_ticket:
            self.access = access
            self._access_ticket = ticket

    # --- what the hub calls ------------------------------------------------------

    async def send_raw(self, text: str) -> None:
        # Each write stands alone: a socket Daphne has not reaped yet may raise,
        # and that must not stop the loop that is writing to everyone else.
        if self.closing:
            return
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        except Exception:
            logger.debug("send to %s failed; closing it", self.conn_id, exc_info=True)
            self.closing = True
            return
        if self.buffer_probe is not None and self.buffer_probe() > self.max_buffer:
            self._too_slow()

    async def send_wire(self, text: str, wire: bytes) -> None:
        """Send an event frame: its pre-built bytes when the server allows, else ASGI."""
        if self.closing:
            return
        if self.write_direct is not None and self.write_direct(wire):
            return
        await self.send_raw(text)

    async def _drain(self) -> None:
        """Replay reads the record faster than a socket sends: wait for the send
        buffer to come down to half the cap rather than overflow it (a buffer that
        does not shrink at all for ``REPLAY_STALL`` seconds is a stalled client)."""
        probe = self.buffer_probe
        if probe is None:
            return
        size = probe()
        if size <= self.max_buffer // 2:
            return
        loop = asyncio.get_running_loop()
        since = loop.time()
        while not self.closing and size > self.max_buffer // 2:
            await asyncio.sleep(0.01)
            now, smaller = loop.time(), probe()
            if smaller < size:
                since = now
            elif now - since > REPLAY_STALL:
                self._too_slow()
                return
            size = smaller

    def stop_deliveries(self) -> None:
        self.closing = True
        self.write_direct = None

    def _too_slow(self) -> None:
        """The client reads slower than its stream is written: stop, close with 4508."""
        if self.closing:
            return
        logger.warning(
            "%s is too slow (over %s bytes waiting); closing it", self.conn_id, self.max_buffer
        )
        self.stop_deliveries()
        self._spawn(self.close_with(p.CloseCode.TOO_SLOW, "too slow; resume from your last seq"))

    async def close_with(self, code: int, reason: str) -> None:
        """Close now (the frame first), then leave the hub."""
        if self.close_started:
            return
        self.close_started = True
        self.stop_deliveries()
        try:
            await self._send_close(code, reason[:100])
        except Exception:
            logger.debug("close of %s failed", self.conn_id, exc_info=True)
        await self._release()

    async def _send_close(self, code: int, reason: str) -> None:
        if (code != 1000 and not 3000 <= code <= 4999) and self._close_frame is not None:
            # Daphne's ASGI close goes through autobahn's sendClose, which refuses
            # 1009 and 1011; send the frame the way Daphne itself sends 1011.
            self._close_frame(code, reason)
            return
        await self.close(code=code, reason=reason or None)

    async def recheck_access(self) -> None:
        """Re-read sign-in and grants; close, or drop the streams no longer readable.

        Streams subscribed while the database was being asked are checked in a
        further round, so none goes live on an access read before the change.
        """
        checked: set[str] = set()
        while not self.closing:
            streams = [s for s in self.subs if s not in checked]
            ticket = self._ticket()
            ok, access, revoked = await db(connection_recheck)(
                user_id=self.user_id,
                session_key=self.session_key,
                token_id=self.token_id,
                streams=streams,
            )
            if not ok or access is None:
                await self.close_with(p.CloseCode.UNAUTHENTICATED, "signed out")
                return
            self._adopt_access(access, ticket)
            checked.update(streams)
            for stream in revoked:
                await self._drop_subscription(stream, "access_revoked")
            if all(s in checked for s in self.subs):
                return

    async def subscription_lost(
        self, stream: str, reason: Literal["gap", "ahead_of_stream"]
    ) -> None:
        sub = self.subs.get(stream)
        if sub is None or sub.active:
            return  # only a subscription the hub just deactivated
        del self.subs[stream]
        # Off the feed's delivery loop: a database read for the head.
        self._spawn(self._resync_after_loss(sub, reason))

    async def _resync_after_loss(
        self, sub: Subscription, reason: Literal["gap", "ahead_of_stream"]
    ) -> None:
        await self.hub.unsubscribe(sub)
        head = await db(stream_head)(sub.stream)
        await self.send_frame(
            p.ResyncRequired(type="resync_required", stream=sub.stream, head=head, reason=reason)
        )

    # --- inbound frames ----------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            await self._receive(text_data, bytes_data)
        except Exception:
            # Nothing a client sends may take the consumer down: log, answer, carry on.
            logger.exception("frame from %s failed", self.conn_id)
            raw = _parsed(text_data)
            if isinstance(raw, dict) and raw.get("type") == "subscribe":
                # A subscribe that failed part-way (the database went away during its
                # sign-in check or its replay) is no subscription, yet the client has
                # no way to tell and would wait for events forever. Close, so that it
                # reconnects and resumes every stream from its last seq.
                await self.close_with(p.CloseCode.INTERNAL_ERROR, "subscribe failed")
                return
            try:
                await self.send_error(
                    p.ErrorCode.INTERNAL_ERROR,
                    "The server failed on this frame; it has been logged.",
                    _ref_of(raw),
                )
            except Exception:
                await self.close_with(p.CloseCode.INTERNAL_ERROR, "internal error")

    async def _receive(self, text_data: str | None, bytes_data: bytes | None) -> None:
        size = (
            len(text_data.encode("utf-8", "surrogatepass"))
            if text_data is not None
            else len(bytes_data or b"")
        )
        if size > p.MAX_FRAME_BYTES:
            await self.close_with(p.CloseCode.MESSAGE_TOO_BIG, "frame too big")
            return
        if not self.bucket.take():
            await self.close_with(p.CloseCode.RATE_LIMITED, "rate limit exceeded")
            return
        if text_data is None:
            await self.send_error(p.ErrorCode.UNSUPPORTED_FRAME, "Send JSON text frames.")
            return
        try:
            raw = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.send_error(p.ErrorCode.INVALID_JSON, "The frame is not valid JSON.")
            return
        ref = _ref_of(raw)
        kind = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(kind, str) or kind not in p.CLIENT_TYPES:
            await self.send_error(
                p.ErrorCode.UNKNOWN_TYPE,
                f"Unknown frame type {_safe(str(kind))[:40]!r}; expected one of "
                f"{', '.join(sorted(p.CLIENT_TYPES))}.",
                ref,
            )
            return
        try:
            # Strict, from the JSON text: "1" is not a number, true is not an id,
            # and text must be valid Unicode (no lone surrogates).
            frame = p.CLIENT_FRAME.validate_json(text_data, strict=True)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in e['loc'][1:]) or 'frame'}: {e['msg']}"
                for e in exc.errors(include_input=False)[:5]
            )
            await self.send_error(p.ErrorCode.INVALID_FRAME, _safe(problems), ref)
            return
        # Every frame that does something rides on a fresh sign-in check (one
        # query): deactivation, logout, session expiry or token revocation and
        # expiry are honoured even if their control message never arrived. A write
        # makes the check in the same database call as the write (as_signed_in).
        try:
            write = self._write_of(frame)
            if write is not None:
                service, kwargs = write
                done = await db(as_signed_in)(
                    service,
                    user_id=self.user_id,
                    session_key=self.session_key,
                    token_id=self.token_id,
                    **kwargs,
                )
                if done is None:
                    await self.close_with(p.CloseCode.UNAUTHENTICATED, "signed out")
                    return
                self.user, ack = done
                await self.send_frame(ack)
                return
            user = await db(signed_in_user)(
                user_id=self.user_id, session_key=self.session_key, token_id=self.token_id
            )
            if user is None:
                await self.close_with(p.CloseCode.UNAUTHENTICATED, "signed out")
                return
            self.user = user
            await self.dispatch_frame(frame)
        except HubError as exc:
            await self.send_error(exc.code, exc.detail, ref)
        except LiveFeedUnavailable:
            await self.close_with(p.CloseCode.LIVE_FEED_UNAVAILABLE, "live feed unavailable")

    @staticmethod
    def _write_of(frame: Any) -> tuple[Any, dict[str, Any]] | None:
        """The service and arguments of a write frame (answered with an ``ack``)."""
        match frame:
            case p.MessageSend():
                return message_send_from_socket, {
                    "stream": frame.stream,
                    "body": frame.body,
                    "client_msg_id": frame.client_msg_id,
                    "attachments": frame.attachments,
                }
            case p.AlertAck():
                return alert_ack_from_socket, {
                    "alert_id": frame.alert_id,
                    "client_msg_id": frame.client_msg_id,
                    "agency": frame.agency,
                }
        return None

    async def dispatch_frame(self, frame: Any) -> None:
        match frame:
            case p.Subscribe():
                await self.on_subscribe(frame)
            case p.Unsubscribe():
                await self.on_unsubscribe(frame)
            case p.TypingIn():
                await self.on_typing(frame)
            case p.Read():
                await self.on_read(frame)
            case p.Ping():
                await self.send_frame(p.Pong(type="pong"))

    async def on_subscribe(self, frame: p.Subscribe) -> None:
        stream = frame.stream
        if stream not in self.subs and len(self.subs) >= p.MAX_SUBSCRIPTIONS:
            raise HubError(
                f"At most {p.MAX_SUBSCRIPTIONS} subscriptions per connection.",
                code=p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
            )
        requested = self.recheck_requested
        ticket = self._ticket()
        start = await db(subscription_start)(self.user, stream)
        self._adopt_access(start.access, ticket)
        head = start.head
        if frame.after > head or head - frame.after > p.RESYNC_THRESHOLD:
            reason: Literal["ahead_of_stream", "too_far_behind"] = (
                "ahead_of_stream" if frame.after > head else "too_far_behind"
            )
            await self.send_frame(
                p.ResyncRequired(type="resync_required", stream=stream, head=head, reason=reason)
            )
            release_setup(self.scope)  # its catch-up is REST's work, not this socket's
            return
        previous = self.subs.pop(stream, None)
        if previous is not None:
            await self.hub.unsubscribe(previous)
        sub = Subscription(
            self,
            stream,
            Member(self.conn_id, self.user.username, self.user.display_name, start.agencies),
        )
        self.subs[stream] = sub
        try:
            await self.hub.subscribe(sub)  # join the live feed first...
            last = frame.after
            while sub.active:  # ...then replay from the record
                page = await db(replay_page)(self.access, stream, after=last)
                for seq, event_frame in page:
                    await self._drain()
                    await self.send_raw(event_frame)
                    last = seq
                if len(page) < p.REPLAY_PAGE:
                    break
            # A re-check was asked for since we authorized: our grants may predate an
            # access change that re-check did not see this stream for. Verify again,
            # before anything live is released.
            while sub.active and self.recheck_requested != requested:
                requested = self.recheck_requested
                ticket = self._ticket()
                access, readable = await db(stream_readable_now)(self.user, stream)
                self._adopt_access(access, ticket)
                if not readable and sub.active:
                    await self._drop_subscription(stream, "access_revoked")
        except BaseException:
            if self.subs.get(stream) is sub:
                del self.subs[stream]
            self.hub.detach(sub)
            raise
        if not sub.active:
            return
        await self.send_frame(p.CaughtUp(type="caught_up", stream=stream, seq=last))
        release_setup(self.scope)  # set up: the next socket may start (admission gate)
        await sub.go_live(last)
        await self.hub.join_presence(sub)
        if stream.startswith("crossing:"):
            # ...and whenever they resume a crossing point's feed.
            pending = await db(pending_alerts_frame)(self.access, stream.split(":", 1)[1])
            await self.send_frame(pending)
        elif stream.startswith("incident:"):
            # Through the subscription: held while an access re-check is pending,
            # dropped if it ends the subscription.
            await sub.push_other(p.encode(await db(seen_state_frame)(stream)))

    async def on_unsubscribe(self, frame: p.Unsubscribe) -> None:
        if frame.stream not in self.subs:
            raise HubError(
                "You are not subscribed to this stream.", code=p.ErrorCode.NOT_SUBSCRIBED
            )
        await self._drop_subscription(frame.stream, "requested")

    async def _drop_subscription(
        self, stream: str, reason: Literal["requested", "access_revoked"]
    ) -> None:
        sub = self.subs.pop(stream, None)
        if sub is None:
            return
        window = self.reads.pop(stream, None)
        if window is not None:
            window.cancel()
            if reason == "requested":
                self._write_read_later(stream, window.pending)  # the last position counts
        await self.hub.unsubscribe(sub)
        await self.send_frame(p.Unsubscribed(type="unsubscribed", stream=stream, reason=reason))

    async def on_typing(self, frame: p.TypingIn) -> None:
        sub = self.subs.get(frame.stream)
        if sub is None:
            raise HubError("Subscribe to the stream first.", code=p.ErrorCode.NOT_SUBSCRIBED)
        now = time.monotonic()
        if now - self.typing_at.get(frame.stream, 0.0) < TYPING_INTERVAL:
            return  # typing is ephemeral: the excess is dropped, nothing else ever is
        self.typing_at[frame.stream] = now
        ticket = self._ticket()
        access, readable = await db(stream_readable_now)(self.user, frame.stream)
        self._adopt_access(access, ticket)
        if not readable:
            await self._drop_subscription(frame.stream, "access_revoked")
            raise NotFound("No such stream.")
        out = p.TypingOut(
            type="typing",
            stream=frame.stream,
            user=p.TypingUser(
                user=self.user.username, name=self.user.display_name, agency=sub.member.agency
            ),
        )
        await self.hub.broadcast_typing(frame.stream, self.conn_id, p.encode(out))

    async def on_read(self, frame: p.Read) -> None:
        """Record the read marker now, or, within ``READ_INTERVAL`` of the last write,
        hold the highest seq until the window ends (nothing sent is lost)."""
        if frame.stream not in self.subs:
            raise HubError("Subscribe to the stream first.", code=p.ErrorCode.NOT_SUBSCRIBED)
        window = self.reads.setdefault(frame.stream, ReadWindow())
        seq = frame.seq if window.pending is None else max(window.pending, frame.seq)
        now = read_clock()
        if now - window.written_at < READ_INTERVAL:
            window.pending = seq
            if window.timer is None:
                window.timer = asyncio.get_running_loop().call_later(
                    window.written_at + READ_INTERVAL - now, self._read_window_ended, frame.stream
                )
            return
        window.cancel()
        window.pending = None
        window.written_at = now
        try:
            await db(read_mark_from_socket)(actor=self.user, stream=frame.stream, seq=seq)
        except NotFound:
            await self._drop_subscription(frame.stream, "access_revoked")
            raise

    def _read_window_ended(self, stream: str) -> None:
        window = self.reads.get(stream)
        if window is None:
            return
        window.timer = None
        if window.pending is None or self.closing:
            return  # a closing socket's last position is written by _flush_reads
        seq, window.pending = window.pending, None
        window.written_at = read_clock()
        self._spawn(self._write_read_deferred(stream, seq))

    async def _write_read_deferred(self, stream: str, seq: int) -> None:
        try:
            await db(read_mark_deferred)(
                user_id=self.user_id,
                session_key=self.session_key,
                token_id=self.token_id,
                stream=stream,
                seq=seq,
            )
        except NotFound:
            if stream in self.subs and not self.closing:
                await self._drop_subscription(stream, "access_revoked")
        except Exception:
            logger.exception("writing %s's read marker on %s failed", self.conn_id, stream)

    def _write_read_later(self, stream: str, seq: int | None) -> None:
        """Write a held position in the hub's background (it outlives this socket)."""
        if seq is None or not self.user_id:
            return
        user_id, session_key, token_id = self.user_id, self.session_key, self.token_id

        async def write() -> None:
            try:
                await db(read_mark_deferred)(
                    user_id=user_id,
                    session_key=session_key,
                    token_id=token_id,
                    stream=stream,
                    seq=seq,
                )
            except NotFound:
                pass  # no longer readable: nothing to record
            except Exception:
                logger.exception("writing a read marker on %s failed", stream)

        self.hub.spawn(write())

    def _flush_reads(self) -> None:
        """The socket is going: write every position still held by the rate limit."""
        reads: dict[str, ReadWindow] = getattr(self, "reads", {})
        for stream, window in list(reads.items()):
            window.cancel()
            self._write_read_later(stream, window.pending)
            window.pending = None
        reads.clear()

    # --- outbound helpers --------------------------------------------------------

    async def send_frame(self, frame: p.Frame) -> None:
        await self.send_raw(p.encode(frame))

    async def send_error(self, code: str, detail: str, ref: str | None = None) -> None:
        await self.send_frame(p.ErrorFrame(type="error", code=code, detail=detail, ref=ref))


def _safe(text: str) -> str:
    """Text that can be sent back: lone surrogates a client sent become U+FFFD."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _parsed(text_data: str | None) -> object:
    """The frame's JSON, or None when it has none (for the failure path only)."""
    if text_data is None:
        return None
    try:
        return json.loads(text_data)
    except (ValueError, RecursionError):
        return None


def _ref_of(raw: object) -> str | None:
    """What an error echoes: the frame's client_msg_id, else its stream, else its alert_id."""
    if not isinstance(raw, dict):
        return None
    for key in ("client_msg_id", "stream", "alert_id"):
        value = raw.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return _safe(str(value)[:120])
    return None


__all__ = ["HubConsumer", "InvalidInput", "TokenBucket"]
