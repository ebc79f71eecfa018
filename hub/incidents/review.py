"""The review of one incident, as senior officials read it: milestones, each agency's
first response, the acknowledgements of linked alerts, who acted, and whether the
record verifies.

Everything is computed from the incident's own stream (``incident:<REF>``), never
from the domain tables, so a review says what the record says. The computation is
a set of pure functions over ``Happening`` rows in seq order (``milestones``,
``first_responses``, ``alert_acks``, ``participants``); ``incident_review`` reads
the rows they need and checks who may ask.

Definitions (the API documents them too, ``hub.incidents.review_api``):

- a milestone is the *first* time it was reached: ``reported`` is the
  ``incident.reported`` event; ``triaged``, ``active``, ``resolved`` and
  ``closed`` the first ``incident.transitioned`` into that status (a reopened
  incident keeps its first resolution); ``lead_set`` is the first
  ``incident.lead_changed`` (a coordinator designating the lead), and, when the
  lead was never changed, the lead the report gave (the reporting agency), i.e.
  the report itself;
- an agency is invited by the report (when the report names it as a participant)
  or by its ``incident.agency_invited`` event; its first response is the first
  event after that by an officer acting for it (a message, a transition, an
  acknowledgement, anything an officer did); the reporting agency has none;
- an alert acknowledgement row is one per (linked alert, targeted agency), from
  ``alert.issued`` (targets, time) and the first ``alert.acknowledged`` of that
  agency; the title is the latest the stream records (``alert.updated``).

Durations are whole seconds (rounded down) from the report, or from the invitation
or issue; all are read as of the stream's head, bounded by ``seq <= head``, so the
answer is consistent without holding any lock while it is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Min
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.models import Agency
from hub.agencies.selectors import access_for
from hub.errors import NotFound
from hub.events.audit import verify_stream_checkpointed
from hub.events.models import GENESIS_HASH, Event, Stream
from hub.incidents.permissions import can_review_incident
from hub.incidents.selectors import incident_for
from hub.security import refuse

MILESTONE_KEYS = ("reported", "triaged", "lead_set", "active", "resolved", "closed")
STATUS_MILESTONES = frozenset({"triaged", "active", "resolved", "closed"})
# The kinds the milestones, invitations and alert rows are made of.
KEY_KINDS = (
    "incident.reported",
    "incident.transitioned",
    "incident.lead_changed",
    "incident.agency_invited",
    "alert.issued",
    "alert.updated",
    "alert.acknowledged",
)


@dataclass(frozen=True)
class Happening:
    """One event as the review reads it."""

    seq: int
    kind: str
    at: datetime
    agency: str | None  # the code of the agency the actor acted for
    by_officer: bool  # an officer acted (False: the hub itself, e.g. a reminder)
    payload: dict[str, Any]


@dataclass(frozen=True)
class Milestone:
    key: str
    at: datetime | None
    seq: int | None
    after_seconds: int | None


@dataclass(frozen=True)
class FirstResponse:
    agency: str
    invited_at: datetime | None
    invited_seq: int | None
    at: datetime | None
    seq: int | None
    after_seconds: int | None
    after_invite_seconds: int | None


@dataclass(frozen=True)
class AlertAck:
    alert_id: int
    title: str
    agency: str
    ack_required: bool
    issued_at: datetime
    issued_seq: int
    at: datetime | None
    seq: int | None
    after_seconds: int | None
    after_issue_seconds: int | None


@dataclass(frozen=True)
class Verification:
    ok: bool
    through_seq: int
    broken_seq: int | None
    reason: str | None
    verified_at: datetime
    checkpoint: int | None = None
    checkpoint_at: str | None = None
    checkpoint_seq: int | None = None
    key_id: str | None = None


@dataclass(frozen=True)
class ReviewActor:
    username: str
    name: str
    agency: str | None


@dataclass(frozen=True)
class IncidentReview:
    ref: str
    crossing_point: str
    timezone: str
    reported_at: datetime
    head: int
    head_hash: str
    milestones: list[Milestone]
    first_responses: list[FirstResponse]
    alert_acks: list[AlertAck]
    verification: Verification
    actors: list[ReviewActor]
    agencies: list[str]


# --- pure computation ---------------------------------------------------------------


def seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from ``start`` to ``end`` (rounded down); None if either is None."""
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() // 1)


def report_of(events: Iterable[Happening]) -> Happening | None:
    return next((e for e in events if e.kind == "incident.reported"), None)


def milestones(events: Sequence[Happening]) -> list[Milestone]:
    """The six milestones in order, each the first time it was reached (None: not yet)."""
    reported = report_of(events)
    reached: dict[str, Happening] = {}
    if reported is not None:
        reached["reported"] = reported
    for e in events:
        if e.kind == "incident.transitioned":
            status = e.payload.get("to_status")
            if status in STATUS_MILESTONES and status not in reached:
                reached[str(status)] = e
        elif e.kind == "incident.lead_changed" and "lead_set" not in reached:
            reached["lead_set"] = e
    if "lead_set" not in reached and reported is not None:
        reached["lead_set"] = reported
    start = reported.at if reported is not None else None
    out: list[Milestone] = []
    for key in MILESTONE_KEYS:
        hit = reached.get(key)
        out.append(
            Milestone(
                key=key,
                at=hit.at if hit else None,
                seq=hit.seq if hit else None,
                after_seconds=seconds_between(start, hit.at) if hit else None,
            )
        )
    return out


def invitations(events: Sequence[Happening]) -> dict[str, Happening]:
    """Each participating agency other than the reporting one -> the event that made
    it a participant (the report, or its ``incident.agency_invited``), in seq order."""
    reported = report_of(events)
    reporting = str(reported.payload.get("reporting_agency", "")) if reported else ""
    invited: dict[str, Happening] = {}
    if reported is not None:
        for code in reported.payload.get("participating_agencies", []):
            if code != reporting:
                invited.setdefault(str(code), reported)
    for e in events:
        if e.kind == "incident.agency_invited":
            code = str(e.payload.get("agency", ""))
            if code and code != reporting:
                invited.setdefault(code, e)
    return invited


def participants(events: Sequence[Happening]) -> list[str]:
    """Every participating agency (the reporting one too), by code."""
    reported = report_of(events)
    codes = set(invitations(events))
    if reported is not None:
        codes |= {str(c) for c in reported.payload.get("participating_agencies", [])}
        codes.add(str(reported.payload.get("reporting_agency", "")))
    codes.discard("")
    return sorted(codes)


def first_responses(events: Sequence[Happening]) -> list[FirstResponse]:
    """Each invited agency's first officer action after its invitation, in invitation
    order (then by code). ``events`` must hold, at least, every event that could be
    that first action (all of them will do)."""
    reported = report_of(events)
    start = reported.at if reported is not None else None
    out: list[FirstResponse] = []
    invited = sorted(invitations(events).items(), key=lambda item: (item[1].seq, item[0]))
    for code, invite in invited:
        first = next(
            (e for e in events if e.seq > invite.seq and e.by_officer and e.agency == code),
            None,
        )
        out.append(
            FirstResponse(
                agency=code,
                invited_at=invite.at,
                invited_seq=invite.seq,
                at=first.at if first else None,
                seq=first.seq if first else None,
                after_seconds=seconds_between(start, first.at) if first else None,
                after_invite_seconds=seconds_between(invite.at, first.at) if first else None,
            )
        )
    return out


def alert_acks(events: Sequence[Happening]) -> list[AlertAck]:
    """One row per linked alert and targeted agency, in issue order then agency code:
    the agency's first acknowledgement, or None."""
    reported = report_of(events)
    start = reported.at if reported is not None else None
    issued: dict[int, Happening] = {}
    titles: dict[int, str] = {}
    acks: dict[tuple[int, str], Happening] = {}
    for e in events:
        alert_id = e.payload.get("alert_id")
        if not isinstance(alert_id, int):
            continue
        if e.kind == "alert.issued":
            issued.setdefault(alert_id, e)
            titles[alert_id] = str(e.payload.get("title", ""))
        elif e.kind == "alert.updated":
            change = (e.payload.get("changes") or {}).get("title")
            if isinstance(change, dict) and change.get("new") is not None:
                titles[alert_id] = str(change["new"])
        elif e.kind == "alert.acknowledged":
            acks.setdefault((alert_id, str(e.payload.get("agency", ""))), e)
    out: list[AlertAck] = []
    for alert_id, issue in sorted(issued.items(), key=lambda item: item[1].seq):
        for code in sorted(str(t) for t in issue.payload.get("targets", [])):
            ack = acks.get((alert_id, code))
            out.append(
                AlertAck(
                    alert_id=alert_id,
                    title=titles.get(alert_id, ""),
                    agency=code,
                    ack_required=bool(issue.payload.get("ack_required", True)),
                    issued_at=issue.at,
                    issued_seq=issue.seq,
                    at=ack.at if ack else None,
                    seq=ack.seq if ack else None,
                    after_seconds=seconds_between(start, ack.at) if ack else None,
                    after_issue_seconds=seconds_between(issue.at, ack.at) if ack else None,
                )
            )
    return out


# --- reading the record ---------------------------------------------------------------

_COLUMNS = ("seq", "kind", "at", "actor_id", "actor_agency__code", "payload")


def _happening(row: tuple[Any, ...]) -> Happening:
    seq, kind, at, actor_id, agency, payload = row
    return Happening(
        seq=seq, kind=kind, at=at, agency=agency, by_officer=actor_id is not None, payload=payload
    )


def review_events(stream_id: int, head: int) -> list[Happening]:
    """The key events up to ``head``, and each invited agency's first officer action
    after its invitation: enough for every pure function above, without reading the
    whole stream (one keyset query per invited agency)."""
    rows = Event.objects.filter(stream_id=stream_id, seq__lte=head)
    key = [
        _happening(r)
        for r in rows.filter(kind__in=KEY_KINDS).order_by("seq").values_list(*_COLUMNS)
    ]
    found = {e.seq: e for e in key}
    invited = invitations(key)
    # By id, not by a join on the code: the query stays a walk of (stream, seq).
    agency_ids = dict(Agency.objects.filter(code__in=list(invited)).values_list("code", "pk"))
    for code, invite in invited.items():
        if code not in agency_ids:
            continue
        first = (
            rows.filter(seq__gt=invite.seq, actor_agency_id=agency_ids[code], actor__isnull=False)
            .order_by("seq")
            .values_list(*_COLUMNS)
            .first()
        )
        if first is not None:
            found.setdefault(first[0], _happening(first))
    return [found[seq] for seq in sorted(found)]


def _actors(stream_id: int, head: int) -> list[ReviewActor]:
    """Everyone who acted on the stream, once each, with the agency they first acted for."""
    rows = Event.objects.filter(stream_id=stream_id, seq__lte=head, actor__isnull=False)
    firsts = rows.values("actor_id").annotate(first=Min("seq")).values_list("first", flat=True)
    agency_by_user = dict(
        rows.filter(seq__in=list(firsts)).values_list("actor_id", "actor_agency__code")
    )
    users = User.objects.filter(pk__in=list(agency_by_user)).order_by("username")
    return [ReviewActor(u.username, u.display_name, agency_by_user[u.pk]) for u in users]


def _verification(stream_name: str, now: datetime) -> Verification:
    # The chain, and its head in the latest signed checkpoint covering it (that
    # checkpoint's signature and root too); the whole checkpoint log is checked by
    # audit_verify and GET /api/v1/audit/verify.
    found = verify_stream_checkpointed(stream_name)
    broken = found.broken
    return Verification(
        ok=broken is None,
        through_seq=broken.seq - 1 if broken is not None else found.events_checked,
        broken_seq=broken.seq if broken is not None else None,
        reason=broken.reason if broken is not None else None,
        verified_at=now,
        checkpoint=found.checkpoint,
        checkpoint_at=found.checkpoint_at,
        checkpoint_seq=found.checkpoint_seq,
        key_id=found.key_id,
    )


def incident_review(*, actor: User, ref: str, now: datetime | None = None) -> IncidentReview:
    """The review of incident ``ref`` for ``actor``.

    NotFound (logged as ``incident.review``) when the actor may not read the
    incident; Forbidden (logged) when they may read it but not review it
    (``can_review_incident``). Verifies the stream's hash chain now: that reads
    the whole stream, once, outside any transaction that would hold writers back.
    """
    access = access_for(actor)
    found = incident_for(access, ref, action="incident.review")
    if found is None:
        raise NotFound("Not found.")
    incident, facts = found
    decision = can_review_incident(access, facts)
    if not decision:
        refuse(access, action="incident.review", target=ref, reason=decision.reason)
    stream = Stream.objects.filter(name=incident.stream_name).first()
    stream_id, head, head_hash = (
        (stream.pk, stream.last_seq, stream.last_hash) if stream else (0, 0, GENESIS_HASH)
    )
    events = review_events(stream_id, head)
    reported = report_of(events)
    return IncidentReview(
        ref=incident.ref,
        crossing_point=incident.crossing_point.code,
        timezone=incident.crossing_point.timezone,
        reported_at=reported.at if reported is not None else incident.created_at,
        head=head,
        head_hash=head_hash,
        milestones=milestones(events),
        first_responses=first_responses(events),
        alert_acks=alert_acks(events),
        verification=_verification(incident.stream_name, now or timezone.now()),
        actors=_actors(stream_id, head),
        agencies=participants(events),
    )
