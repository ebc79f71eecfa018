"""Property tests: thousands of arbitrary frames over one WebSocket (Hypothesis).

Every test opens ONE socket (as ``na-imm.duty``, through the full ASGI
application) and sends each generated frame over it, followed by a ``ping``
barrier, so that the frames the server sent in answer are exactly those that
arrive before the ``pong``. The rate limit is raised for the test (the consumer
reads ``HUB_WS_RATE``/``HUB_WS_BURST`` at connect time). Families of frames,
one test each, so that one defect cannot hide the others:

- arbitrary JSON values (``st.recursive``), and objects with the real field
  names (and ``type``) holding arbitrary JSON values;
- objects of every client type with the real field names holding values of the
  wrong type (types that pydantic's lax mode would coerce, such as ``"5"`` or
  ``true`` for an integer, are left to ``test_ws_frames``, which pins them);
- random ``type`` strings; random Unicode text (not necessarily JSON) and
  binary frames; very long strings (up to ~60 KB, under the 64 KiB cap);
- lone surrogates (``"\\ud800"``: valid JSON escapes) in string fields;
- valid frames on real streams (own, readable-only, foreign and closed
  incidents) mixed with invalid ones.

Properties, checked on every frame:

- the consumer never crashes and never closes the socket (an application
  exception fails the example at once, with that exception);
- a frame that is not JSON, has no client ``type`` or is binary gets exactly one
  ``error`` with that code (``invalid_json``, ``unknown_type``,
  ``unsupported_frame``); a frame that breaks the documented schema gets exactly
  one ``error`` with a documented code (``invalid_frame`` where the test built
  the wrong field itself), never ``internal_error``;
- a valid frame gets one of the answers its type allows (typing: possibly none);
- every server frame parses as a ``ServerFrame``; live and replayed events of each
  subscribed stream arrive in seq order with no gap or duplicate;
- the socket stays usable (each barrier ``ping`` is answered), and it is the same
  socket at the end;
- nothing invalid is written: Message rows are exactly those acknowledged to
  valid ``message.send`` frames, every Event payload passes
  ``hub.events.types.validate_payload``, and the only new events are the
  acknowledged messages.

Frames over the cap get a test of their own (``test_oversized_frames_close_1009``):
the answer is the documented close code 1009, on a new socket per example.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from hub.events.models import Event
from hub.events.types import validate_payload
from hub.incidents import services
from hub.incidents.models import Message
from hub.realtime import protocol as p
from hub.realtime.hub import reset_hub
from tests.factories import officer, report, seed
from tests.realtime_support import Socket

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")
Frame = dict[str, Any]

USER = "na-imm.duty"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
# docs/protocol.md, "Error codes": every code a client may see. internal_error is
# documented, but it means the server failed: for client input it is a defect.
DOCUMENTED_ERRORS = frozenset(
    {
        "invalid_json",
        "unknown_type",
        "invalid_frame",
        "unsupported_frame",
        "not_found",
        "forbidden",
        "not_subscribed",
        "too_many_subscriptions",
        "client_msg_id_reused",
        "incident_closed",
        "invalid_request",
        "internal_error",
    }
)
ACCEPTABLE_ERRORS = DOCUMENTED_ERRORS - {"internal_error"}
DOCUMENTED_CLOSE_CODES = frozenset({1000, 1001, 1009, 4013, 4401, 4408, 4429, 4503})
# Frames that are not the answer to a frame: live events, presence, typing, the
# pending alerts that follow ``caught_up`` of a ``crossing:`` stream, the read markers
# that follow it on an ``incident:`` stream, ``seen`` (a ``read`` reaches every
# subscriber, the sender too, through the bus) and notices.
NOISE = frozenset({"event", "presence", "typing", "pending_alerts", "seen_state", "seen", "notice"})
FIELD_NAMES = ("type", "stream", "after", "client_msg_id", "body", "alert_id", "seq")
CLIENT_TYPES = tuple(sorted(p.CLIENT_TYPES))

# The documented schema of each client frame: field -> (kind, required).
SCHEMA: dict[str, dict[str, tuple[str, bool]]] = {
    "subscribe": {"stream": ("stream", True), "after": ("after", False)},
    "unsubscribe": {"stream": ("stream", True)},
    "message.send": {
        "stream": ("stream", True),
        "client_msg_id": ("uuid", True),
        "body": ("body", True),
    },
    "alert.ack": {"alert_id": ("alert_id", True), "client_msg_id": ("uuid", True)},
    "typing": {"stream": ("stream", True)},
    "read": {"stream": ("stream", True), "seq": ("seq", True)},
    "ping": {},
}
# What a valid frame of each type may be answered with: (frame types, error codes).
VALID_ANSWERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ping": (frozenset({"pong"}), frozenset()),
    "subscribe": (
        frozenset({"caught_up", "resync_required"}),
        frozenset({"not_found", "too_many_subscriptions"}),
    ),
    "unsubscribe": (frozenset({"unsubscribed"}), frozenset({"not_subscribed"})),
    "message.send": (
        frozenset({"ack"}),
        frozenset(
            {"not_found", "forbidden", "incident_closed", "invalid_request", "client_msg_id_reused"}
        ),
    ),
    "alert.ack": (frozenset({"ack"}), frozenset({"not_found", "client_msg_id_reused"})),
    "typing": (frozenset(), frozenset({"not_subscribed", "not_found"})),
    "read": (frozenset(), frozenset({"not_subscribed", "not_found"})),
}

PROFILE = hsettings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
    database=None,  # every test's inner ``run`` has the same name: keep examples apart
    # The explain phase re-runs a failing example many times: too slow here.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)


# --- the oracle: what the documentation says a frame should get ------------------------


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def is_uuid(value: object) -> bool:
    if not isinstance(value, str) or has_surrogate(value):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def valid_value(kind: str, value: object) -> bool:
    """Strictly per docs/protocol.md: JSON types as documented, no coercion."""
    if kind in ("stream", "body"):
        if not isinstance(value, str) or has_surrogate(value):
            return False
        low, high = (3, 120) if kind == "stream" else (1, 10_000)
        return low <= len(value) <= high
    if kind in ("after", "alert_id", "seq"):
        low = 1 if kind == "alert_id" else 0
        return type(value) is int and low <= value <= 2**53
    if kind == "uuid":
        return is_uuid(value)
    raise AssertionError(kind)


@dataclass(frozen=True)
class Expect:
    """``code``: exactly this error; ``any_error``: one error with a documented code;
    ``valid``: the frame (a valid one of that type)."""

    code: str | None = None
    any_error: bool = False
    valid: Frame | None = None


def classify(text: str) -> Expect:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return Expect(code="invalid_json")
    kind = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(kind, str) or kind not in p.CLIENT_TYPES:
        return Expect(code="unknown_type")
    fields = SCHEMA[kind]
    assert isinstance(raw, dict)
    if set(raw) - {"type"} - set(fields):
        return Expect(any_error=True)
    for name, (field_kind, required) in fields.items():
        if name not in raw:
            if required:
                return Expect(any_error=True)
        elif not valid_value(field_kind, raw[name]):
            return Expect(any_error=True)
    return Expect(valid=raw)


@dataclass(frozen=True)
class Outgoing:
    """One frame to send: text (checked against ``classify``) or binary."""

    text: str | None = None
    data: bytes | None = None
    exact: str | None = None  # the error code the generator built the frame to get

    def expect(self) -> Expect:
        if self.data is not None:
            return Expect(code="unsupported_frame")
        assert self.text is not None
        expect = classify(self.text)
        if self.exact is not None:
            assert expect.valid is None, f"generator bug: {self.text[:200]!r} is valid"
            return Expect(code=self.exact)
        return expect

    def __repr__(self) -> str:  # keep Hypothesis' reports readable
        if self.data is not None:
            return f"Outgoing(data={self.data[:80]!r}{'...' if len(self.data) > 80 else ''})"
        text = self.text or ""
        cut = f"{text[:200]!r}...({len(text)} chars)" if len(text) > 200 else repr(text)
        return f"Outgoing(text={cut}, exact={self.exact!r})"


# --- the world and the harness --------------------------------------------------------------


@dataclass(frozen=True)
class World:
    own: str  # NA-IMM reported it: readable and postable by USER
    readable: str  # NA-CUS at WDH, visible to the crossing point: readable, not postable
    foreign: str  # ZA-IMM at JNB: invisible
    closed: str  # USER's, closed: readable, writes refused
    events_at_start: int

    @property
    def streams(self) -> tuple[str, ...]:
        return (self.own, self.readable, self.foreign, self.closed)


def build_world() -> World:
    seed()
    own = report(USER, "WDH")
    readable = report("na-cus.duty", "WDH", visibility="crossing_point")
    foreign = report("za-imm.duty", "JNB")
    closed = report(USER, "WDH")
    coordinator = officer("na-imm.coord")
    for to in ("resolved", "closed"):
        services.incident_transition(actor=coordinator, ref=closed.ref, to_status=to, reason="x")
    return World(
        own=own.stream_name,
        readable=readable.stream_name,
        foreign=foreign.stream_name,
        closed=closed.stream_name,
        events_at_start=Event.objects.count(),
    )


class StreamTracker:
    """Checks each subscribed stream's events: in seq order, no gap, no duplicate."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}  # stream -> last seq seen (replay or live)
        self.live: set[str] = set()
        self.before: dict[str, tuple[int | None, bool]] = {}

    def subscribing(self, stream: str, after: int) -> None:
        self.before[stream] = (self.last.get(stream), stream in self.live)
        self.last[stream] = after
        self.live.discard(stream)

    def answered(self, stream: str, frame: Frame) -> bool:
        """The answer to our subscribe of ``stream``. True when it is not known whether
        an earlier subscription of the stream still stands (the caller ends it)."""
        previous, was_live = self.before.pop(stream)
        if frame["type"] == "caught_up":
            assert frame["seq"] == self.last[stream], (
                f"caught_up at {frame['seq']} but replay reached {self.last[stream]}"
            )
            self.live.add(stream)
            return False
        del self.last[stream]
        if previous is None:
            return False
        if frame["type"] == "error":  # a refused frame changes nothing
            self.last[stream] = previous
            if was_live:
                self.live.add(stream)
            return False
        # resync_required on a restart: whether the old subscription survives is
        # not documented, so the harness unsubscribes and starts clean.
        return True

    def unsubscribed(self, stream: str) -> None:
        self.last.pop(stream, None)
        self.live.discard(stream)

    def event(self, frame: Frame) -> None:
        stream, seq = frame["stream"], frame["seq"]
        assert stream in self.last, f"event for a stream that is not subscribed: {frame}"
        assert seq == self.last[stream] + 1, (
            f"{stream}: seq {seq} after {self.last[stream]} (gap or duplicate)"
        )
        self.last[stream] = seq
        validate_payload(frame["kind"], frame["payload"])


@dataclass
class Harness:
    """One event loop and (normally) one socket, driven from synchronous examples."""

    loop: asyncio.AbstractEventLoop
    world: World
    socket: Socket | None = None
    sockets_opened: int = 0
    frames_sent: int = 0
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (body, seq)
    tracker: StreamTracker = field(default_factory=StreamTracker)
    spare: list[Socket] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def ensure_socket(self) -> Socket:
        if self.socket is not None and not self.socket.c.future.done():
            return self.socket
        if self.socket is not None:  # it crashed in an earlier example: start over
            self.spare.append(self.socket)
        self.socket = await Socket.open(USER)
        self.sockets_opened += 1
        self.tracker = StreamTracker()
        return self.socket

    async def recv(self, timeout: float = 10) -> Frame:
        """The next frame; the consumer's own exception if it crashed instead."""
        assert self.socket is not None
        c = self.socket.c
        getter = asyncio.ensure_future(c.output_queue.get())
        with mock.patch("channels.db.close_old_connections", return_value=None):
            done, _ = await asyncio.wait(
                {getter, c.future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        if getter not in done:
            getter.cancel()
            if c.future.done():
                c.future.result()  # raises what the consumer raised
                raise AssertionError("the consumer stopped without closing the socket")
            raise AssertionError(f"no answer within {timeout} s")
        output = getter.result()
        if output["type"] == "websocket.close":
            code = output.get("code")
            documented = "documented" if code in DOCUMENTED_CLOSE_CODES else "UNDOCUMENTED"
            raise AssertionError(f"the socket was closed with {code} ({documented})")
        assert output["type"] == "websocket.send", output
        frame: Frame = json.loads(output["text"])
        p.SERVER_FRAME.validate_python(frame)
        if frame["type"] == "error":
            assert frame["code"] in DOCUMENTED_ERRORS, f"undocumented error code: {frame}"
        return frame

    async def answers(self, pongs: int) -> list[Frame]:
        """Frames up to the ``pongs``-th pong; events are checked and left out."""
        got: list[Frame] = []
        while True:
            frame = await self.recv()
            if frame["type"] == "event":
                self.tracker.event(frame)
                continue
            if frame["type"] in NOISE:
                continue
            if frame["type"] == "pong":
                pongs -= 1
                if pongs == 0:
                    return got
            got.append(frame)

    async def exchange(self, out: Outgoing) -> None:
        s = await self.ensure_socket()
        expect = out.expect()
        valid = expect.valid
        if valid is not None and valid["type"] == "subscribe":
            self.tracker.subscribing(valid["stream"], valid.get("after", 0))
        if out.data is not None:
            await s.c.send_input({"type": "websocket.receive", "bytes": out.data})
        else:
            await s.c.send_input({"type": "websocket.receive", "text": out.text})
        self.frames_sent += 1
        await s.send({"type": "ping"})
        got = await self.answers(2 if valid is not None and valid["type"] == "ping" else 1)
        check_answers(out, expect, got)
        if valid is not None:
            await self.record(valid, got)
        await self.settle()

    async def record(self, frame: Frame, got: list[Frame]) -> None:
        answer = got[0] if got else None
        stream = frame.get("stream")
        if frame["type"] == "subscribe":
            assert answer is not None
            if self.tracker.answered(frame["stream"], answer):
                assert self.socket is not None
                await self.socket.send({"type": "unsubscribe", "stream": stream})
                await self.socket.send({"type": "ping"})
                (reset,) = await self.answers(1)
                assert reset["type"] in {"unsubscribed", "error"}, reset
                assert reset.get("code", "not_subscribed") == "not_subscribed", reset
        elif frame["type"] == "unsubscribe":
            subscribed = stream in self.tracker.last
            if subscribed:
                assert answer == {"type": "unsubscribed", "stream": stream, "reason": "requested"}
            else:
                assert answer is not None
                assert answer.get("code") == "not_subscribed", answer
            self.tracker.unsubscribed(frame["stream"])
        elif frame["type"] in ("typing", "read"):
            if stream in self.tracker.last:  # forwarded or recorded: no answer
                assert answer is None, f"{frame['type']} refused on a subscription: {answer}"
            else:
                assert answer is not None
                assert answer.get("code") == "not_subscribed", answer
        elif frame["type"] == "message.send" and answer and answer["type"] == "ack":
            key = str(uuid.UUID(frame["client_msg_id"]))
            assert answer["client_msg_id"] == key, answer
            assert answer["stream"] == frame["stream"] == self.world.own, answer
            body = frame["body"].strip()
            if key in self.acked:  # a repeat: the same ack, nothing new written
                assert self.acked[key] == (body, answer["seq"]), (self.acked[key], answer)
            else:
                assert answer["seq"] > max((seq for _, seq in self.acked.values()), default=1)
                self.acked[key] = (body, answer["seq"])

    async def settle(self) -> None:
        """Wait for the live events of our own acknowledged writes (nothing in flight)."""
        own = self.world.own
        if own not in self.tracker.live or not self.acked:
            return
        head = max(seq for _, seq in self.acked.values())
        assert self.socket is not None
        for _ in range(200):
            if self.tracker.last[own] >= head:
                return
            await self.socket.send({"type": "ping"})
            assert await self.answers(1) == []
            await asyncio.sleep(0.005)
        raise AssertionError(f"{own}: live event {head} never arrived")

    async def shutdown(self) -> None:
        for s in [*self.spare, *([self.socket] if self.socket else [])]:
            with contextlib.suppress(BaseException):
                await s.close()
        await reset_hub()
        await sync_to_async(connections.close_all)()

    def send_all(self, frames: list[Outgoing]) -> None:
        """One Hypothesis example: send every frame, then check what was written."""
        for out in frames:
            self.run(self.exchange(out))
        assert Message.objects.count() == len(self.acked)


def check_answers(out: Outgoing, expect: Expect, got: list[Frame]) -> None:
    where = f"for {out!r}"
    if expect.code is not None or expect.any_error:
        assert len(got) == 1, f"expected one error {where}, got {got}"
        error = got[0]
        assert error["type"] == "error", f"expected an error {where}, got {error}"
        if expect.code is not None:
            assert error["code"] == expect.code, f"{error} {where}"
        assert error["code"] in ACCEPTABLE_ERRORS, f"{error} {where}"
        return
    frame = expect.valid
    assert frame is not None
    kinds, codes = VALID_ANSWERS[frame["type"]]
    if frame["type"] == "message.send" and not frame["stream"].startswith("incident:"):
        codes = codes | {"invalid_frame"}
    if frame["type"] in ("typing", "read") and not got:
        return
    assert len(got) == 1, f"expected one answer {where}, got {got}"
    answer = got[0]
    if answer["type"] == "error":
        assert answer["code"] in codes, f"{answer} {where}"
    else:
        assert answer["type"] in kinds, f"{answer} {where}"


@pytest.fixture
def harness(settings: Any) -> Iterator[Harness]:
    settings.REDIS_URL = None
    settings.HUB_WS_RATE = 1_000_000.0
    settings.HUB_WS_BURST = 1_000_000
    # A consumer that crashes never releases its connection slot: keep room to
    # reconnect while Hypothesis shrinks a failure.
    settings.HUB_WS_MAX_CONNECTIONS_PER_USER = 10_000
    world = build_world()
    loop = asyncio.new_event_loop()
    h = Harness(loop=loop, world=world)
    try:
        yield h
    finally:
        h.run(h.shutdown())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def finish(h: Harness, at_least: int) -> None:
    """After the examples: one socket throughout, usable, and nothing invalid written."""

    async def ping() -> list[Frame]:
        s = await h.ensure_socket()
        await s.send({"type": "ping"})
        return await h.answers(1)

    assert h.run(ping()) == []
    assert h.sockets_opened == 1, "the socket had to be reopened"
    assert h.frames_sent >= at_least, h.frames_sent
    events = list(Event.objects.all())
    for event in events:
        validate_payload(event.kind, event.payload)
    assert len(events) == h.world.events_at_start + len(h.acked)
    messages = {str(m.client_msg_id): (m.body, m.seq) for m in Message.objects.all()}
    assert messages == h.acked


# --- strategies ---------------------------------------------------------------------------

TEXT = st.text(max_size=30)
JSON_SCALARS: SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
JSON_VALUES: SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
JUNK_STREAMS = st.sampled_from(
    ["incident:WDH-2099-0001", "crossing:WDH", "incident:", "abc", "incident:wdh-1"]
) | st.text(min_size=3, max_size=40)


def encode(value: Any, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


def as_text(values: SearchStrategy[Any], exact: str | None = None) -> SearchStrategy[Outgoing]:
    return st.builds(lambda v, a: Outgoing(text=encode(v, a), exact=exact), values, st.booleans())


@st.composite
def objects_with_real_fields(draw: st.DrawFn) -> Frame:
    """Objects with a client ``type`` (mostly) and real field names, arbitrary values."""
    frame: Frame = {"type": draw(st.sampled_from(CLIENT_TYPES) | JSON_VALUES)}
    for name in draw(st.lists(st.sampled_from(FIELD_NAMES[1:]), max_size=4, unique=True)):
        frame[name] = draw(JSON_VALUES)
    return frame


def valid_field(kind: str, world_streams: SearchStrategy[str]) -> SearchStrategy[Any]:
    return {
        "stream": world_streams,
        "after": st.integers(min_value=0, max_value=30),
        "seq": st.integers(min_value=0, max_value=30) | st.just(2**53),
        "uuid": st.uuids().map(str),
        "body": st.text(min_size=1, max_size=40).filter(lambda b: b.strip() != ""),
        "alert_id": st.integers(min_value=10**9, max_value=2**53),
    }[kind]


NOT_A_STRING: SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.lists(JSON_SCALARS, max_size=3)
    | st.dictionaries(TEXT, JSON_SCALARS, max_size=3)
)
# Values pydantic's lax mode cannot read as an integer (no bools, no integral floats,
# no digit strings): test_ws_frames pins the coercible ones.
NOT_AN_INTEGER: SearchStrategy[Any] = (
    st.none()
    | st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not x.is_integer())
    | st.text(max_size=20).filter(lambda t: not any(ch.isdigit() for ch in t))
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(TEXT, st.integers(), max_size=3)
)
WRONG: dict[str, SearchStrategy[Any]] = {
    "stream": NOT_A_STRING | st.sampled_from(["", "ab", "x" * 121]),
    "body": NOT_A_STRING | st.sampled_from(["", "b" * 10_001]),
    "uuid": NOT_A_STRING.filter(lambda v: not isinstance(v, str))
    | st.text(max_size=40).filter(lambda t: not is_uuid(t)),
    "after": NOT_AN_INTEGER | st.integers(max_value=-1) | st.integers(min_value=2**53 + 1),
    "seq": NOT_AN_INTEGER | st.integers(max_value=-1) | st.integers(min_value=2**53 + 1),
    "alert_id": NOT_AN_INTEGER | st.integers(max_value=0) | st.integers(min_value=2**53 + 1),
}


@st.composite
def wrong_typed(draw: st.DrawFn, streams: SearchStrategy[str]) -> Frame:
    """A frame of a client type with at least one documented rule broken."""
    kind = draw(st.sampled_from(CLIENT_TYPES))
    fields = SCHEMA[kind]
    frame: Frame = {"type": kind}
    for name, (field_kind, _) in fields.items():
        frame[name] = draw(valid_field(field_kind, streams))
    breaks = (
        ["extra"]
        + [f"wrong:{n}" for n in fields]
        + [f"missing:{n}" for n, (_, r) in fields.items() if r]
    )
    for how in draw(st.lists(st.sampled_from(breaks), min_size=1, max_size=3, unique=True)):
        action, _, name = how.partition(":")
        if action == "extra":
            extra = draw(st.sampled_from(FIELD_NAMES[1:]) | TEXT)
            if extra not in fields and extra != "type":
                frame[extra] = draw(JSON_VALUES)
            else:
                frame["unexpected"] = draw(JSON_VALUES)
        elif action == "wrong":
            frame[name] = draw(WRONG[fields[name][0]])
        elif name in frame:
            del frame[name]
    return frame


RANDOM_TYPES: SearchStrategy[Any] = (
    st.text(max_size=30).filter(lambda t: t not in p.CLIENT_TYPES)
    | st.sampled_from(["PING", "Subscribe", "message", "message.send ", "alert.ACK", "pong"])
    | st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
)


@st.composite
def random_type(draw: st.DrawFn) -> Frame:
    frame: Frame = {"type": draw(RANDOM_TYPES)}
    if draw(st.booleans()):
        frame["stream"] = draw(JUNK_STREAMS)
    if draw(st.booleans()):
        frame["client_msg_id"] = str(draw(st.uuids()))
    return frame


RAW_TEXT: SearchStrategy[Outgoing] = st.builds(
    lambda prefix, rest: Outgoing(text=prefix + rest),
    st.sampled_from(["", "{", '{"type":', '{"type":"ping"', "[", '"', "\ufeff", "{'type':'ping'}"]),
    st.text(max_size=200),
)
BINARY: SearchStrategy[Outgoing] = st.builds(
    lambda data: Outgoing(data=data),
    st.binary(max_size=300) | st.just(b'{"type": "ping"}'),
)


def fill(unit: str, budget: int, ascii_only: bool) -> str:
    """``unit`` repeated so that its JSON encoding takes at most ``budget`` bytes."""
    size = len(json.dumps(unit, ensure_ascii=ascii_only).encode()) - 2
    return unit * max(1, budget // max(size, 1))


@st.composite
def long_frames(draw: st.DrawFn, streams: SearchStrategy[str]) -> Outgoing:
    """Frames with one very long string (10-60 KB encoded), always under the 64 KiB cap."""
    ascii_only = draw(st.booleans())
    unit = draw(st.text(min_size=1, max_size=6))
    long = fill(unit, draw(st.integers(min_value=10_000, max_value=60_000)), ascii_only)
    where = draw(
        st.sampled_from(
            ["body", "body-max", "stream", "client_msg_id", "type", "extra", "raw", "value"]
        )
    )
    kind = draw(st.sampled_from(CLIENT_TYPES))
    stream = draw(streams)
    cmid = str(draw(st.uuids()))

    def build(long: str) -> str:
        if where == "raw":
            return long
        frame: Frame = {
            "type": "message.send",
            "stream": stream,
            "client_msg_id": cmid,
            "body": "x",
        }
        if where == "extra":
            frame[long[:2000]] = long
        elif where == "value":
            frame = {"type": kind, "stream": [long]}
        elif where == "body-max":  # within the 10,000-character limit
            frame["body"] = long[:10_000]
        else:
            frame[where] = long
        return encode(frame, ascii_only)

    text = build(long)
    while len(text.encode()) > p.MAX_FRAME_BYTES - 100:
        long = long[: len(long) // 2]
        text = build(long)
    return Outgoing(text=text)


SURROGATE_TEXT: SearchStrategy[str] = st.builds(
    lambda a, s, b: a + s + b,
    st.text(max_size=8),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.text(max_size=8),
)


@st.composite
def with_surrogates(draw: st.DrawFn, streams: SearchStrategy[str]) -> Outgoing:
    """Real-looking frames where a string field holds a lone surrogate (a JSON escape)."""
    kind = draw(st.sampled_from(CLIENT_TYPES))
    frame: Frame = {"type": kind}
    for name, (field_kind, _) in SCHEMA[kind].items():
        frame[name] = draw(valid_field(field_kind, streams))
    target = draw(st.sampled_from([*SCHEMA[kind], "type", "extra"]))
    if target == "extra":
        frame[draw(SURROGATE_TEXT)] = draw(SURROGATE_TEXT)
    else:
        frame[target] = draw(SURROGATE_TEXT)
    return Outgoing(text=json.dumps(frame))  # ensure_ascii: \udXXX escapes, valid UTF-8


@st.composite
def valid_frames(draw: st.DrawFn, world: World) -> Frame:
    """Frames that follow the documented schema, mostly on the world's real streams."""
    streams = st.one_of(st.just(world.own), st.sampled_from(world.streams), JUNK_STREAMS)
    ids = st.sampled_from([str(uuid.UUID(int=i + 1)) for i in range(6)]) | st.uuids().map(str)
    # Writes and subscriptions weigh most: they are what can write or deliver.
    kind = draw(st.sampled_from([*CLIENT_TYPES, "message.send", "message.send", "subscribe"]))
    if kind == "ping":
        return {"type": "ping"}
    if kind == "subscribe":
        frame: Frame = {"type": "subscribe", "stream": draw(streams)}
        if draw(st.booleans()):
            frame["after"] = draw(st.integers(min_value=0, max_value=12) | st.just(2**53))
        return frame
    if kind in ("unsubscribe", "typing"):
        return {"type": kind, "stream": draw(streams)}
    if kind == "read":
        seq = draw(st.integers(min_value=0, max_value=12) | st.just(2**53))
        return {"type": kind, "stream": draw(streams), "seq": seq}
    if kind == "alert.ack":
        # Ids no alert of this small world has: acknowledging a real alert would
        # write, and the accounting here covers messages only.
        alert_id = draw(st.integers(min_value=10**9, max_value=2**53))
        return {"type": kind, "alert_id": alert_id, "client_msg_id": draw(ids)}
    body = draw(
        st.text(min_size=1, max_size=60)
        | st.sampled_from([" ", "\t\n ", "nul\x00", "dup", " dup "])
        | st.integers(min_value=9_990, max_value=10_000).map(lambda n: "b" * n)
    )
    return {"type": kind, "stream": draw(streams), "client_msg_id": draw(ids), "body": body}


def frames_of(one: SearchStrategy[Outgoing], max_size: int = 8) -> SearchStrategy[list[Outgoing]]:
    return st.lists(one, min_size=1, max_size=max_size)


# --- the properties ------------------------------------------------------------------------


def drive(
    h: Harness, strategy: SearchStrategy[list[Outgoing]], examples: int
) -> Callable[[], None]:
    @hsettings(PROFILE, max_examples=examples)
    @given(frames=strategy)
    def run(frames: list[Outgoing]) -> None:
        h.send_all(frames)

    return run


def test_arbitrary_json_values(harness: Harness) -> None:
    values = JSON_VALUES | objects_with_real_fields()
    drive(harness, frames_of(as_text(values)), 200)()
    finish(harness, at_least=300)


def test_real_field_names_with_wrong_types(harness: Harness) -> None:
    streams = st.sampled_from(harness.world.streams) | JUNK_STREAMS
    frames = as_text(wrong_typed(streams), exact="invalid_frame")
    drive(harness, frames_of(frames), 200)()
    finish(harness, at_least=300)


def test_random_type_strings(harness: Harness) -> None:
    drive(harness, frames_of(as_text(random_type(), exact="unknown_type")), 100)()
    finish(harness, at_least=150)


def test_random_unicode_text_and_binary(harness: Harness) -> None:
    drive(harness, frames_of(RAW_TEXT | BINARY), 100)()
    finish(harness, at_least=150)


def test_very_long_strings_under_the_cap(harness: Harness) -> None:
    streams = st.sampled_from(harness.world.streams) | JUNK_STREAMS
    drive(harness, frames_of(long_frames(streams), max_size=4), 60)()
    finish(harness, at_least=40)


def test_lone_surrogates_in_string_fields(harness: Harness) -> None:
    streams = st.sampled_from(harness.world.streams) | JUNK_STREAMS
    drive(harness, frames_of(with_surrogates(streams), max_size=4), 60)()
    finish(harness, at_least=40)


def test_valid_frames_mixed_with_invalid_ones(harness: Harness) -> None:
    world = harness.world
    streams = st.sampled_from(world.streams) | JUNK_STREAMS
    valid = as_text(valid_frames(world))
    wrong = as_text(wrong_typed(streams), exact="invalid_frame")
    # Two frames in three are valid.
    one = st.sampled_from([valid] * 6 + [wrong, RAW_TEXT, BINARY]).flatmap(lambda s: s)
    drive(harness, frames_of(one, max_size=10), 250)()
    finish(harness, at_least=300)
    assert harness.acked, "no message.send was acknowledged: the valid frames never wrote"


def test_oversized_frames_close_1009(harness: Harness) -> None:
    """Over the cap, the answer is the documented close (a new socket per example)."""

    async def send(out: Outgoing) -> int | None:
        s = await Socket.open(USER)
        harness.spare.append(s)
        if out.data is not None:
            await s.c.send_to(bytes_data=out.data)
        else:
            await s.send_text(out.text or "")
        output = await s.c.receive_output(10)
        assert output["type"] == "websocket.close", output
        code: int | None = output.get("code")
        await s.close()
        return code

    oversized = st.builds(
        lambda unit, extra, binary: (
            Outgoing(data=(unit.encode() or b"x") * (p.MAX_FRAME_BYTES + extra))
            if binary
            else Outgoing(text=unit * (p.MAX_FRAME_BYTES // len(unit.encode()) + 1) + "x" * extra)
        ),
        st.text(min_size=1, max_size=4),
        st.integers(min_value=1, max_value=5000),
        st.booleans(),
    )

    @hsettings(PROFILE, max_examples=12)
    @given(out=oversized)
    def run(out: Outgoing) -> None:
        if out.text is not None:
            assert len(out.text.encode()) > p.MAX_FRAME_BYTES
        assert harness.run(send(out)) == p.CloseCode.MESSAGE_TOO_BIG
        assert Message.objects.count() == 0

    run()
    assert Event.objects.count() == harness.world.events_at_start


def test_documented_codes_are_in_the_protocol_doc() -> None:
    """The sets this file checks against are the ones docs/protocol.md documents."""
    doc = DOCS.read_text()
    for code in DOCUMENTED_ERRORS:
        assert f"| `{code}` |" in doc, code
    for close in DOCUMENTED_CLOSE_CODES:
        assert f"| {close} |" in doc, close
