"""Reads of the record: stream heads, keyset pages of events, envelopes.

Paging is keyset on ``(stream, seq)``, forward (``seq > after ORDER BY seq
LIMIT n``) and backward (``seq < before ORDER BY seq DESC LIMIT n``, handed
back in ascending order): constant time at any depth, unlike OFFSET, and never
a COUNT(*). Filters (``hub.events.filters``) narrow the same keyset read; the
count of what they keep (``events_matched``) is a separate query, run only when
a caller asks for it.

Snapshots (``stream_snapshot``): an endpoint that returns some state together
with "the seq this state reflects" must read both as of one moment. Read in
separate statements, a change committed in between gives a seq that claims a
change the state does not contain (or the reverse), and a client that resumes
after that seq misses the change for good. ``stream_snapshot`` holds the named
streams' heads still while the caller reads the state:

- PostgreSQL: inside one transaction, ``SELECT ... FOR SHARE`` on the stream
  rows. ``emit`` takes ``FOR UPDATE`` on its stream row and keeps it until its
  transaction commits, so while the share lock is held no change to these
  streams can commit, and one that was in flight has committed before the lock
  was granted (READ COMMITTED: each later statement then sees it);
- SQLite: the transaction is ``BEGIN IMMEDIATE`` (``hub.config``), which holds
  the database's write lock, so no writer commits until the snapshot is read
  (and WAL gives the transaction one read snapshot besides).

Lock order: rows are share-locked in name order, the order ``lock_streams``
uses, and the caller must take no other lock inside the block.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import QuerySet

from hub.agencies.access import Access
from hub.events.filters import EventFilter
from hub.events.models import Event, Stream
from hub.events.pipeline import actor_ref
from hub.events.streams import require_readable_stream
from hub.events.types import ActorRef, EventEnvelope

# Events a page holds at most. A client that missed more than the socket replays
# (RESYNC_THRESHOLD) reads them over REST; each page costs its request, sign-in, access
# check and queries once, so at 500 a page the 20 pages of 10,000 missed events took
# about a fifth of the resume (PostgreSQL: 1,172-1,285 ms at 500, 946-964 ms at 2,000).
MAX_PAGE = 2000


def stream_head(name: str) -> int:
    """The stream's last seq (0 for a stream that has no events yet)."""
    return Stream.objects.filter(name=name).values_list("last_seq", flat=True).first() or 0


def stream_heads(names: Sequence[str]) -> dict[str, int]:
    heads = dict(Stream.objects.filter(name__in=list(names)).values_list("name", "last_seq"))
    return {name: heads.get(name, 0) for name in names}


def _heads_held(names: Sequence[str]) -> dict[str, int]:
    """Heads of ``names``, share-locked until the transaction ends (PostgreSQL)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Stream._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT name, last_seq FROM {table} "  # noqa: S608 (the table name is ours)
                "WHERE name = ANY(%s) ORDER BY name FOR SHARE",
                [wanted],
            )
            found = dict(cursor.fetchall())
        return {name: found.get(name, 0) for name in names}
    return stream_heads(names)  # the IMMEDIATE transaction already keeps writers out


@contextmanager
def stream_snapshot(names: Sequence[str]) -> Iterator[dict[str, int]]:
    """Hold the heads of ``names`` still while the block reads the state they describe.

    Yields ``{name: last_seq}`` (0 for a stream with no events yet). Everything
    the block reads about these streams' state is as of those seqs: no change to
    them commits until the block ends. Keep the block to reads, and short.
    """
    with transaction.atomic():
        yield _heads_held(names)


def _filtered(
    name: str, *, kind_prefix: str = "", event_filter: EventFilter | None = None
) -> QuerySet[Event]:
    """The stream's events under the kind prefix and the filter (no bound, no order).

    The stream is looked up first and compared by id (like the agency and the
    officer in ``EventFilter.narrow``): with the id in the query, PostgreSQL's
    planner walks ``event_unique_stream_seq`` in seq order and stops at the LIMIT;
    with a join on the name it cannot estimate the stream's rows and sorted every
    matching row of a 100,000-event stream instead.
    """
    stream_id = Stream.objects.filter(name=name).values_list("pk", flat=True).first()
    if stream_id is None:
        return Event.objects.none()
    qs: QuerySet[Event] = Event.objects.filter(stream_id=stream_id)
    if kind_prefix:
        qs = qs.filter(kind__startswith=kind_prefix)
    if event_filter is not None:
        qs = event_filter.narrow(qs)
    return qs


class EventRow(NamedTuple):
    """An event's columns as readers see them, without a model instance.

    Pages are read as plain rows: building an Event, User, Agency and Stream
    instance per event was most of a replay's CPU. The actors and agencies of a
    page are read once (``envelopes_for``).
    """

    seq: int
    kind: str
    at: datetime
    payload: dict[str, Any]
    actor_id: int | None
    actor_agency_id: int | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: Event) -> EventRow:
        """The row of an Event instance already loaded."""
        return cls(
            event.seq,
            event.kind,
            event.at,
            event.payload,
            event.actor_id,
            event.actor_agency_id,
            event.prev_hash,
            event.hash,
        )


ROW_FIELDS = ("seq", "kind", "at", "payload", "actor_id", "actor_agency_id", "prev_hash", "hash")


def events_after(
    name: str,
    *,
    after: int,
    limit: int,
    until: int | None = None,
    kind_prefix: str = "",
    event_filter: EventFilter | None = None,
) -> list[EventRow]:
    """The oldest ``limit`` events with ``after < seq <= until`` that pass the kind
    prefix and ``event_filter``, in ascending seq order (a keyset read on
    ``(stream, seq)``: it walks the index from ``after`` and stops at ``limit`` rows)."""
    qs = _filtered(name, kind_prefix=kind_prefix, event_filter=event_filter).filter(seq__gt=after)
    if until is not None:
        qs = qs.filter(seq__lte=until)
    rows = qs.order_by("seq").values_list(*ROW_FIELDS)[: min(limit, MAX_PAGE)]
    return [EventRow(*row) for row in rows]


def envelopes_after(
    name: str, *, after: int, limit: int, until: int | None = None
) -> list[EventEnvelope]:
    """``envelopes_for(events_after(...), present_stream=name)``: replay and resume."""
    return envelopes_for(
        events_after(name, after=after, limit=limit, until=until), present_stream=name
    )


def events_before(
    name: str,
    *,
    before: int,
    limit: int,
    after: int = 0,
    kind_prefix: str = "",
    event_filter: EventFilter | None = None,
) -> list[EventRow]:
    """The newest ``limit`` events with ``after < seq < before`` that pass the kind
    prefix and ``event_filter``, in ascending seq order (the index walked backward)."""
    qs = _filtered(name, kind_prefix=kind_prefix, event_filter=event_filter).filter(seq__lt=before)
    if after > 0:
        qs = qs.filter(seq__gt=after)
    rows = qs.order_by("-seq").values_list(*ROW_FIELDS)[: min(limit, MAX_PAGE + 1)]
    return [EventRow(*row) for row in reversed(rows)]


def events_matched(
    name: str, *, until: int, kind_prefix: str = "", event_filter: EventFilter | None = None
) -> int:
    """How many events with ``seq <= until`` pass the kind prefix and the filter.

    A COUNT over the filtered rows: asked for explicitly (``count=true``), never on
    the paging path.
    """
    return (
        _filtered(name, kind_prefix=kind_prefix, event_filter=event_filter)
        .filter(seq__lte=until)
        .count()
    )


def _presented(
    events: Sequence[EventRow], present_stream: str
) -> tuple[list[ActorRef | None], list[dict[str, Any]]]:
    """Each row's actor and its payload as readers see it (the stream kind's presenter
    masks payloads), with the page's actors and agencies read once."""
    from hub.accounts.models import User
    from hub.agencies.models import Agency
    from hub.events.streams import parse_stream_name

    users = User.objects.only("id", "username", "first_name", "last_name").in_bulk(
        {e.actor_id for e in events if e.actor_id is not None}
    )
    agencies = Agency.objects.only("id", "code", "name").in_bulk(
        {e.actor_agency_id for e in events if e.actor_agency_id is not None}
    )
    refs: dict[tuple[int | None, int | None], ActorRef | None] = {}
    for e in events:
        key = (e.actor_id, e.actor_agency_id)
        if key not in refs:
            refs[key] = actor_ref(
                users.get(e.actor_id) if e.actor_id is not None else None,
                agencies.get(e.actor_agency_id) if e.actor_agency_id is not None else None,
            )
    kind, _ = parse_stream_name(present_stream)
    payloads = kind.present(events) if kind.present is not None else [e.payload for e in events]
    return [refs[(e.actor_id, e.actor_agency_id)] for e in events], payloads


def envelopes_for(events: Sequence[EventRow], *, present_stream: str) -> list[EventEnvelope]:
    """Envelopes of one stream's rows as readers see them (the stream kind's presenter
    masks payloads), with the page's actors and agencies read once."""
    if not events:
        return []
    actors, payloads = _presented(events, present_stream)
    return [
        EventEnvelope(
            stream=present_stream,
            seq=e.seq,
            kind=e.kind,
            at=e.at,
            actor=actor,
            payload=payload,
        )
        for e, actor, payload in zip(events, actors, payloads, strict=True)
    ]


def json_time(at: datetime) -> str:
    """An aware time in the form EventEnvelope's JSON gives it (pydantic's: UTC as
    ``Z``, microseconds only when there are any)."""
    text = at.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def envelope_dicts_for(events: Sequence[EventRow], *, present_stream: str) -> list[dict[str, Any]]:
    """``envelopes_for``'s envelopes as JSON-ready dicts, each equal to its envelope's
    ``model_dump(mode="json")``, without building and dumping a model per event (a
    sixth of a catching-up client's REST page). The record's rows are typed already:
    a seq, a kind, an aware time, a JSON payload. tests/integration/test_replay_rows.py
    checks the two agree on every event of the demo record."""
    if not events:
        return []
    actors, payloads = _presented(events, present_stream)
    dumped: dict[int, dict[str, Any] | None] = {}
    items = []
    for e, actor, payload in zip(events, actors, payloads, strict=True):
        key = id(actor)
        if key not in dumped:
            dumped[key] = actor.model_dump(mode="json") if actor is not None else None
        items.append(
            {
                "stream": present_stream,
                "seq": e.seq,
                "kind": e.kind,
                "at": json_time(e.at),
                "actor": dumped[key],
                "payload": payload,
            }
        )
    return items


@dataclass(frozen=True)
class EventPageRead:
    """One page of a stream as a reader sees it, with the cursors around it.

    ``next_after``: pass as ``after`` for the next newer page (None when caught up).
    ``prev_before``: pass as ``before`` for the next older page (None when nothing
    older is left: the page starts at the stream's start, or at ``after``).
    ``matched``: how many events up to ``head`` pass the filters (None unless asked).
    """

    stream: str
    events: list[EventRow]
    head: int
    next_after: int | None
    prev_before: int | None
    matched: int | None = None

    @cached_property
    def envelopes(self) -> list[EventEnvelope]:
        return envelopes_for(self.events, present_stream=self.stream)

    def envelope_dicts(self) -> list[dict[str, Any]]:
        """The envelopes as JSON-ready dicts (``envelope_dicts_for``)."""
        return envelope_dicts_for(self.events, present_stream=self.stream)


def stream_page_for(
    access: Access,
    name: str,
    *,
    after: int = 0,
    before: int | None = None,
    limit: int,
    kind_prefix: str = "",
    event_filter: EventFilter | None = None,
    count: bool = False,
) -> EventPageRead:
    """A readable page of a stream. NotFound if the stream is not the caller's.

    Without ``before``: the oldest ``limit`` events with seq > ``after`` (replay,
    catching up). With ``before``: the newest ``limit`` events with
    ``after < seq < before`` (scrolling back through a timeline), still in
    ascending order.

    Under a kind prefix or an ``event_filter`` the page holds only the events that
    pass, and the cursors work the same way over them: a seq is never skipped or
    repeated by walking ``next_after`` forward or ``prev_before`` backward, because
    each cursor is a seq bound (not a position) and the rows below the head never
    change. ``count``: also count every event up to the head that passes
    (``matched``), one more query.
    """
    require_readable_stream(access, name)
    head = stream_head(name)
    limit = min(limit, MAX_PAGE)
    # Events are immutable and every seq <= head has committed: bounding the page
    # by the head read first makes "head" true of the page it comes with.
    if before is None:
        events = events_after(
            name,
            after=after,
            limit=limit,
            until=head,
            kind_prefix=kind_prefix,
            event_filter=event_filter,
        )
        last = events[-1].seq if events else after
        more = bool(events) and len(events) == limit and last < head
        next_after = last if more else None
        # seqs are gap-free: with after >= 1 and a non-empty stream, seq 1 is older.
        # (Under a kind filter that older page may turn out empty.)
        prev_before = min(after, head) + 1 if after > 0 and head > 0 else None
    else:
        upper = min(before, head + 1)
        # One row more than the page says whether anything older is left.
        window = events_before(
            name,
            before=upper,
            limit=limit + 1,
            after=after,
            kind_prefix=kind_prefix,
            event_filter=event_filter,
        )
        events = window[-limit:]
        prev_before = events[0].seq if len(window) > limit else None
        newest_read = max(after, upper - 1)
        next_after = newest_read if newest_read < head else None
    matched = (
        events_matched(name, until=head, kind_prefix=kind_prefix, event_filter=event_filter)
        if count
        else None
    )
    return EventPageRead(
        stream=name,
        events=events,
        head=head,
        next_after=next_after,
        prev_before=prev_before,
        matched=matched,
    )


def stream_events_for(
    access: Access, name: str, *, after: int, limit: int, kind_prefix: str = ""
) -> tuple[list[EventRow], list[EventEnvelope], int]:
    """A readable page of a stream: (events, envelopes, head). NotFound if not the caller's."""
    page = stream_page_for(access, name, after=after, limit=limit, kind_prefix=kind_prefix)
    return page.events, page.envelopes, page.head
