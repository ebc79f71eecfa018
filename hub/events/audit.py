"""Verification of the hash chains: recompute every link, name the first break.

A stream verifies when its events are exactly seq 1..last_seq, each event's
``prev_hash`` is the previous event's hash (``GENESIS_HASH`` for seq 1), each
``hash`` recomputes from the row (salt included), and the stream row's head (last_seq,
last_hash) matches the last event. A deleted event shows as a missing seq; a
deleted tail as the first missing seq after the last event; an edited row as a
hash that no longer recomputes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

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


def verify_stream(stream: Stream) -> tuple[int, BrokenLink | None]:
    """Check one stream; returns (events checked, first broken link or None)."""
    expected_seq = 1
    running = GENESIS_HASH
    checked = 0
    rows = (
        Event.objects.filter(stream=stream)
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
        )
        .iterator(chunk_size=2000)
    )
    for seq, kind, actor_id, agency_id, at, payload, prev_hash, digest, salt in rows:
        checked += 1
        if seq != expected_seq:
            return checked, BrokenLink(
                stream.name, expected_seq, f"event {expected_seq} is missing (next stored is {seq})"
            )
        if prev_hash != running:
            return checked, BrokenLink(stream.name, seq, "prev_hash does not link to event before")
        recomputed = chain_hash(
            prev_hash,
            canonical_bytes(
                stream=stream.name,
                seq=seq,
                kind=kind,
                actor_id=actor_id,
                agency_id=agency_id,
                at=at,
                payload=payload,
                salt=salt,
            ),
        )
        if recomputed != digest:
            return checked, BrokenLink(stream.name, seq, "content does not match its hash")
        running = digest
        expected_seq += 1
    last = expected_seq - 1
    if stream.last_seq != last:
        if stream.last_seq > last:
            return checked, BrokenLink(
                stream.name, last + 1, f"events {last + 1}..{stream.last_seq} are missing"
            )
        return checked, BrokenLink(stream.name, stream.last_seq, "stream head is behind its events")
    if stream.last_hash != running:
        return checked, BrokenLink(stream.name, last, "stream head hash does not match")
    return checked, None


def verify(stream_names: Iterable[str] | None = None) -> VerifyReport:
    """Verify the named streams (all streams when None), in name order."""
    qs = Stream.objects.order_by("name")
    if stream_names is not None:
        qs = qs.filter(name__in=list(stream_names))
    report = VerifyReport()
    for stream in qs.iterator():
        checked, broken = verify_stream(stream)
        report.streams_checked += 1
        report.events_checked += checked
        if broken is not None:
            report.broken.append(broken)
    return report
