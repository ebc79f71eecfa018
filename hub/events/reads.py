"""Read markers ("seen by"): how far each officer has read each stream.

A marker is ``(user, stream) -> seq``: the last event of the stream the officer
has seen. It is not an event and not on the chain: reading changes nothing on
record. The service is the one writer; REST (``POST /streams/{stream}/read``)
and the WebSocket (``read`` frames, rate-limited per connection) both call it.

Invariants:
- only for a stream the officer may read (``hub.events.streams``; otherwise
  NotFound, logged, exactly like reading its events);
- ``seq`` is clamped to the stream's head, and a marker never goes down (a lower
  or equal ``seq`` is answered with the stored marker and writes nothing);
- when a marker advances, a ``seen {stream, user, seq}`` frame is published after
  commit on the stream's channel (behind an ``S`` header), so every subscriber
  of the stream, on any worker, hears it. At most once, like every bus message.

Readers (``stream_readers``) are the users with a marker who can still read the
stream, each under the agency through which they read it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.selectors import access_for, accesses_for
from hub.errors import InvalidInput
from hub.events.bus import get_bus, stream_channel, stream_message
from hub.events.models import ReadMarker
from hub.events.selectors import stream_head
from hub.events.streams import require_readable_stream, stream_reader

SEEN_HEADER = "S"  # a stream channel's header for a ``seen`` frame
MAX_SEQ = 2**53


@dataclass(frozen=True)
class ReadResult:
    marker: ReadMarker
    advanced: bool  # the marker moved (and ``seen`` is published after commit)
    agency: str | None  # the agency the officer reads the stream under


@dataclass(frozen=True)
class Reader:
    user_id: int
    username: str
    name: str
    agency: str | None
    seq: int
    updated_at: datetime


def reading_agency(access: Access, reader: Callable[[Access], bool]) -> str | None:
    """The first agency (by code) whose grant alone lets ``access`` read the stream."""
    for grant in sorted(access.grants, key=lambda g: g.agency_code):
        if reader(replace(access, grants=(grant,))):
            return grant.agency_code
    return None


def encode_seen_frame(
    *, stream: str, username: str, name: str, agency: str | None, seq: int
) -> str:
    """The WebSocket ``seen`` frame (``hub.realtime.protocol.Seen``), encoded once."""
    return json.dumps(
        {
            "type": "seen",
            "stream": stream,
            "user": {"user": username, "name": name, "agency": agency},
            "seq": seq,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _publish_seen(stream: str, frame: str) -> None:
    get_bus().publish(stream_channel(stream), stream_message(SEEN_HEADER, frame))


def stream_mark_read(*, actor: User, stream: str, seq: int) -> ReadResult:
    """Record that ``actor`` has read ``stream`` up to ``seq`` (clamped to the head).

    NotFound when the stream is not the actor's to read. Opens its own
    transaction; the marker row is locked while it is compared and moved.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise InvalidInput(f"seq must be a whole number from 0 to {MAX_SEQ}.")
    access = access_for(actor)
    require_readable_stream(access, stream)
    agency = reading_agency(access, stream_reader(stream))
    target = min(seq, stream_head(stream))
    now = timezone.now()
    with transaction.atomic():
        marker, created = ReadMarker.objects.select_for_update().get_or_create(
            user=actor, stream_name=stream, defaults={"seq": target, "updated_at": now}
        )
        advanced = created and target > 0
        if not created and target > marker.seq:
            marker.seq = target
            marker.updated_at = now
            marker.save(update_fields=["seq", "updated_at"])
            advanced = True
        if advanced:
            frame = encode_seen_frame(
                stream=stream,
                username=actor.username,
                name=actor.display_name,
                agency=agency,
                seq=marker.seq,
            )
            transaction.on_commit(partial(_publish_seen, stream, frame), robust=True)
    return ReadResult(marker=marker, advanced=advanced, agency=agency)


def stream_readers(stream: str) -> list[Reader]:
    """Everyone with a marker on ``stream`` (above 0) who can still read it, by username.

    No access check of the caller: ``stream_readers_for`` is the checked form.
    A handful of queries whatever the number of readers.
    """
    markers = list(
        ReadMarker.objects.filter(stream_name=stream, seq__gt=0, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    )
    if not markers:
        return []
    head = stream_head(stream)
    reader = stream_reader(stream)
    accesses = accesses_for([m.user for m in markers])
    readers: list[Reader] = []
    for marker in markers:
        access = accesses.get(marker.user_id)
        if access is None or not reader(access):
            continue
        readers.append(
            Reader(
                user_id=marker.user_id,
                username=marker.user.username,
                name=marker.user.display_name,
                agency=reading_agency(access, reader),
                seq=min(marker.seq, head),
                updated_at=marker.updated_at,
            )
        )
    return readers


def stream_readers_for(access: Access, stream: str) -> tuple[int, list[Reader]]:
    """(head, readers) of a stream the caller may read; NotFound (logged) otherwise."""
    require_readable_stream(access, stream)
    return stream_head(stream), stream_readers(stream)


def read_seqs(*, user_id: int, streams: Sequence[str]) -> dict[str, int]:
    """The user's marker on each of ``streams`` (0 where none), in one query."""
    found = dict(
        ReadMarker.objects.filter(user_id=user_id, stream_name__in=list(streams)).values_list(
            "stream_name", "seq"
        )
    )
    return {name: found.get(name, 0) for name in streams}
