"""Reads of situation reports and cadences, scoped to what the caller may see.

A subject's state (``SitrepView``: its counts, cadence and latest report) is
shown with the incident (``IncidentOut.sitrep``) and the operation
(``OperationOut.sitrep``). Those snapshots carry "the stream's seq this
reflects", and the reports and cadence changes are events on that same stream,
so the state is read in the transaction that holds the snapshot's stream heads
(``hub.events.selectors.stream_snapshot``: on PostgreSQL the share locks last
until the outer transaction ends, on SQLite the IMMEDIATE transaction keeps
writers out): a client that applies the events after that seq to the snapshot
gets the current state. The ``*_with_sitrep(s)`` functions below are those
snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q, QuerySet

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.models import CrossingPoint, Role
from hub.events.selectors import stream_snapshot
from hub.incidents.models import Incident
from hub.incidents.selectors import (
    IncidentFilters,
    incident_detail_snapshot,
    incident_facts,
    incident_written,
    incidents_listed,
    visibility_filter,
)
from hub.operations.models import Operation, OperationStatus
from hub.operations.permissions import can_read_operation
from hub.operations.selectors import (
    operation_facts,
    operation_snapshot,
    operation_state,
    operations_snapshot,
)
from hub.security import log_denial
from hub.sitreps.models import SitrepSubject, SituationReport
from hub.sitreps.permissions import SubjectFacts, can_read_sitrep_board, can_read_sitreps

SUBJECT_KINDS = ("incident", "operation")
# Reports are asked for while the work goes on: not of a resolved or closed
# incident, nor of a closed operation (a cadence set then stays, and resumes on reopening).
LIVE_INCIDENT_STATUSES = ("reported", "triaged", "active")
MAX_PAGE = 100


def live_subjects() -> Q:
    """Subjects whose incident or operation is live (see ``parent_is_live``)."""
    return Q(incident__status__in=LIVE_INCIDENT_STATUSES) | Q(
        operation__status=OperationStatus.ACTIVE
    )


def parent_is_live(parent: Incident | Operation) -> bool:
    """Whether reports are asked for now (a cadence is due, reminded, on the board)."""
    if isinstance(parent, Incident):
        return parent.status in LIVE_INCIDENT_STATUSES
    return parent.status == OperationStatus.ACTIVE


def subject_is_live(subject: SitrepSubject) -> bool:
    parent = subject.incident or subject.operation
    assert parent is not None
    return parent_is_live(parent)


@dataclass(frozen=True)
class SitrepView:
    """A subject's reports and cadence as readers see them."""

    subject: SitrepSubject
    latest: SituationReport | None
    live: bool

    def overdue(self, now: datetime) -> bool:
        due = self.subject.due_at
        return self.live and due is not None and due <= now


def _subjects() -> QuerySet[SitrepSubject]:
    return SitrepSubject.objects.select_related(
        "incident", "incident__lead_agency", "operation", "operation__lead_agency"
    )


def _reports() -> QuerySet[SituationReport]:
    return SituationReport.objects.select_related("author", "agency", "subject")


def sitrep_views(stream_names: Sequence[str]) -> dict[str, SitrepView]:
    """The state of each subject among ``stream_names`` that has one (two queries)."""
    if not stream_names:
        return {}
    subjects = list(_subjects().filter(stream_name__in=list(stream_names)))
    latest = {
        r.subject_id: r
        for r in _reports().filter(
            subject_id__in=[s.pk for s in subjects], number=F("subject__reports")
        )
    }
    return {
        s.stream_name: SitrepView(subject=s, latest=latest.get(s.pk), live=subject_is_live(s))
        for s in subjects
    }


def sitrep_view(stream_name: str) -> SitrepView | None:
    return sitrep_views([stream_name]).get(stream_name)


# --- a subject the caller may read ---------------------------------------------------------


def subject_facts(parent: Incident | Operation) -> SubjectFacts:
    if isinstance(parent, Incident):
        return SubjectFacts(incident=incident_facts(parent))
    return SubjectFacts(operation=operation_facts(parent))


def subject_parent(kind: str, ref: object) -> Incident | Operation | None:
    """The incident or operation named, without any access check (None: no such thing)."""
    if not isinstance(ref, str) or kind not in SUBJECT_KINDS:
        return None
    if kind == "incident":
        if len(ref) > 32:
            return None
        return (
            Incident.objects.select_related("crossing_point", "lead_agency").filter(ref=ref).first()
        )
    if len(ref) > 40:
        return None
    return (
        Operation.objects.select_related("crossing_point", "lead_agency", "incident")
        .filter(ref=ref)
        .first()
    )


def subject_for(
    access: Access, kind: str, ref: str, *, action: str = "sitrep.read"
) -> Incident | Operation | None:
    """The incident or operation if the caller may read its reports (a refusal of one
    that exists is logged as ``action``), else None."""
    parent = subject_parent(kind, ref)
    if parent is None:
        return None
    if not can_read_sitreps(access, subject_facts(parent)):
        log_denial(access, action=action, target=ref, reason=f"cannot see this {kind}")
        return None
    return parent


@dataclass(frozen=True)
class SitrepPage:
    """Reports newest first; ``next_before``: pass as ``before`` for older ones."""

    reports: list[SituationReport]
    view: SitrepView | None
    stream: str
    seq: int
    next_before: int | None


def sitreps_page(
    access: Access, kind: str, ref: str, *, before: int | None = None, limit: int = 20
) -> SitrepPage | None:
    """A page of the subject's reports (numbers below ``before``), its state and the
    seq of its stream they reflect; None if the caller may not read it."""
    if kind not in SUBJECT_KINDS or not isinstance(ref, str) or len(ref) > 40:
        return None
    name = f"{kind}:{ref}"
    limit = max(1, min(limit, MAX_PAGE))
    with stream_snapshot([name]) as heads:
        if subject_for(access, kind, ref) is None:
            return None
        view = sitrep_view(name)
        reports: list[SituationReport] = []
        if view is not None:
            qs = _reports().filter(subject=view.subject)
            if before is not None:
                qs = qs.filter(number__lt=before)
            reports = list(qs.order_by("-number")[: limit + 1])
        more = len(reports) > limit
        reports = reports[:limit]
        return SitrepPage(
            reports=reports,
            view=view,
            stream=name,
            seq=heads[name],
            next_before=reports[-1].number if more else None,
        )


# --- the crossing point's board: reports due ------------------------------------------------


def sitreps_due_at(access: Access, code: str) -> list[SitrepView] | None:
    """Every live incident and operation at the point with a cadence that the caller may
    read, the most overdue first; None if the caller does not serve the point."""
    if not isinstance(code, str) or len(code) > 6:
        return None
    point = CrossingPoint.objects.filter(code=code, is_active=True).first()
    if point is None:
        return None
    if not can_read_sitrep_board(access, crossing_point_id=point.pk):
        log_denial(access, action="sitrep.read", target=code, reason="does not serve this point")
        return None
    subjects = list(
        _subjects()
        .filter(crossing_point=point, every_minutes__isnull=False)
        .filter(live_subjects())
        .order_by("due_at", "id")
    )
    incident_ids = [s.incident_id for s in subjects if s.incident_id is not None]
    readable_incidents = set(
        Incident.objects.filter(visibility_filter(access), pk__in=incident_ids).values_list(
            "pk", flat=True
        )
    )
    shown = [
        s
        for s in subjects
        if (s.incident_id in readable_incidents)
        or (s.operation is not None and can_read_operation(access, operation_facts(s.operation)))
    ]
    views = sitrep_views([s.stream_name for s in shown])
    return [views[s.stream_name] for s in shown]


# --- who is reminded -----------------------------------------------------------------------


def lead_coordinators(agency_id: int, crossing_point_id: int) -> list[User]:
    """Active coordinators of the agency serving the crossing point, by username."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__agency_id=agency_id,
            memberships__is_active=True,
            memberships__role=Role.COORDINATOR,
            memberships__crossing_points__id=crossing_point_id,
        )
        .distinct()
        .order_by("username")
    )


# --- incident and operation snapshots with their reports' state ----------------------------

IncidentRow = tuple[Incident, int, int, SitrepView | None]
OperationRow = tuple[Operation, int, SitrepView | None]


def incident_detail_with_sitrep(access: Access, ref: str) -> IncidentRow | None:
    """``incident_detail_snapshot`` (incident, seq, read marker) and its reports' state."""
    with transaction.atomic():
        found = incident_detail_snapshot(access, ref)
        if found is None:
            return None
        incident, seq, read_seq = found
        return incident, seq, read_seq, sitrep_view(incident.stream_name)


def incidents_listed_with_sitreps(
    access: Access,
    filters: IncidentFilters | None = None,
    *,
    before_id: int | None = None,
    limit: int = 50,
) -> list[IncidentRow]:
    """``incidents_listed``, each incident with its reports' state (one more query pair)."""
    with transaction.atomic():
        items = incidents_listed(access, filters, before_id=before_id, limit=limit)
        views = sitrep_views([incident.stream_name for incident, _, _ in items])
    return [(i, seq, read_seq, views.get(i.stream_name)) for i, seq, read_seq in items]


def incident_written_with_sitrep(incident: Incident, *, user_id: int) -> IncidentRow:
    """``incident_written`` (after a write) and the incident's reports' state."""
    with transaction.atomic():
        fresh, seq, read_seq = incident_written(incident, user_id=user_id)
        return fresh, seq, read_seq, sitrep_view(fresh.stream_name)


def operation_detail_with_sitrep(access: Access, ref: str) -> OperationRow | None:
    """``operation_snapshot`` (operation, seq) and its reports' state."""
    with transaction.atomic():
        found = operation_snapshot(access, ref)
        if found is None:
            return None
        operation, seq = found
        return operation, seq, sitrep_view(operation.stream_name)


def operations_with_sitreps(
    access: Access, *, crossing_point: str | None = None, status: str | None = None, limit: int = 50
) -> list[OperationRow]:
    """``operations_snapshot``, each operation with its reports' state."""
    with transaction.atomic():
        items = operations_snapshot(
            access, crossing_point=crossing_point, status=status, limit=limit
        )
        views = sitrep_views([op.stream_name for op, _ in items])
    return [(op, seq, views.get(op.stream_name)) for op, seq in items]


def operation_state_with_sitrep(ref: str) -> OperationRow:
    """``operation_state`` (after a write) and its reports' state."""
    with transaction.atomic():
        operation, seq = operation_state(ref)
        return operation, seq, sitrep_view(operation.stream_name)
