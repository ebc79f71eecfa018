"""Verification of the hash chains: recompute every link, name the first break.

A stream verifies when its events are exactly seq 1..last_seq, each event's
``prev_hash`` is the previous event's hash (``GENESIS_HASH`` for seq 1), each
``hash`` recomputes from the row (salt included), and the stream row's head
(last_seq, last_hash) matches the last event. A deleted event shows as a missing
seq; a deleted tail as the first missing seq after the last event; an edited row
as a hash that no longer recomputes; an event beyond the head as an event the
head does not account for.

Verification runs while services keep writing, without locking them out, so the
order of reads matters (each statement sees what was committed when it ran):

1. read the stream's head (last_seq, last_hash) fresh;
2. check the events with ``seq <= last_seq``: every one of them committed with
   (or before) the head that was read, so there must be exactly last_seq of them,
   chained, ending in last_hash. Events appended since are not looked at;
3. only then look for events beyond the head: read ``max(seq)`` and *after* it
   re-read the head. ``emit`` updates the stream's last_seq in the transaction
   that inserts the event, so any event visible to the first read has its head
   update visible to the second: ``head2 >= max(seq)`` unless someone tampered.

Reading the stream rows first and the events later (as a naive loop does) sees
events committed in between and reports a head "behind its events": a false
alarm under live writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Max, Min

from hub.events.chain import canonical_bytes, chain_hash
from hub.events.models import GENESIS_HASH, Event, Stream


@dataclass(frozen=True)
class BrokenLink:
    stream: str
    seq: int
    reason: str


@dataclass
class VerifyReport:
    streams_checked: int = 0
    events_checked: int = 0
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken

    @property
    def first_broken(self) -> BrokenLink | None:
        return self.broken[0] if self.broken else None


def _read_head(stream_id: int) -> tuple[int, str]:
    """The stream row's (last_seq, last_hash) as committed now (a fresh statement)."""
    return Stream.objects.filter(pk=stream_id).values_list("last_seq", "last_hash").get()


def _max_seq(stream_id: int) -> int | None:
    return Event.objects.filter(stream_id=stream_id).aggregate(top=Max("seq"))["top"]


def _check_chain(stream: Stream, last_seq: int, last_hash: str) -> tuple[int, BrokenLink | None]:
    """Events 1..last_seq: present, linked, recomputing, and ending in last_hash."""
    expected_seq = 1
    running = GENESIS_HASH
    checked = 0
    rows = (
        Event.objects.filter(stream_id=stream.pk, seq__lte=last_seq)
        .order_by("seq")
        .values_list(
            "seq",
            "kind",
            "actor_id",
            "actor_agency_id",
            "at",
            "payload",
            "prev_hash",
            "hash",
            "salt",
            "form",
        )
        .iterator(chunk_size=2000)
    )
    for seq, kind, actor_id, agency_id, at, payload, prev_hash, digest, salt, form in rows:
        checked += 1
        if seq != expected_seq:
            return checked, BrokenLink(
                stream.name, expected_seq, f"event {expected_seq} is missing (next stored is {seq})"
            )
        if prev_hash != running:
            return checked, BrokenLink(stream.name, seq, "prev_hash does not link to event before")
        try:
            canonical = canonical_bytes(
                form=form,
                stream=stream.name,
                seq=seq,
                kind=kind,
                actor_id=actor_id,
                agency_id=agency_id,
                at=at,
                payload=payload,
                salt=salt,
            )
        except ValueError:  # a form that is not 2 or 3
            return checked, BrokenLink(stream.name, seq, f"unknown canonical form {form}")
        if chain_hash(prev_hash, canonical) != digest:
            return checked, BrokenLink(stream.name, seq, "content does not match its hash")
        running = digest
        expected_seq += 1
    last = expected_seq - 1
    if last < last_seq:
        return checked, BrokenLink(
            stream.name, last + 1, f"events {last + 1}..{last_seq} are missing"
        )
    if last_hash != running:
        return checked, BrokenLink(stream.name, last, "stream head hash does not match")
    return checked, None


def verify_stream(stream: Stream) -> tuple[int, BrokenLink | None]:
    """Check one stream; returns (events checked, first broken link or None).

    Safe to run while writers append to the stream (see the module docstring):
    only ``stream.pk`` and ``stream.name`` are used; the head is read fresh.
    """
    last_seq, last_hash = _read_head(stream.pk)
    checked, broken = _check_chain(stream, last_seq, last_hash)
    if broken is not None:
        return checked, broken
    top = _max_seq(stream.pk)
    if top is not None and top > last_seq:
        # Events appended since the first read are fine if the head has moved on
        # to cover them: re-read it now, after max(seq).
        head_now, _ = _read_head(stream.pk)
        if top > head_now:
            beyond = Event.objects.filter(stream_id=stream.pk, seq__gt=head_now).aggregate(
                first=Min("seq")
            )["first"]
            return checked, BrokenLink(
                stream.name,
                beyond if beyond is not None else top,
                f"stream head ({head_now}) is behind its events (up to {top})",
            )
    return checked, None


def verify(stream_names: Iterable[str] | None = None) -> VerifyReport:
    """Verify the named streams (all streams when None), in name order."""
    qs = Stream.objects.order_by("name")
    if stream_names is not None:
        qs = qs.filter(name__in=list(stream_names))
    # Only ids and names: each stream's head is read fresh by verify_stream.
    streams = [Stream(pk=pk, name=name) for pk, name in qs.values_list("pk", "name")]
    report = VerifyReport()
    for stream in streams:
        checked, broken = verify_stream(stream)
        report.streams_checked += 1
        report.events_checked += checked
        if broken is not None:
            report.broken.append(broken)
    return report
