"""The soak's invariant checker: what the clients received against what the record holds.

Pure functions over plain data, so a test can feed them a planted record:

- **deliveries**: for every socket and every stream it followed (it subscribed from
  ``after`` = 0 and resumed with ``after`` = its last seq after each reconnect), the
  seqs it was handed, raw and in arrival order, before any client-side de-duplication.
  They must be exactly ``1, 2, ..., head``: each committed event once, in order, no gap.
  A seq twice is a duplicate, a seq never is a loss, a seq before its predecessor is
  out of order.
- **writes**: every write the soak made carries a unique ``tag`` in its text (or, for an
  alert acknowledgement, is the only acknowledgement of its alert for its agency). An
  acknowledged write must have its receipt (``WriteReceipt`` by ``client_msg_id``) point
  at an event that carries it, the acknowledged seq must be that event's, and exactly
  one event of the record may carry it.

``read_record`` reads the record (streams' heads, events, write receipts) straight from
the database with SQL (PostgreSQL through psycopg, SQLite through sqlite3), so it needs
no Django set-up in the calling process.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordEvent:
    stream: str
    seq: int
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Receipt:
    client_msg_id: str
    stream: str
    seq: int | None


@dataclass
class Record:
    heads: dict[str, int]
    events: list[RecordEvent]
    receipts: list[Receipt]

    def event(self, stream: str, seq: int) -> RecordEvent | None:
        index = self._index()
        return index.get((stream, seq))

    def _index(self) -> dict[tuple[str, int], RecordEvent]:
        cached: dict[tuple[str, int], RecordEvent] | None = getattr(self, "_by_key", None)
        if cached is None:
            cached = {(e.stream, e.seq): e for e in self.events}
            self._by_key = cached
        return cached


@dataclass
class WriteLog:
    """One write of the soak, as the client saw it."""

    client_msg_id: str
    kind: str  # ws_message, rest_message, edit, alert_issue, alert_ack, task
    actor: str
    tag: str = ""  # unique text the write put in its event (empty for alert_ack)
    alert_id: int | None = None  # alert_ack: which alert, for which agency
    agency: str = ""
    acked: bool = False
    stream: str = ""  # the stream and seq the acknowledgement named (when it named one)
    seq: int | None = None
    attempts: int = 0
    refused: str = ""  # a 4xx / error code that ended the write (never expected)
    failures: Counter[str] = field(default_factory=Counter)  # what failed before it went in


@dataclass
class StreamProblem:
    socket: str
    stream: str
    head: int
    missing: list[int]
    duplicated: list[int]
    out_of_order: int


@dataclass
class DeliveryReport:
    sockets: int = 0
    subscriptions: int = 0
    deliveries: int = 0
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    problems: list[StreamProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.out_of_order == 0


@dataclass
class WriteReport:
    writes: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    refused: int = 0
    retries: int = 0
    lost: int = 0
    duplicated: int = 0
    seq_mismatch: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.seq_mismatch == 0
            and self.unacknowledged == 0
            and self.refused == 0
        )


def check_stream(socket: str, stream: str, seqs: Sequence[int], head: int) -> StreamProblem | None:
    """``seqs`` (raw, in arrival order) must be exactly 1..head."""
    counts = Counter(seqs)
    missing = [s for s in range(1, head + 1) if counts[s] == 0]
    duplicated = sorted(s for s, n in counts.items() if n > 1)
    beyond = sorted(s for s in counts if s < 1 or s > head)
    out_of_order = sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    if not missing and not duplicated and not beyond and not out_of_order:
        return None
    return StreamProblem(
        socket=socket,
        stream=stream,
        head=head,
        missing=missing,
        duplicated=duplicated + beyond,
        out_of_order=out_of_order,
    )


def check_deliveries(
    deliveries: Mapping[str, Mapping[str, Sequence[int]]],
    heads: Mapping[str, int],
    entitled: Mapping[str, Iterable[str]],
) -> DeliveryReport:
    """``deliveries[socket][stream]``: raw seqs; ``entitled[socket]``: the streams the
    socket's officer may read (and so must have followed from seq 1 to the head)."""
    report = DeliveryReport(sockets=len(deliveries))
    for socket, streams in sorted(entitled.items()):
        held = deliveries.get(socket, {})
        for stream in sorted(streams):
            seqs = list(held.get(stream, []))
            head = heads.get(stream, 0)
            report.subscriptions += 1
            report.deliveries += len(seqs)
            report.expected += head
            problem = check_stream(socket, stream, seqs, head)
            if problem is None:
                continue
            report.lost += len(problem.missing)
            report.duplicated += sum(Counter(seqs)[s] - 1 for s in problem.duplicated if s <= head)
            report.duplicated += sum(1 for s in seqs if s < 1 or s > head)
            report.out_of_order += problem.out_of_order
            report.problems.append(problem)
    return report


TAG = re.compile(r"\[soak:[0-9a-f]{16}\]")


def new_tag() -> str:
    """A unique marker a write puts in its text, found again in the record."""
    return f"[soak:{uuid.uuid4().hex[:16]}]"


def _keys(event: RecordEvent) -> set[str]:
    """What writes an event carries: its soak tags, or the acknowledgement it is."""
    if event.kind == "alert.acknowledged":
        return {f"ack:{event.payload.get('alert_id')}:{event.payload.get('agency')}"}
    return set(TAG.findall(json.dumps(event.payload, ensure_ascii=False)))


def _key(write: WriteLog) -> str:
    return f"ack:{write.alert_id}:{write.agency}" if write.kind == "alert_ack" else write.tag


def _carries(event: RecordEvent, write: WriteLog) -> bool:
    return _key(write) in _keys(event)


def check_writes(writes: Sequence[WriteLog], record: Record) -> WriteReport:
    report = WriteReport(writes=len(writes))
    receipts: dict[str, list[Receipt]] = {}
    for receipt in record.receipts:
        receipts.setdefault(receipt.client_msg_id, []).append(receipt)
    by_key: dict[str, list[RecordEvent]] = {}
    for event in record.events:
        for key in _keys(event):
            by_key.setdefault(key, []).append(event)
    kinds: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for write in writes:
        kinds[write.kind] += 1
        failures.update(write.failures)
        report.retries += max(0, write.attempts - 1)
        carrying = by_key.get(_key(write), []) if _key(write) else []
        if len(carrying) > 1:
            report.duplicated += len(carrying) - 1
            report.problems.append(
                f"{write.kind} {write.client_msg_id}: in {len(carrying)} events "
                f"({', '.join(f'{e.stream}#{e.seq}' for e in carrying)})"
            )
        if write.refused:
            report.refused += 1
            report.problems.append(f"{write.kind} {write.client_msg_id}: refused {write.refused}")
            continue
        if not write.acked:
            report.unacknowledged += 1
            report.problems.append(f"{write.kind} {write.client_msg_id}: never acknowledged")
            continue
        report.acknowledged += 1
        mine = receipts.get(write.client_msg_id, [])
        if len(mine) != 1 or not carrying:
            report.lost += 1
            report.problems.append(
                f"{write.kind} {write.client_msg_id}: acknowledged, but {len(mine)} receipts "
                f"and {len(carrying)} events carry it"
            )
            continue
        receipt = mine[0]
        at = record.event(receipt.stream, receipt.seq) if receipt.seq is not None else None
        if at is None or not _carries(at, write):
            report.lost += 1
            report.problems.append(
                f"{write.kind} {write.client_msg_id}: its receipt names "
                f"{receipt.stream}#{receipt.seq}, which does not carry it"
            )
            continue
        if write.seq is not None and (write.stream, write.seq) != (receipt.stream, receipt.seq):
            report.seq_mismatch += 1
            report.problems.append(
                f"{write.kind} {write.client_msg_id}: acknowledged as {write.stream}#{write.seq},"
                f" recorded as {receipt.stream}#{receipt.seq}"
            )
    report.by_kind = dict(sorted(kinds.items()))
    report.failures = dict(sorted(failures.items()))
    return report


# --- reading the record ---------------------------------------------------------------


def _payload(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode()
    loaded = json.loads(value) if isinstance(value, str) else {}
    return loaded if isinstance(loaded, dict) else {}


def _uuid(value: Any) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


HEADS_SQL = "SELECT name, last_seq FROM events_stream"
EVENTS_SQL = (
    "SELECT s.name, e.seq, e.kind, e.payload FROM events_event e "
    "JOIN events_stream s ON s.id = e.stream_id ORDER BY s.name, e.seq"
)
RECEIPTS_SQL = "SELECT client_msg_id, stream, seq FROM events_writereceipt"


def _query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme == "sqlite":
        path = database_url.removeprefix("sqlite:///")
        lite = sqlite3.connect(path, timeout=30)
        try:
            return list(lite.execute(sql).fetchall())
        finally:
            lite.close()
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as connection:
        return list(connection.execute(sql).fetchall())


def read_heads(database_url: str) -> dict[str, int]:
    return {str(name): int(seq) for name, seq in _query(database_url, HEADS_SQL)}


def read_record(database_url: str) -> Record:
    events = [
        RecordEvent(str(name), int(seq), str(kind), _payload(payload))
        for name, seq, kind, payload in _query(database_url, EVENTS_SQL)
    ]
    receipts = [
        Receipt(_uuid(cid), str(stream), None if seq is None else int(seq))
        for cid, stream, seq in _query(database_url, RECEIPTS_SQL)
    ]
    return Record(heads=read_heads(database_url), events=events, receipts=receipts)
