"""Reads for the live layer: encoded event frames from the record, and who is still signed in.

Replays and gap fills read the same rows as the REST timeline, through the
stream kind's presenter (redacted text stays hidden), and encode each event
frame exactly as ``emit`` published it.

Sign-in state is read fresh for every client frame (``signed_in_user``: one
query) and, for every local socket at once, by the hub's periodic re-check
(``connections_recheck``: a handful of queries whatever the number of sockets).
A socket is signed in while its user is active and, for a bearer socket, its
token is neither revoked nor expired, or, for a browser socket, its session
exists and has not expired.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import import_module
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from hub.accounts.models import ApiToken, User
from hub.agencies.access import READER_ROLES, Access
from hub.agencies.models import CrossingPoint
from hub.agencies.selectors import access_for, accesses_for
from hub.events.pipeline import encode_event_dict
from hub.events.reads import stream_readers
from hub.events.selectors import envelope_dicts_for, events_after, stream_head
from hub.events.streams import (
    can_read_stream,
    parse_stream_name,
    require_readable_stream,
    stream_reader,
)
from hub.queries import one_or_none
from hub.realtime.protocol import (
    REPLAY_PAGE,
    PendingAlert,
    PendingAlerts,
    SeenState,
    StreamReader,
)

Frames = list[tuple[int, str]]
DB_SESSION_ENGINES = frozenset(
    {"django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"}
)


def frames_between(stream: str, *, after: int, upto: int | None = None) -> Frames:
    """Encoded frames of events with after < seq <= upto (one page at most)."""
    rows = events_after(stream, after=after, limit=REPLAY_PAGE, until=upto)
    return [
        (item["seq"], encode_event_dict(item))
        for item in envelope_dicts_for(rows, present_stream=stream)
    ]


def subscription_head(access: Access, stream: str) -> int:
    """The stream's head, if the caller may read it (NotFound otherwise)."""
    require_readable_stream(access, stream)
    return stream_head(stream)


def replay_page(access: Access, stream: str, *, after: int) -> Frames:
    """One page of replay, re-checking that the caller may still read the stream."""
    require_readable_stream(access, stream)
    return frames_between(stream, after=after)


# --- subscribing ---------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionStart:
    access: Access
    head: int
    agencies: tuple[str, ...]


def subscription_start(user: User, stream: str) -> SubscriptionStart:
    """Fresh grants, the stream's head and the presence agencies (NotFound if unreadable)."""
    access = access_for(user)
    require_readable_stream(access, stream)
    return SubscriptionStart(
        access=access, head=stream_head(stream), agencies=presence_agencies(access, stream)
    )


def stream_readable_now(user: User, stream: str) -> tuple[Access, bool]:
    """Fresh grants, and whether they still read ``stream``."""
    access = access_for(user)
    return access, can_read_stream(access, stream)


def _stream_reader(stream: str) -> Callable[[Access], bool] | None:
    """A pure ``can read?`` for this stream's current facts (None: unknown kind or key)."""
    from hub.alerts.permissions import can_read_crossing
    from hub.incidents.models import Incident
    from hub.incidents.permissions import can_read_incident
    from hub.incidents.selectors import incident_facts
    from hub.operations.models import Operation
    from hub.operations.permissions import can_read_operation
    from hub.operations.selectors import operation_facts

    kind, key = parse_stream_name(stream)
    if kind.kind == "incident":
        incident = one_or_none(Incident.objects.filter(ref=key))
        if incident is None:
            return None
        facts = incident_facts(incident)
        return lambda access: can_read_incident(access, facts)
    if kind.kind == "operation":
        operation = one_or_none(Operation.objects.select_related("incident").filter(ref=key))
        if operation is None:
            return None
        op_facts = operation_facts(operation)
        return lambda access: can_read_operation(access, op_facts)
    if kind.kind == "crossing":
        point = CrossingPoint.objects.filter(code=key, is_active=True).values_list("pk", flat=True)
        point_id = point.first()
        if point_id is None:
            return None
        return lambda access: can_read_crossing(access, point_id)
    return None


def presence_agencies(access: Access, stream: str) -> tuple[str, ...]:
    """The agencies under which the caller reads ``stream``: each grant that alone
    would let them read it (for a multi-agency officer, the ones serving that
    stream's crossing point, not simply their first membership)."""
    reader = _stream_reader(stream)
    if reader is None:
        return ()
    return tuple(
        sorted({g.agency_code for g in access.grants if reader(replace(access, grants=(g,)))})
    )


# --- who is still signed in ----------------------------------------------------------


def _db_sessions() -> bool:
    return settings.SESSION_ENGINE in DB_SESSION_ENGINES


def session_is_signed_in(session_key: str, user_id: int) -> bool:
    """True while the session exists, has not expired, and belongs to the user."""
    engine = import_module(settings.SESSION_ENGINE)
    data = engine.SessionStore(session_key).load()
    return bool(data.get(SESSION_KEY) == str(user_id))


def _valid_tokens(token_ids: Iterable[int]) -> dict[int, int]:
    """token id -> user id, for tokens neither revoked nor expired."""
    ids = sorted(set(token_ids))
    if not ids:
        return {}
    rows = (
        ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True)
        .exclude(expires_at__lte=timezone.now())
        .values_list("pk", "user_id")
    )
    return dict(rows)


def signed_in_user(*, user_id: int, session_key: str | None, token_id: int | None) -> User | None:
    """The socket's user, fresh from the database, while it is still signed in; else None.

    One query: the user joined with its token, or with its session (database
    sessions; Django's login always starts a new session key, so a key never
    changes hands). Other session engines are asked through their store.
    """
    now = timezone.now()
    users = User.objects.filter(pk=user_id, is_active=True)
    if token_id is not None:
        valid = ApiToken.objects.filter(
            pk=token_id, user_id=OuterRef("pk"), revoked_at__isnull=True
        ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return one_or_none(users.filter(Exists(valid)))
    if session_key is not None and _db_sessions():
        from django.contrib.sessions.models import Session

        live = Session.objects.filter(session_key=session_key, expire_date__gt=now)
        return one_or_none(users.filter(Exists(live)))
    user = one_or_none(users)
    if user is not None and session_key is not None:
        return user if session_is_signed_in(session_key, user_id) else None
    return user


def connection_recheck(
    *, user_id: int, session_key: str | None, token_id: int | None, streams: list[str]
) -> tuple[bool, Access | None, list[str]]:
    """After an access change: (still signed in?, fresh access, streams now unreadable)."""
    user = signed_in_user(user_id=user_id, session_key=session_key, token_id=token_id)
    if user is None:
        return False, None, streams
    access = access_for(user)
    revoked = [s for s in streams if not can_read_stream(access, s)]
    return True, access, revoked


class ConnectionRef(NamedTuple):
    conn_id: str
    user_id: int
    session_key: str | None
    token_id: int | None


@dataclass(frozen=True)
class BatchRecheck:
    signed_out: frozenset[str]  # connection ids
    access: dict[int, Access]  # user id -> fresh grants (signed-in users only)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (connection id, stream)


def connections_recheck(
    connections: Sequence[ConnectionRef], pairs: Sequence[tuple[str, str]] = ()
) -> BatchRecheck:
    """Every socket of a worker at once: signed in?, fresh grants, and which of ``pairs``
    (connection id, stream) are no longer readable.

    Five queries for any number of sockets (users, tokens, sessions, memberships,
    their crossing points), plus the stream checks of ``pairs`` (the caller bounds them).
    """
    now = timezone.now()
    users = {
        u.pk: u
        for u in User.objects.filter(
            pk__in=sorted({c.user_id for c in connections}), is_active=True
        )
    }
    tokens = _valid_tokens(c.token_id for c in connections if c.token_id is not None)
    keys = sorted({c.session_key for c in connections if c.session_key and c.token_id is None})
    if _db_sessions():
        from django.contrib.sessions.models import Session

        live = set(
            Session.objects.filter(session_key__in=keys, expire_date__gt=now).values_list(
                "session_key", flat=True
            )
        )
    else:
        owner = {c.session_key: c.user_id for c in connections if c.session_key}
        live = {k for k in keys if session_is_signed_in(k, owner[k])}
    signed_out = set()
    for c in connections:
        if c.user_id not in users:
            signed_out.add(c.conn_id)
        elif c.token_id is not None:
            if tokens.get(c.token_id) != c.user_id:
                signed_out.add(c.conn_id)
        elif c.session_key is not None and c.session_key not in live:
            signed_out.add(c.conn_id)
    access = accesses_for(list(users.values()))
    user_of = {c.conn_id: c.user_id for c in connections}
    unreadable = []
    for conn_id, stream in pairs:
        if conn_id in signed_out or conn_id not in user_of:
            continue
        if not can_read_stream(access[user_of[conn_id]], stream):
            unreadable.append((conn_id, stream))
    return BatchRecheck(signed_out=frozenset(signed_out), access=access, unreadable=unreadable)


# --- pending alerts -----------------------------------------------------------------


def _served_pairs(access: Access) -> set[tuple[int, int]]:
    """(crossing point, agency) pairs the caller serves as a reader."""
    return {
        (point, g.agency_id)
        for g in access.grants
        if g.role in READER_ROLES
        for point in g.crossing_point_ids
    }


def pending_alerts_frame(access: Access, crossing_point: str | None = None) -> PendingAlerts:
    """The alerts the caller's agencies still owe an acknowledgement (all points, or one).

    ``agencies`` names only the agencies the caller serves *at that alert's
    crossing point*: an officer of two agencies sees each alert under the one(s)
    that owe it where they serve.
    """
    from hub.alerts.selectors import pending_alerts_for

    points = None
    if crossing_point is not None:
        points = set(CrossingPoint.objects.filter(code=crossing_point).values_list("pk", flat=True))
    now = timezone.now()
    served = _served_pairs(access)
    items = []
    for alert in pending_alerts_for(access, points):
        owed = [
            t
            for t in alert.target_rows.all()
            if (alert.crossing_point_id, t.agency_id) in served and t.acknowledged_at is None
        ]
        if not owed:
            continue
        due = min((t.due_at for t in owed if t.due_at is not None), default=None)
        items.append(
            PendingAlert(
                id=alert.pk,
                crossing_point=alert.crossing_point.code,
                title=alert.title,
                severity=alert.severity,
                exercise=alert.is_exercise,
                due_at=due,
                overdue=due is not None and due <= now,
                agencies=sorted(t.agency.code for t in owed),
                stream=f"crossing:{alert.crossing_point.code}",
            )
        )
    return PendingAlerts(type="pending_alerts", crossing_point=crossing_point, alerts=items)


# --- read markers and notices -------------------------------------------------------


def seen_state_frame(stream: str) -> SeenState:
    """Everyone's read marker on ``stream`` who can still read it (``seen_state``).

    No check of the caller: sent right after their subscription was authorized.
    """
    return SeenState(
        type="seen_state",
        stream=stream,
        readers=[
            StreamReader(user=r.username, name=r.name, agency=r.agency, seq=r.seq)
            for r in stream_readers(stream)
        ],
    )


def readers_among(stream: str, user_ids: Sequence[int]) -> set[int]:
    """Which of ``user_ids`` can read ``stream`` now (fresh grants; a few queries for all).

    Notices go only to these: the check is made after the change committed, on
    the database's current state, not on a socket's cached grants.
    """
    if not user_ids:
        return set()
    reader = stream_reader(stream)
    users = list(User.objects.filter(pk__in=sorted(set(user_ids)), is_active=True))
    return {uid for uid, access in accesses_for(users).items() if reader(access)}
