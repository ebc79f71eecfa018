"""Who may do what with situation reports: pure functions of ``Access`` and ``SubjectFacts``.

- read (the reports, the cadence, on the subject or on the crossing point's board
  of reports due): whoever may read the incident (``can_read_incident``) or the
  operation (``can_read_operation``): the reports are events on its own stream;
- post a report, set or clear the cadence: a coordinator of the lead agency (the
  incident's ``lead_agency``; the operation's ``lead_agency``) serving the
  crossing point. Everyone else who can read gets 403; who cannot, 404.
- the board of reports due at a crossing point: officers serving the point (each
  entry still only if its subject is readable).

The reminder of an overdue report goes to the same people who may post it: the
lead agency's coordinators serving the point.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.agencies.access import READER_ROLES, Access, Decision, allow, deny
from hub.agencies.models import Role
from hub.incidents.permissions import IncidentFacts, can_read_incident
from hub.operations.permissions import OperationFacts, can_read_operation

COORDINATOR = Role.COORDINATOR.value


@dataclass(frozen=True)
class SubjectFacts:
    """The incident or the operation reports are about (exactly one is set)."""

    incident: IncidentFacts | None = None
    operation: OperationFacts | None = None

    def __post_init__(self) -> None:
        if (self.incident is None) == (self.operation is None):
            raise ValueError("a subject is an incident or an operation")

    @property
    def kind(self) -> str:
        return "incident" if self.incident is not None else "operation"

    @property
    def ref(self) -> str:
        facts = self.incident or self.operation
        assert facts is not None
        return facts.ref

    @property
    def crossing_point_id(self) -> int:
        facts = self.incident or self.operation
        assert facts is not None
        return facts.crossing_point_id

    @property
    def lead_agency_id(self) -> int:
        facts = self.incident or self.operation
        assert facts is not None
        return facts.lead_agency_id


def can_read_sitreps(access: Access, subject: SubjectFacts) -> bool:
    if subject.incident is not None:
        return can_read_incident(access, subject.incident)
    assert subject.operation is not None
    return can_read_operation(access, subject.operation)


def _lead_coordinator(access: Access, subject: SubjectFacts, what: str) -> Decision:
    grants = [
        g
        for g in access.grants_at(subject.crossing_point_id, (COORDINATOR,))
        if g.agency_id == subject.lead_agency_id
    ]
    if not grants:
        return deny(f"only coordinators of the lead agency {what}")
    return allow(grants[0])


def can_post_sitrep(access: Access, subject: SubjectFacts) -> Decision:
    return _lead_coordinator(access, subject, "post situation reports")


def can_set_sitrep_cadence(access: Access, subject: SubjectFacts) -> Decision:
    return _lead_coordinator(access, subject, "set the situation report cadence")


def can_read_sitrep_board(access: Access, *, crossing_point_id: int) -> bool:
    return bool(access.grants_at(crossing_point_id, READER_ROLES))
