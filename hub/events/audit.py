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

``verify`` does the same for many small streams at once (``_verify_batch``): one
statement reads every head of the batch, the next their events, the next their
highest seqs, in that order, so each stream sees the order above; a stream bigger
than ``BATCH_EVENTS`` is read on its own. Three statements per batch instead of three
per stream is what makes a record of many short streams quick to verify
(bench/RESULTS.md).

Reading the stream rows first and the events later (as a naive loop does) sees
events committed in between and reports a head "behind its events": a false
alarm under live writes.

Checkpoints (``hub.events.checkpoints``) hold against whoever can rewrite the
database, so verification also checks them, in one pass over the log before the
streams:

- the log: numbers 1..n with no gap, each ``prev`` is the previous checkpoint's
  hash, each hash recomputes from its body, each signature verifies with a known
  public key (an unknown key id fails), each root recomputes from its leaves
  (sorted, one per stream, as many as ``tree_size``);
- every stream against every checkpoint that covered it: the leaves' (stream, seq,
  hash) are collected once (one entry per distinct (stream, seq), so memory grows
  with the seqs checkpointed, not with the checkpoints), and the chain pass that
  reads each stream's events anyway compares each event's hash with what a
  checkpoint recorded for that seq. A chain rewritten after a checkpoint fails
  there even when every hash in it recomputes; a head below a checkpoint's seq is
  a stream that went back (a restored backup); a checkpointed stream that no
  longer exists fails too. Each finding names the stream, the seq and the
  checkpoint.

Checkpoint findings of the log itself name no stream (``stream`` is empty, ``seq``
0) and carry the checkpoint's number.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.db.models import Max, Min

from hub.events.chain import canonical_bytes, chain_hash
from hub.events.checkpoints import checkpoint_document, leaf_order, public_keys, root_of
from hub.events.models import GENESIS_HASH, Checkpoint, Event, Stream
from hub.events.signing import signature_valid
from hub.record.canonical import canonical_time, checkpoint_body, checkpoint_hash

# stream -> seq -> (hash, number of the first checkpoint that recorded it)
Claims = dict[str, dict[int, tuple[str, int]]]


@dataclass(frozen=True)
class BrokenLink:
    stream: str
    seq: int
    reason: str
    checkpoint: int | None = None

    def describe(self) -> str:
        where = f"{self.stream} seq {self.seq}" if self.stream else ""
        if self.checkpoint is not None:
            where = (
                f"{where}, checkpoint {self.checkpoint}"
                if where
                else (f"checkpoint {self.checkpoint}")
            )
        return f"{where}: {self.reason}"


@dataclass
class VerifyReport:
    streams_checked: int = 0
    events_checked: int = 0
    checkpoints_checked: int = 0
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


def _read_heads(stream_ids: list[int]) -> dict[int, tuple[int, str]]:
    """``_read_head`` of several streams in one statement."""
    rows = Stream.objects.filter(pk__in=stream_ids).values_list("pk", "last_seq", "last_hash")
    return {pk: (seq, digest) for pk, seq, digest in rows}


def _max_seqs(stream_ids: list[int]) -> dict[int, int]:
    """``_max_seq`` of several streams in one statement (streams with no event absent)."""
    rows = (
        Event.objects.filter(stream_id__in=stream_ids)
        .values("stream_id")
        .annotate(top=Max("seq"))
        .values_list("stream_id", "top")
    )
    return {stream_id: top for stream_id, top in rows}


_CHAIN_COLUMNS = (
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
# verify() reads streams in batches of about this many events (three statements a
# batch instead of three a stream); a bigger stream is read on its own, streamed.
BATCH_EVENTS = 20_000


def _chain_rows(stream_id: int, last_seq: int) -> Iterable[tuple[Any, ...]]:
    return (
        Event.objects.filter(stream_id=stream_id, seq__lte=last_seq)
        .order_by("seq")
        .values_list(*_CHAIN_COLUMNS)
        .iterator(chunk_size=2000)
    )


def _check_chain(
    stream: Stream,
    last_seq: int,
    last_hash: str,
    claims: dict[int, tuple[str, int]] | None = None,
    rows: Iterable[tuple[Any, ...]] | None = None,
) -> tuple[int, BrokenLink | None]:
    """Events 1..last_seq: present, linked, recomputing, ending in last_hash, and
    equal to what any checkpoint recorded at their seq (``claims``). ``rows``: the
    stream's events with seq <= last_seq in seq order (``_CHAIN_COLUMNS``), read
    after the head; read here when not given."""
    claims = claims or {}
    expected_seq = 1
    running = GENESIS_HASH
    checked = 0
    if rows is None:
        rows = _chain_rows(stream.pk, last_seq)
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
        claim = claims.get(seq)
        if claim is not None and claim[0] != digest:
            return checked, BrokenLink(
                stream.name,
                seq,
                f"hash differs from the one checkpoint {claim[1]} recorded for this seq "
                "(the chain was rewritten after it)",
                checkpoint=claim[1],
            )
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


def verify_stream(
    stream: Stream, claims: dict[int, tuple[str, int]] | None = None
) -> tuple[int, BrokenLink | None]:
    """Check one stream, against the checkpoints' ``claims`` on it when given;
    returns (events checked, first broken link or None).

    Safe to run while writers append to the stream (see the module docstring):
    only ``stream.pk`` and ``stream.name`` are used; the head is read fresh.
    """
    last_seq, last_hash = _read_head(stream.pk)
    return _verify_read(stream, last_seq, last_hash, claims, None, lambda: _max_seq(stream.pk))


def _verify_read(
    stream: Stream,
    last_seq: int,
    last_hash: str,
    claims: dict[int, tuple[str, int]] | None,
    rows: Iterable[tuple[Any, ...]] | None,
    top_seq: Callable[[], int | None],
) -> tuple[int, BrokenLink | None]:
    """The checks of ``verify_stream`` once the head is read: ``rows`` (or a read of
    them) after it, then ``top_seq()`` (the highest stored seq) after the rows."""
    if claims:
        top_claim = max(claims)
        if top_claim > last_seq:
            claimed_hash, number = claims[top_claim]
            return 0, BrokenLink(
                stream.name,
                top_claim,
                f"stream went back: checkpoint {number} recorded seq {top_claim} "
                f"({claimed_hash[:16]}...), the stream's head is at seq {last_seq} "
                "(a restored backup or a truncation)",
                checkpoint=number,
            )
    checked, broken = _check_chain(stream, last_seq, last_hash, claims, rows)
    if broken is not None:
        return checked, broken
    top = top_seq()
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


def _verify_batch(
    batch: list[Stream], claims: Claims
) -> Iterable[tuple[Stream, int, BrokenLink | None]]:
    """``verify_stream`` for several small streams with three statements in all, in
    the same order: every head (fresh), then their events, then their highest seqs;
    a stream whose events run beyond its head re-reads its head after that."""
    ids = [s.pk for s in batch]
    heads = _read_heads(ids)
    rows: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in ids}
    for stream_id, *row in (
        Event.objects.filter(stream_id__in=ids)
        .order_by("stream_id", "seq")
        .values_list("stream_id", *_CHAIN_COLUMNS)
        .iterator(chunk_size=5000)
    ):
        if row[0] <= heads[stream_id][0]:  # appended since the heads were read: not yet
            rows[stream_id].append(tuple(row))
    tops = _max_seqs(ids)
    for stream in batch:
        last_seq, last_hash = heads[stream.pk]
        checked, broken = _verify_read(
            stream,
            last_seq,
            last_hash,
            claims.pop(stream.name, None),
            rows.pop(stream.pk),
            partial(tops.get, stream.pk),
        )
        yield stream, checked, broken


def _checkpoint_problem(
    row: Mapping[str, Any], expected_prev: str, keys: dict[str, bytes]
) -> str | None:
    """What is wrong with one checkpoint row on its own and as a link of the log."""
    number = row["number"]
    if row["prev"] != expected_prev:
        return f"prev does not link to checkpoint {number - 1}"
    body = checkpoint_body(
        number=number,
        tree_size=row["tree_size"],
        root=row["root"],
        at=canonical_time(row["at"]),
        prev=row["prev"],
        key_id=row["key_id"],
    )
    if checkpoint_hash(body) != row["hash"]:
        return "content does not match its hash"
    raw = keys.get(row["key_id"])
    if raw is None:
        return f"signed by an unknown key {row['key_id']!r}"
    try:
        signature = base64.b64decode(row["signature"], validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if not signature_valid(raw, signature, body):
        return f"signature does not verify with key {row['key_id']}"
    leaves = row["leaves"]
    names = [leaf_order(str(leaf[0])) for leaf in leaves]
    if any(a >= b for a, b in itertools.pairwise(names)):
        return "leaves are not in stream order (or name a stream twice)"
    if len(leaves) != row["tree_size"] or root_of(leaves) != row["root"]:
        return "root does not recompute from its leaves"
    return None


def verify_checkpoint_log(
    report: VerifyReport, in_scope: Callable[[str], bool] = lambda name: True
) -> Claims:
    """Check the checkpoint log (one pass, oldest first), adding findings to
    ``report``; returns what the checkpoints recorded of the streams in scope."""
    keys = public_keys()
    claims: Claims = {}
    expected_number, expected_prev = 1, GENESIS_HASH
    rows = (
        Checkpoint.objects.order_by("number")
        .values(
            "number", "tree_size", "root", "at", "prev", "key_id", "signature", "hash", "leaves"
        )
        .iterator(chunk_size=16)
    )
    for row in rows:
        number = row["number"]
        report.checkpoints_checked += 1
        if number != expected_number:
            report.broken.append(
                BrokenLink(
                    "",
                    0,
                    f"checkpoint {expected_number} is missing (next stored is {number})",
                    checkpoint=expected_number,
                )
            )
        else:
            problem = _checkpoint_problem(row, expected_prev, keys)
            if problem is not None:
                report.broken.append(BrokenLink("", 0, problem, checkpoint=number))
        for name, seq, head in row["leaves"]:
            if not in_scope(name):
                continue
            recorded = claims.setdefault(name, {})
            earlier = recorded.get(seq)
            if earlier is None:
                recorded[seq] = (head, number)
            elif earlier[0] != head:
                report.broken.append(
                    BrokenLink(
                        name,
                        seq,
                        f"checkpoints {earlier[1]} and {number} record different hashes",
                        checkpoint=number,
                    )
                )
        expected_number, expected_prev = number + 1, row["hash"]
    return claims


def verify(stream_names: Iterable[str] | None = None, *, checkpoints: bool = True) -> VerifyReport:
    """Verify the named streams (all streams when None), in name order, and (unless
    ``checkpoints`` is False) the checkpoint log and the streams against it."""
    qs = Stream.objects.order_by("name")
    wanted: set[str] | None = None
    if stream_names is not None:
        wanted = set(stream_names)
        qs = qs.filter(name__in=list(wanted))
    report = VerifyReport()
    claims: Claims = {}
    if checkpoints:
        claims = verify_checkpoint_log(
            report, (lambda name: True) if wanted is None else wanted.__contains__
        )
    # Ids, names and a size hint: each head is read fresh by the checks themselves.
    listed = [
        (Stream(pk=pk, name=name), seq)
        for pk, name, seq in qs.values_list("pk", "name", "last_seq")
    ]
    results: list[tuple[Stream, int, BrokenLink | None]] = []
    batch: list[Stream] = []
    size = 0
    for stream, hint in listed:
        if hint > BATCH_EVENTS:  # a big stream is read on its own, streamed
            results.append((stream, *verify_stream(stream, claims.pop(stream.name, None))))
            continue
        if batch and size + hint > BATCH_EVENTS:
            results.extend(_verify_batch(batch, claims))
            batch, size = [], 0
        batch.append(stream)
        size += hint
    if batch:
        results.extend(_verify_batch(batch, claims))
    for _stream, checked, broken in sorted(results, key=lambda r: r[0].name):
        report.streams_checked += 1
        report.events_checked += checked
        if broken is not None:
            report.broken.append(broken)
    for name in sorted(claims):  # checkpointed, yet no longer in the database
        seq = max(claims[name])
        report.broken.append(
            BrokenLink(
                name,
                seq,
                f"stream is missing: checkpoint {claims[name][seq][1]} recorded it at seq {seq}",
                checkpoint=claims[name][seq][1],
            )
        )
    return report


def verify_witness(path: Path) -> list[BrokenLink]:
    """Compare the database's checkpoints with a witness file (one JSON checkpoint a
    line, as ``hub.events.witness`` writes it). Findings: a checkpoint the file has
    and the database lacks; one that differs (which fields); one the database has
    and the file lacks (not delivered yet, or removed from the file). Identical
    repeated lines are accepted; a line that is not a checkpoint is a finding."""
    findings: list[BrokenLink] = []
    witnessed: dict[int, dict[str, Any]] = {}
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
                number = int(document["number"])
            except (ValueError, KeyError, TypeError):
                findings.append(
                    BrokenLink("", 0, f"witness line {line_number} is not a checkpoint")
                )
                continue
            if number in witnessed and witnessed[number] != document:
                findings.append(
                    BrokenLink(
                        "",
                        0,
                        f"witness line {line_number} contradicts an earlier line",
                        checkpoint=number,
                    )
                )
                continue
            witnessed[number] = document
    recorded = {cp.number: checkpoint_document(cp) for cp in Checkpoint.objects.order_by("number")}
    for number in sorted(set(witnessed) | set(recorded)):
        ours, theirs = recorded.get(number), witnessed.get(number)
        if ours is None:
            findings.append(
                BrokenLink(
                    "", 0, "in the witness file but missing from the database", checkpoint=number
                )
            )
        elif theirs is None:
            findings.append(
                BrokenLink("", 0, "in the database but not in the witness file", checkpoint=number)
            )
        else:
            differing = sorted(k for k in ours if ours[k] != theirs.get(k))
            if differing:
                findings.append(
                    BrokenLink(
                        "",
                        0,
                        f"differs from the witness file in {', '.join(differing)}",
                        checkpoint=number,
                    )
                )
    return findings


@dataclass(frozen=True)
class CheckpointedStream:
    """One stream checked as the review shows it: its chain, and its head in the latest
    signed checkpoint (None when no checkpoint covers it yet)."""

    events_checked: int
    broken: BrokenLink | None
    checkpoint: int | None = None
    checkpoint_at: str | None = None
    checkpoint_seq: int | None = None
    key_id: str | None = None


def verify_stream_checkpointed(name: str) -> CheckpointedStream:
    """The stream's chain, checked against the latest checkpoint that covers it: that
    checkpoint's hash, signature (a known key) and root over its leaves, and the event
    at the seq it recorded (a rewritten or rewound stream fails). Cheaper than
    ``verify`` with checkpoints (one checkpoint, not the whole log), so a page can
    afford it; ``audit_verify`` checks the log itself."""
    found = Stream.objects.filter(name=name).values_list("pk", "name").first()
    if found is None:
        return CheckpointedStream(0, None)
    stream = Stream(pk=found[0], name=found[1])
    row = (
        Checkpoint.objects.order_by("-number")
        .values(
            "number", "tree_size", "root", "at", "prev", "key_id", "signature", "hash", "leaves"
        )
        .first()
    )
    leaf = None
    if row is not None:
        leaf = next((lf for lf in row["leaves"] if lf[0] == name), None)
    if row is None or leaf is None:
        checked, broken = verify_stream(stream)
        return CheckpointedStream(checked, broken)
    number = int(row["number"])
    problem = _checkpoint_problem(row, row["prev"], public_keys())
    if problem is not None:
        broken = BrokenLink(name, int(leaf[1]), f"checkpoint {number}: {problem}", number)
        return CheckpointedStream(0, broken, checkpoint=number)
    checked, broken = verify_stream(stream, {int(leaf[1]): (str(leaf[2]), number)})
    return CheckpointedStream(
        checked,
        broken,
        checkpoint=number,
        checkpoint_at=canonical_time(row["at"]),
        checkpoint_seq=int(leaf[1]),
        key_id=str(row["key_id"]),
    )
