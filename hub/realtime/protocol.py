"""The WebSocket protocol at /ws/: every frame, as pydantic models.

Client and server frames are each one discriminated union on ``type``, with
``extra="forbid"``. ``docs/protocol.schema.json`` is generated from this module
(``python -m hub.realtime.protocol > docs/protocol.schema.json``), and the
frontend's TypeScript types are generated from that file; tests fail when
either is stale. ``docs/protocol.md`` explains each frame, error and close code.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from hub.events.types import ActorRef

STREAM = Annotated[
    str, Field(min_length=3, max_length=120, description="e.g. incident:WDH-2026-0001")
]

# Limits (documented in docs/protocol.md).
MAX_FRAME_BYTES = 64 * 1024
MAX_SUBSCRIPTIONS = 200
RESYNC_THRESHOLD = 5000
REPLAY_PAGE = 500
MAX_ATTACHMENTS = 10  # files one message.send may refer to


class CloseCode:
    """WebSocket close codes the server uses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    # 1013 (Try Again Later) moved into the application range: Daphne's WebSocket
    # library (autobahn) refuses to send 1013 and fails the socket with 1011 instead.
    TRY_AGAIN_LATER = 4013
    UNAUTHENTICATED = 4401
    TOO_MANY_CONNECTIONS = 4408
    RATE_LIMITED = 4429
    LIVE_FEED_UNAVAILABLE = 4503
    TOO_SLOW = 4508


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- client → server -----------------------------------------------------------


class Subscribe(Frame):
    """Join a stream's live feed, replaying every event with seq > after first."""

    type: Literal["subscribe"]
    stream: STREAM
    after: int = Field(0, ge=0, le=2**53)


class Unsubscribe(Frame):
    type: Literal["unsubscribe"]
    stream: STREAM


class MessageSend(Frame):
    """Post on an incident channel; acknowledged with ``ack`` (idempotent).

    ``attachments``: ids of the incident's evidence files (uploaded over REST) that the
    message refers to; each must be a served file of this incident."""

    type: Literal["message.send"]
    stream: STREAM
    client_msg_id: UUID
    # Empty only when the message carries attachments (the service says so).
    body: str = Field(max_length=10_000)
    # The limit is checked by a validator, not ``max_length``: a ``maxItems`` in the
    # schema makes the generated TypeScript a union of tuples, not ``number[]``.
    attachments: list[Annotated[int, Field(ge=1, le=2**53)]] = Field(
        default_factory=list,
        description="Ids of the incident's evidence files the message refers to "
        f"(at most {MAX_ATTACHMENTS}).",
    )

    @field_validator("attachments")
    @classmethod
    def _at_most_ten(cls, value: list[int]) -> list[int]:
        if len(value) > MAX_ATTACHMENTS:
            raise ValueError(f"at most {MAX_ATTACHMENTS} files per message")
        return value


class AlertAck(Frame):
    """Acknowledge an alert for your agency; acknowledged with ``ack`` (idempotent).

    An officer of several targeted agencies names the one they acknowledge for
    with ``agency`` (its code); otherwise it is the one agency of theirs that owes it."""

    type: Literal["alert.ack"]
    alert_id: int = Field(ge=1, le=2**53)
    client_msg_id: UUID
    agency: str | None = Field(None, min_length=1, max_length=20)


class TypingIn(Frame):
    """ "I am typing" on a subscribed stream. Rate-limited; excess is dropped."""

    type: Literal["typing"]
    stream: STREAM


class Ping(Frame):
    type: Literal["ping"]


class Read(Frame):
    """ "I have read ``stream`` up to ``seq``" on a subscribed stream: the server
    records your read marker (never lower, at most the head) and tells every
    subscriber (``seen``). At most one write per stream every 2 s per connection;
    the last position sent within that window is written when it ends."""

    type: Literal["read"]
    stream: STREAM
    seq: int = Field(ge=0, le=2**53)


ClientFrame = Annotated[
    Subscribe | Unsubscribe | MessageSend | AlertAck | TypingIn | Read | Ping,
    Field(discriminator="type"),
]
CLIENT_FRAME = TypeAdapter(ClientFrame)
CLIENT_TYPES = frozenset(
    {"subscribe", "unsubscribe", "message.send", "alert.ack", "typing", "read", "ping"}
)


# --- server → client -----------------------------------------------------------


class Limits(Frame):
    max_frame_bytes: int
    max_subscriptions: int
    resync_threshold: int
    rate_per_second: float
    burst: int


class Welcome(Frame):
    """First frame after the handshake."""

    type: Literal["welcome"]
    connection_id: str
    user: str
    name: str
    agencies: list[str]
    server_time: datetime
    limits: Limits


class EventFrame(Frame):
    """One event of a stream, in seq order, never repeated and never with a gap."""

    type: Literal["event"]
    stream: str
    seq: int
    kind: str
    at: datetime
    actor: ActorRef | None
    payload: dict[str, Any]


class CaughtUp(Frame):
    """Replay is over: events up to ``seq`` were sent; live events follow."""

    type: Literal["caught_up"]
    stream: str
    seq: int


class Ack(Frame):
    """A write was recorded as event ``seq`` on ``stream``. Repeats get the same ack."""

    type: Literal["ack"]
    client_msg_id: UUID
    stream: str
    seq: int


class ErrorFrame(Frame):
    """A frame was refused; the connection stays open. ``ref`` echoes the frame's
    client_msg_id or stream when it had one."""

    type: Literal["error"]
    code: str
    detail: str
    ref: str | None = None


class OnlineUser(Frame):
    user: str
    name: str


class Presence(Frame):
    """Who is connected to ``stream`` now, grouped by agency code."""

    type: Literal["presence"]
    stream: str
    online: dict[str, list[OnlineUser]]


class TypingUser(Frame):
    user: str
    name: str
    agency: str | None


class TypingOut(Frame):
    type: Literal["typing"]
    stream: str
    user: TypingUser


class ResyncRequired(Frame):
    """The client is too far behind (or ahead) to replay: fetch a snapshot over
    REST, then subscribe again with ``after`` set to the snapshot's seq.
    ``head`` is the stream's head (its last seq in the record) when this was sent."""

    type: Literal["resync_required"]
    stream: str
    head: int
    reason: Literal["too_far_behind", "ahead_of_stream", "gap"]


class Unsubscribed(Frame):
    """The server ended a subscription (you asked, or your access changed)."""

    type: Literal["unsubscribed"]
    stream: str
    reason: Literal["requested", "access_revoked"]


class Pong(Frame):
    type: Literal["pong"]


class PendingAlert(Frame):
    id: int
    crossing_point: str
    title: str
    severity: str
    exercise: bool
    due_at: datetime | None
    overdue: bool
    agencies: list[str] = Field(description="Your agencies that have yet to acknowledge it.")
    stream: str


class PendingAlerts(Frame):
    """Alerts your agencies have not acknowledged: sent on connect (when there are
    any) and after ``caught_up`` on every ``crossing:`` subscription."""

    type: Literal["pending_alerts"]
    crossing_point: str | None
    alerts: list[PendingAlert]


class OfficerRef(Frame):
    """An officer as others see them: username, display name, and the agency they
    act or read under (null when none applies)."""

    user: str
    name: str
    agency: str | None


class Seen(Frame):
    """``user`` has read ``stream`` up to ``seq`` (their read marker moved). Markers
    never go down: keep the highest ``seq`` per user."""

    type: Literal["seen"]
    stream: str
    user: OfficerRef
    seq: int


class StreamReader(Frame):
    user: str
    name: str
    agency: str | None
    seq: int


class SeenState(Frame):
    """Everyone who can read ``stream`` and has read some of it, with their read
    marker: sent after ``caught_up`` on every ``incident:`` subscription."""

    type: Literal["seen_state"]
    stream: str
    readers: list[StreamReader]


class IncidentNotice(Frame):
    """An incident at ``crossing_point`` changed (reported, agency invited,
    visibility, lead or status): fetch ``GET /api/v1/incidents/{ref}``. Sent to
    sockets subscribed to ``crossing:<crossing_point>`` whose user can read it."""

    type: Literal["notice"]
    kind: Literal["incident"]
    crossing_point: str
    ref: str
    stream: str
    seq: int = Field(description="The event of the incident's stream that caused it.")


class MentionNotice(Frame):
    """A message (event ``seq`` of ``stream``) mentions you or your agency: sent to
    every socket of yours, whatever it is subscribed to."""

    type: Literal["notice"]
    kind: Literal["mention"]
    crossing_point: str
    ref: str
    stream: str
    seq: int
    by: OfficerRef = Field(description="The author, and the agency they posted for.")
    excerpt: str = Field(description="The first 140 characters of the message.")


Notice = Annotated[IncidentNotice | MentionNotice, Field(discriminator="kind")]
NOTICE = TypeAdapter(Notice)


ServerFrame = Annotated[
    Welcome
    | EventFrame
    | CaughtUp
    | Ack
    | ErrorFrame
    | Presence
    | TypingOut
    | ResyncRequired
    | Unsubscribed
    | PendingAlerts
    | Seen
    | SeenState
    | Notice
    | Pong,
    Field(discriminator="type"),
]
SERVER_FRAME = TypeAdapter(ServerFrame)


class ErrorCode:
    INVALID_JSON = "invalid_json"
    INVALID_FRAME = "invalid_frame"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_FRAME = "unsupported_frame"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    NOT_SUBSCRIBED = "not_subscribed"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    INTERNAL_ERROR = "internal_error"


def encode(frame: Frame) -> str:
    return frame.model_dump_json(exclude_none=False)


def _drop_property_titles(node: Any) -> Any:
    """Field titles ("Stream", "Seq") only add noise, and aliases in generated TS."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {
                    name: _drop_property_titles({k: v for k, v in prop.items() if k != "title"})
                    for name, prop in value.items()
                }
            else:
                out[key] = _drop_property_titles(value)
        return out
    if isinstance(node, list):
        return [_drop_property_titles(item) for item in node]
    return node


def json_schema() -> dict[str, Any]:
    """The protocol's JSON Schema: both unions and their frames."""
    client = _drop_property_titles(CLIENT_FRAME.json_schema(ref_template="#/$defs/{model}"))
    server = _drop_property_titles(SERVER_FRAME.json_schema(ref_template="#/$defs/{model}"))
    defs = {**client.pop("$defs", {}), **server.pop("$defs", {})}
    defs["ClientFrame"] = client
    defs["ServerFrame"] = server
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://border-hub.example/protocol.schema.json",
        "title": "BorderHubProtocol",
        "description": "WebSocket frames of the Border Coordination Hub (/ws/).",
        "oneOf": [{"$ref": "#/$defs/ClientFrame"}, {"$ref": "#/$defs/ServerFrame"}],
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - used by make protocol
    sys.stdout.write(schema_text())
