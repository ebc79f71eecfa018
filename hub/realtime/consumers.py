"""The WebSocket consumer at /ws/: parse, authorize, call one service or selector, reply.

One consumer per socket holds the connection's life cycle. Live deliveries do
not pass through it: the process hub writes event frames straight to this
socket's ASGI ``send`` (see ``hub.realtime.hub``). Every client frame is size-
checked, rate-limited, parsed against the protocol, and authorized afresh.
"""

from __future__ import annotations

import json
import logging
import time
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
from hub.events.streams import can_read_stream
from hub.realtime import protocol as p
from hub.realtime.db import db
from hub.realtime.hub import RealtimeHub, Subscription, get_hub
from hub.realtime.presence import Member
from hub.realtime.selectors import (
    connection_recheck,
    pending_alerts_frame,
    replay_page,
    subscription_head,
)
from hub.realtime.services import alert_ack_from_socket, message_send_from_socket
from hub.realtime.transport import LiveFeedUnavailable
from hub.realtime.wire import DirectWrite, direct_writer

logger = logging.getLogger(__name__)

TYPING_INTERVAL = 2.0


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

    # --- connection life cycle -------------------------------------------------

    async def connect(self) -> None:
        self.subs: dict[str, Subscription] = {}
        self.typing_at: dict[str, float] = {}
        self.closing = False
        self.registered = False
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.accept()
            await self.close(code=p.CloseCode.UNAUTHENTICATED)
            self.closing = True
            return
        self.user: User = user
        self.user_id = user.pk
        self.token_id = self.scope.get("api_token_id")
        session = self.scope.get("session")
        self.session_key = None if self.token_id else getattr(session, "session_key", None)
        self.session_expiry = (
            None if self.token_id or session is None else session.get_expiry_date()
        )
        self.bucket = TokenBucket(settings.HUB_WS_RATE, settings.HUB_WS_BURST)
        self.write_direct = direct_writer(self.scope.get("hub.server_send"))
        self.hub = await get_hub()
        self.conn_id = self.hub.new_conn_id()
        self.access: Access = await db(access_for)(user)
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
        await self._release()

    async def _release(self) -> None:
        if self.registered:
            self.registered = False
            subs = list(self.subs.values())
            self.subs.clear()
            await self.hub.unregister(self, subs)

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

    async def send_wire(self, text: str, wire: bytes) -> None:
        """Send an event frame: its pre-built bytes when the server allows, else ASGI."""
        if self.closing:
            return
        if self.write_direct is not None and self.write_direct(wire):
            return
        await self.send_raw(text)

    async def close_with(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.write_direct = None
        await self._release()
        try:
            await self.close(code=code, reason=reason[:100] or None)
        except Exception:
            logger.debug("close of %s failed", self.conn_id, exc_info=True)

    async def recheck_access(self) -> None:
        ok, access, revoked = await db(connection_recheck)(
            user_id=self.user_id,
            session_key=self.session_key,
            token_id=self.token_id,
            streams=list(self.subs),
        )
        if not ok or access is None:
            await self.close_with(p.CloseCode.UNAUTHENTICATED, "signed out")
            return
        self.access = access
        for stream in revoked:
            await self._drop_subscription(stream, "access_revoked")

    async def subscription_lost(self, stream: str, reason: str) -> None:
        sub = self.subs.pop(stream, None)
        if sub is not None:
            await self.hub.unsubscribe(sub)
        head = sub.last_seq if sub else 0
        await self.send_frame(
            p.ResyncRequired(type="resync_required", stream=stream, head=head, reason=reason)
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
            try:
                await self.send_error(
                    p.ErrorCode.INTERNAL_ERROR,
                    "The server failed on this frame; it has been logged.",
                )
            except Exception:
                await self.close_with(1011, "internal error")

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
        if self.session_expiry is not None and timezone.now() >= self.session_expiry:
            await self.close_with(p.CloseCode.UNAUTHENTICATED, "session expired")
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
        try:
            await self.dispatch_frame(frame)
        except HubError as exc:
            await self.send_error(exc.code, exc.detail, ref)
        except LiveFeedUnavailable:
            await self.close_with(p.CloseCode.LIVE_FEED_UNAVAILABLE, "live feed unavailable")

    async def dispatch_frame(self, frame: Any) -> None:
        match frame:
            case p.Subscribe():
                await self.on_subscribe(frame)
            case p.Unsubscribe():
                await self.on_unsubscribe(frame)
            case p.MessageSend():
                ack = await db(message_send_from_socket)(
                    actor=self.user,
                    stream=frame.stream,
                    body=frame.body,
                    client_msg_id=frame.client_msg_id,
                )
                await self.send_frame(ack)
            case p.AlertAck():
                ack = await db(alert_ack_from_socket)(
                    actor=self.user, alert_id=frame.alert_id, client_msg_id=frame.client_msg_id
                )
                await self.send_frame(ack)
            case p.TypingIn():
                await self.on_typing(frame)
            case p.Ping():
                await self.send_frame(p.Pong(type="pong"))

    async def on_subscribe(self, frame: p.Subscribe) -> None:
        stream = frame.stream
        if stream not in self.subs and len(self.subs) >= p.MAX_SUBSCRIPTIONS:
            raise HubError(
                f"At most {p.MAX_SUBSCRIPTIONS} subscriptions per connection.",
                code=p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
            )
        self.access = await db(access_for)(self.user)
        head = await db(subscription_head)(self.access, stream)
        if frame.after > head or head - frame.after > p.RESYNC_THRESHOLD:
            reason = "ahead_of_stream" if frame.after > head else "too_far_behind"
            await self.send_frame(
                p.ResyncRequired(type="resync_required", stream=stream, head=head, reason=reason)
            )
            return
        previous = self.subs.pop(stream, None)
        if previous is not None:
            await self.hub.unsubscribe(previous)
        agency = self.access.grants[0].agency_code if self.access.grants else None
        sub = Subscription(
            self, stream, Member(self.conn_id, self.user.username, self.user.display_name, agency)
        )
        self.subs[stream] = sub
        try:
            await self.hub.subscribe(sub)  # join the live feed first...
            last = frame.after
            while sub.active:  # ...then replay from the record
                page = await db(replay_page)(self.access, stream, after=last)
                for seq, event_frame in page:
                    await self.send_raw(event_frame)
                    last = seq
                if len(page) < p.REPLAY_PAGE:
                    break
        except BaseException:
            self.subs.pop(stream, None)
            await self.hub.unsubscribe(sub)
            raise
        if not sub.active:
            return
        await self.send_frame(p.CaughtUp(type="caught_up", stream=stream, seq=last))
        await sub.go_live(last)
        await self.hub.join_presence(sub)
        if stream.startswith("crossing:"):
            # ...and whenever they resume a crossing point's feed.
            pending = await db(pending_alerts_frame)(self.access, stream.split(":", 1)[1])
            await self.send_frame(pending)

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
        self.access = await db(access_for)(self.user)
        if not await db(can_read_stream)(self.access, frame.stream):
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

    # --- outbound helpers --------------------------------------------------------

    async def send_frame(self, frame: p.Frame) -> None:
        await self.send_raw(p.encode(frame))

    async def send_error(self, code: str, detail: str, ref: str | None = None) -> None:
        await self.send_frame(p.ErrorFrame(type="error", code=code, detail=detail, ref=ref))


def _safe(text: str) -> str:
    """Text that can be sent back: lone surrogates a client sent become U+FFFD."""
    return text.encode("utf-8", "replace").decode("utf-8")


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
