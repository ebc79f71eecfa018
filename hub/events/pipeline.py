"""``emit``: the one way to append to a stream.

Precondition: called inside the service's ``transaction.atomic()``. ``emit``
locks the stream row (``SELECT ... FOR UPDATE``; SQLite's IMMEDIATE transactions
serialise writers instead), allocates the next ``seq``, chains the hash, inserts
the event, and registers an ``on_commit`` callback that publishes the encoded
``event`` frame to the bus. A rolled-back transaction therefore publishes nothing.

Services that emit to several streams in one transaction call ``lock_streams``
first, so locks are always taken in name order and transactions cannot deadlock.

Design decision: what is published. The first cut (issue 3, and the sketch in
ARCHITECTURE.md "The spine") published ``{stream, seq}`` to a channel-layer group.
The hub instead publishes the encoded ``event`` frame, once, on its own bus
(``hub.events.bus``: Redis pub/sub, or in-process), on the channel of the
stream, behind an ``E<seq>`` header. Why (ARCHITECTURE.md, "Performance facts"):

- stock Channels fan-out (a consumer per socket, ``group_send`` over the
  channel layer) measured about 3,100-3,800 deliveries per server CPU-second,
  much of it in the per-socket, per-message dispatch hop; the per-worker local
  fan-out design (one bus subscription per stream per process, the frame
  encoded once and written to each local socket's ASGI send, no channel-layer
  queue) measured 6-8x that, at a lower p99;
- a bare ``{stream, seq}`` would make every worker (or, with group_send, every
  socket) query the database to build the same frame; a frame built here from
  the row just written costs nothing more on the fan-out path;
- the record is unchanged by this: the frame is a copy of a committed row, the
  bus stays at-most-once, and the ``E<seq>`` header lets each worker deliver in
  seq order and fill gaps from the database (``hub.realtime.hub``), so a lost
  or late notification costs latency, never an event.

Events never travel through channel-layer groups (the consumer opts out of the
channel layer altogether: ``hub.realtime.consumers``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.models import Agency
from hub.events.bus import get_bus, stream_channel, stream_message
from hub.events.chain import FORM_DIGEST, canonical_bytes, chain_hash, new_salt
from hub.events.models import Event, Stream
from hub.events.streams import parse_stream_name
from hub.events.types import ActorRef, EventEnvelope, EventPayload
from hub.queries import one_or_none


class EmitOutsideTransaction(RuntimeError):
    pass


def _require_atomic() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise EmitOutsideTransaction("emit() must be called inside transaction.atomic()")


def stream_ensure(name: str) -> Stream:
    """Create the stream row if needed (safe under concurrency)."""
    parse_stream_name(name)
    stream, _ = Stream.objects.get_or_create(name=name)
    return stream


def lock_streams(names: Iterable[str]) -> dict[str, Stream]:
    """Lock several streams in a global (name) order; call before emitting to them."""
    _require_atomic()
    locked: dict[str, Stream] = {}
    for name in sorted(set(names)):
        stream_ensure(name)
        locked[name] = Stream.objects.select_for_update().get(name=name)
    return locked


def actor_ref(actor: User | None, agency: Agency | None) -> ActorRef | None:
    if actor is None and agency is None:
        return None
    return ActorRef(
        id=actor.pk if actor else None,
        username=actor.username if actor else None,
        name=actor.display_name if actor else (agency.name if agency else "system"),
        agency=agency.code if agency else None,
    )


def encode_event_frame(envelope: EventEnvelope) -> str:
    """The WebSocket ``event`` frame, encoded once for every socket it goes to."""
    return encode_event_dict(envelope.model_dump(mode="json"))


def encode_event_dict(body: dict[str, Any]) -> str:
    """The ``event`` frame of an envelope already in its JSON form (replay pages,
    ``hub.events.selectors.envelope_dicts_for``): the same bytes as
    ``encode_event_frame`` of that envelope."""
    return json.dumps({"type": "event", **body}, separators=(",", ":"), ensure_ascii=False)


def publish_event(stream: str, seq: int, frame: str) -> None:
    get_bus().publish(stream_channel(stream), stream_message(f"E{seq}", frame))


def stream_lock(stream: str) -> Stream:
    """The stream's row, locked until the transaction ends (created if new).

    For a writer that must know the next seq before it emits (a message row
    written with its seq, instead of updated after): ``row.last_seq + 1`` is the
    seq the next ``emit(..., locked=row)`` will take.
    """
    _require_atomic()
    row = one_or_none(Stream.objects.select_for_update().filter(name=stream))
    if row is None:  # the stream's first event
        stream_ensure(stream)
        row = Stream.objects.select_for_update().get(name=stream)
    return row


def emit(
    *,
    stream: str,
    payload: EventPayload,
    actor: User | None,
    agency: Agency | None,
    at: datetime | None = None,
    locked: Stream | None = None,
) -> Event:
    """Append ``payload`` to ``stream`` and publish it after commit.

    Precondition: inside ``transaction.atomic()``. Returns the saved event.
    ``locked``: the row ``stream_lock(stream)`` returned in this transaction.
    """
    _require_atomic()
    if not payload.KIND:
        raise TypeError(f"{type(payload).__name__} is not a registered event kind")
    if locked is not None and locked.name != stream:
        raise ValueError(f"the locked row is {locked.name}, not {stream}")
    row = locked if locked is not None else stream_lock(stream)
    seq = row.last_seq + 1
    at = at or timezone.now()
    data = payload.model_dump(mode="json")
    salt = new_salt()
    digest = chain_hash(
        row.last_hash,
        canonical_bytes(
            form=FORM_DIGEST,
            stream=stream,
            seq=seq,
            kind=payload.KIND,
            actor_id=actor.pk if actor else None,
            agency_id=agency.pk if agency else None,
            at=at,
            payload=data,
            salt=salt,
        ),
    )
    event = Event.objects.create(
        stream=row,
        seq=seq,
        kind=payload.KIND,
        actor=actor,
        actor_agency=agency,
        at=at,
        payload=data,
        prev_hash=row.last_hash,
        hash=digest,
        salt=salt,
        form=FORM_DIGEST,
    )
    Stream.objects.filter(pk=row.pk).update(last_seq=seq, last_hash=digest)
    row.last_seq, row.last_hash = seq, digest  # (a caller's row stays the head)
    envelope = EventEnvelope(
        stream=stream,
        seq=seq,
        kind=payload.KIND,
        at=at,
        actor=actor_ref(actor, agency),
        payload=data,
    )
    transaction.on_commit(
        partial(publish_event, stream, seq, encode_event_frame(envelope)), robust=True
    )
    return event
