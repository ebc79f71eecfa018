"""Reads of the record: stream heads, keyset pages of events, envelopes.

Paging is keyset on ``(stream, seq)`` (``seq > after ORDER BY seq LIMIT n``):
constant time at any depth, unlike OFFSET, and never a COUNT(*).
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.agencies.access import Access
from hub.events.models import Event, Stream
from hub.events.pipeline import actor_ref
from hub.events.streams import require_readable_stream
from hub.events.types import EventEnvelope

MAX_PAGE = 500


def stream_head(name: str) -> int:
    """The stream's last seq (0 for a stream that has no events yet)."""
    return Stream.objects.filter(name=name).values_list("last_seq", flat=True).first() or 0


def stream_heads(names: Sequence[str]) -> dict[str, int]:
    heads = dict(Stream.objects.filter(name__in=list(names)).values_list("name", "last_seq"))
    return {name: heads.get(name, 0) for name in names}


def events_after(
    name: str, *, after: int, limit: int, until: int | None = None, kind_prefix: str = ""
) -> list[Event]:
    qs = Event.objects.filter(stream__name=name, seq__gt=after)
    if until is not None:
        qs = qs.filter(seq__lte=until)
    if kind_prefix:
        qs = qs.filter(kind__startswith=kind_prefix)
    return list(
        qs.select_related("actor", "actor_agency", "stream").order_by("seq")[: min(limit, MAX_PAGE)]
    )


def envelopes_for(
    events: Sequence[Event], *, present_stream: str | None = None
) -> list[EventEnvelope]:
    """Envelopes as readers see them (the stream kind's presenter masks payloads)."""
    payloads = [e.payload for e in events]
    if present_stream is not None and events:
        from hub.events.streams import parse_stream_name

        kind, _ = parse_stream_name(present_stream)
        if kind.present is not None:
            payloads = kind.present(events)
    return [
        EventEnvelope(
            stream=e.stream.name,
            seq=e.seq,
            kind=e.kind,
            at=e.at,
            actor=actor_ref(e.actor, e.actor_agency),
            payload=payload,
        )
        for e, payload in zip(events, payloads, strict=True)
    ]


def stream_events_for(
    access: Access, name: str, *, after: int, limit: int, kind_prefix: str = ""
) -> tuple[list[Event], list[EventEnvelope], int]:
    """A readable page of a stream: (events, envelopes, head). NotFound if not the caller's."""
    require_readable_stream(access, name)
    head = stream_head(name)
    events = events_after(name, after=after, limit=limit, kind_prefix=kind_prefix)
    return events, envelopes_for(events, present_stream=name), head
