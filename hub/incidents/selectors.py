"""Reads of incidents and their messages, always scoped to what the caller may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from hub.agencies.access import OPERATIONAL_ROLES, Access
from hub.agencies.models import Role
from hub.events.models import Event
from hub.events.selectors import stream_head
from hub.incidents.models import Incident, Message, Participation
from hub.incidents.permissions import IncidentFacts, can_read_incident
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
    incident = _base().filter(ref=ref).first()
    if incident is None:
        return None
    facts = incident_facts(incident)
    if not can_read_incident(access, facts):
        log_denial(access, action=action, target=ref, reason="cannot see this incident")
        return None
    return incident, facts


def incident_head(incident: Incident) -> int:
    return stream_head(incident.stream_name)


def messages_for(incident: Incident, *, after_seq: int = 0, limit: int = 100) -> list[Message]:
    return list(
        Message.objects.filter(incident=incident, seq__gt=after_seq)
        .select_related("author", "agency", "redacted_by")
        .order_by("seq")[: max(1, min(limit, MAX_LIMIT))]
    )


# --- stream registration -----------------------------------------------------------


def incident_stream_readable(access: Access, key: str) -> bool:
    return incident_for(access, key, action="stream.read") is not None


def incident_stream_names(access: Access) -> list[str]:
    refs = Incident.objects.filter(visibility_filter(access)).values_list("ref", flat=True)
    return [f"incident:{ref}" for ref in refs]


MASKED_KINDS = frozenset({"message.posted", "message.edited"})


def present_incident_events(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Hide the text of redacted messages from readers (the record keeps it)."""
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
        if e.kind in MASKED_KINDS and payload.get("message_id") in redacted:
            payload["body"] = ""
            payload["redacted"] = True
        shown.append(payload)
    return shown
