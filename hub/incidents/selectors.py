"""Reads of incidents and their messages, always scoped to what the caller may see.

Snapshots (``incident_snapshot``, ``incidents_snapshot``, ``incident_state``,
``messages_snapshot``) return state together with the incident stream's seq it
reflects, read under ``hub.events.selectors.stream_snapshot``: a client that
applies the events after that seq to that state gets the current state, with no
change missed or applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from hub.agencies.access import OPERATIONAL_ROLES, Access
from hub.agencies.models import Role
from hub.events.reads import read_seqs
from hub.events.selectors import stream_head, stream_snapshot
from hub.events.streams import EventLike
from hub.incidents.models import Incident, Message, Participation
from hub.incidents.permissions import IncidentFacts, can_read_incident
from hub.queries import one_or_none
from hub.security import log_denial

MAX_LIMIT = 200


def incident_facts(incident: Incident) -> IncidentFacts:
    participants = frozenset(
        Participation.objects.filter(incident_id=incident.pk).values_list("agency_id", flat=True)
    )
    return IncidentFacts(
        id=incident.pk,
        ref=incident.ref,
        crossing_point_id=incident.crossing_point_id,
        status=incident.status,
        visibility=incident.visibility,
        lead_agency_id=incident.lead_agency_id,
        participant_ids=participants,
        reported_by_id=incident.reported_by_id,
    )


def _base() -> QuerySet[Incident]:
    return Incident.objects.select_related(
        "crossing_point", "reporting_agency", "lead_agency", "reported_by"
    ).prefetch_related("participating_agencies")


def visibility_filter(access: Access) -> Q:
    """A Q matching exactly the incidents ``can_read_incident`` allows."""
    q = Q(pk__in=[])
    if not access.is_active:
        return q
    for grant in access.grants:
        points = list(grant.crossing_point_ids)
        if not points:
            continue
        if grant.role == Role.SENIOR_OFFICIAL:
            q |= Q(crossing_point_id__in=points)
        elif grant.role in OPERATIONAL_ROLES:
            participates = Exists(
                Participation.objects.filter(incident=OuterRef("pk"), agency_id=grant.agency_id)
            )
            q |= Q(crossing_point_id__in=points) & (
                Q(visibility="crossing_point") | Q(participates)
            )
    return q


@dataclass(frozen=True)
class IncidentFilters:
    crossing_point: str | None = None
    status: str | None = None
    category: str | None = None
    severity: str | None = None
    agency: str | None = None
    text: str | None = None


def incidents_visible_to(
    access: Access,
    filters: IncidentFilters | None = None,
    *,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Newest first; ``before_id`` is the keyset cursor of the next page."""
    qs = _base().filter(visibility_filter(access))
    f = filters or IncidentFilters()
    if f.crossing_point:
        qs = qs.filter(crossing_point__code=f.crossing_point)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.category:
        qs = qs.filter(category=f.category)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.agency:
        qs = qs.filter(
            Exists(Participation.objects.filter(incident=OuterRef("pk"), agency__code=f.agency))
        )
    if f.text:
        qs = qs.filter(
            Q(title__icontains=f.text) | Q(description__icontains=f.text) | Q(ref__icontains=f.text)
        )
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    return list(qs.order_by("-id")[: max(1, min(limit, MAX_LIMIT))])


def incident_for(
    access: Access, ref: str, *, action: str = "incident.read"
) -> tuple[Incident, IncidentFacts] | None:
    """The incident and its facts if the caller may read it, else None.

    A refusal of an incident that exists is logged (``hub.security``) as ``action``.
    """
    if not isinstance(ref, str) or len(ref) > 32:
        return None
    incident = one_or_none(_base().filter(ref=ref))
    if incident is None:
        return None
    facts = incident_facts(incident)
    if not can_read_incident(access, facts):
        log_denial(access, action=action, target=ref, reason="cannot see this incident")
        return None
    return incident, facts


def incident_head(incident: Incident) -> int:
    """The stream's head now: not a snapshot of the incident (see ``incident_snapshot``)."""
    return stream_head(incident.stream_name)


def _stream_name(ref: str) -> str:
    return f"incident:{ref}"


def incident_snapshot(
    access: Access, ref: str, *, action: str = "incident.read"
) -> tuple[Incident, IncidentFacts, int] | None:
    """The incident, its facts and the seq they reflect, if the caller may read it
    (a refusal is logged as ``action``, as ``incident_for`` does)."""
    if not isinstance(ref, str) or len(ref) > 32:
        return None
    name = _stream_name(ref)
    with stream_snapshot([name]) as heads:
        found = incident_for(access, ref, action=action)
        if found is None:
            return None
        return found[0], found[1], heads[name]


def incident_state(incident: Incident) -> tuple[Incident, int]:
    """A fresh read of ``incident`` and the seq it reflects (no access check: the
    caller has just changed it through a service, which checked)."""
    with stream_snapshot([incident.stream_name]) as heads:
        return _base().get(pk=incident.pk), heads[incident.stream_name]


def incidents_snapshot(
    access: Access,
    filters: IncidentFilters | None = None,
    *,
    before_id: int | None = None,
    limit: int = 50,
) -> list[tuple[Incident, int]]:
    """``incidents_visible_to``, each incident with the seq its state reflects.

    The page is chosen first; then its streams' heads are held and the incidents
    re-read, so each (state, seq) pair is consistent. One that stopped being
    visible in between is left out.
    """
    with transaction.atomic():
        page = incidents_visible_to(access, filters, before_id=before_id, limit=limit)
        if not page:
            return []
        with stream_snapshot([i.stream_name for i in page]) as heads:
            fresh = {
                i.pk: i
                for i in _base().filter(visibility_filter(access), pk__in=[i.pk for i in page])
            }
        return [(fresh[i.pk], heads[i.stream_name]) for i in page if i.pk in fresh]


# --- with the caller's read marker (IncidentOut.read_seq) ---------------------------


def incidents_listed(
    access: Access,
    filters: IncidentFilters | None = None,
    *,
    before_id: int | None = None,
    limit: int = 50,
) -> list[tuple[Incident, int, int]]:
    """``incidents_snapshot``, each incident with the caller's read marker on its
    stream (0 where none): one more query for the whole page."""
    items = incidents_snapshot(access, filters, before_id=before_id, limit=limit)
    marks = read_seqs(user_id=access.user_id, streams=[i.stream_name for i, _ in items])
    return [(incident, seq, marks[incident.stream_name]) for incident, seq in items]


def incident_detail_snapshot(access: Access, ref: str) -> tuple[Incident, int, int] | None:
    """``incident_snapshot`` (incident, seq) and the caller's read marker, if readable."""
    found = incident_snapshot(access, ref)
    if found is None:
        return None
    incident, _, seq = found
    return (
        incident,
        seq,
        read_seqs(user_id=access.user_id, streams=[incident.stream_name])[incident.stream_name],
    )


def incident_written(incident: Incident, *, user_id: int) -> tuple[Incident, int, int]:
    """``incident_state`` after a write, and the writer's read marker on its stream."""
    fresh, seq = incident_state(incident)
    return fresh, seq, read_seqs(user_id=user_id, streams=[fresh.stream_name])[fresh.stream_name]


def messages_snapshot(
    access: Access, ref: str, *, after_seq: int = 0, limit: int = 100
) -> tuple[list[Message], int] | None:
    """A page of the incident's messages and the seq it reflects, if the caller may read it."""
    if not isinstance(ref, str) or len(ref) > 32:
        return None
    name = _stream_name(ref)
    with stream_snapshot([name]) as heads:
        found = incident_for(access, ref)
        if found is None:
            return None
        return messages_for(found[0], after_seq=after_seq, limit=limit), heads[name]


def messages_for(incident: Incident, *, after_seq: int = 0, limit: int = 100) -> list[Message]:
    return list(
        Message.objects.filter(incident=incident, seq__gt=after_seq)
        .select_related("author", "agency", "redacted_by")
        .prefetch_related("attachment_links")
        .order_by("seq")[: max(1, min(limit, MAX_LIMIT))]
    )


# --- stream registration -----------------------------------------------------------


def incident_stream_readable(access: Access, key: str) -> bool:
    return incident_for(access, key, action="stream.read") is not None


def incident_stream_reader(key: str) -> Callable[[Access], bool] | None:
    """A pure "can read?" over the incident's facts, read once (None: no such incident)."""
    if len(key) > 32:
        return None
    incident = Incident.objects.filter(ref=key).first()
    if incident is None:
        return None
    facts = incident_facts(incident)
    return lambda access: can_read_incident(access, facts)


def incident_stream_names(access: Access) -> list[str]:
    refs = Incident.objects.filter(visibility_filter(access)).values_list("ref", flat=True)
    return [f"incident:{ref}" for ref in refs]


MASKED_KINDS = frozenset({"message.posted", "message.edited"})


def present_incident_events(events: Sequence[EventLike]) -> list[dict[str, Any]]:
    """Hide the text (and the mentions) of redacted messages from readers (the record
    keeps them). Messages recorded before mentions existed show ``mentions: []``, so
    every message payload has the same shape."""
    ids = {e.payload.get("message_id") for e in events if e.kind in MASKED_KINDS}
    redacted = (
        set(
            Message.objects.filter(pk__in=ids, redacted_at__isnull=False).values_list(
                "pk", flat=True
            )
        )
        if ids
        else set()
    )
    shown: list[dict[str, Any]] = []
    for e in events:
        payload = dict(e.payload)
        if e.kind in MASKED_KINDS:
            payload.setdefault("mentions", [])
            if payload.get("message_id") in redacted:
                payload["body"] = ""
                payload["redacted"] = True
                payload["mentions"] = []
        shown.append(payload)
    return shown
