"""Who may do what with incidents: pure functions of ``Access`` and ``IncidentFacts``.

Rules (a grant "serves" a crossing point when the membership lists it):
- read: a duty officer or coordinator whose agency participates, or any agency
  at the crossing point when visibility is ``crossing_point``; a senior official
  reads every incident at the points they serve (their jurisdiction);
  administrators manage reference data and read no incidents by that role;
- report: duty officers and coordinators, for their agency, at points they serve;
- post messages: duty officers, coordinators and senior officials of a
  participating agency;
- update: coordinators of a participating agency, or the reporting officer
  while the incident is still ``reported``;
- transition, invite an agency, set the lead: coordinators of a participating agency;
- edit a message: its author; redact: its author, a participating coordinator,
  or a senior official in jurisdiction;
- export a timeline: senior officials in jurisdiction;
- review an incident (its milestones, response times and verified record,
  ``GET /incidents/{ref}/review``): senior officials in jurisdiction, and
  coordinators of the incident's lead agency serving its crossing point.

Every function returns a ``Decision``; services turn a denial into NotFound
(when the caller may not even read) or Forbidden, and log it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.agencies.access import (
    OPERATIONAL_ROLES,
    READER_ROLES,
    Access,
    Decision,
    Grant,
    allow,
    deny,
)
from hub.agencies.models import Role

COORDINATOR = Role.COORDINATOR.value
SENIOR = Role.SENIOR_OFFICIAL.value

# The status machine. "Reopen" is resolved/closed -> active.
TRANSITIONS: dict[str, frozenset[str]] = {
    "reported": frozenset({"triaged", "active", "resolved"}),
    "triaged": frozenset({"active", "resolved"}),
    "active": frozenset({"resolved"}),
    "resolved": frozenset({"closed", "active"}),
    "closed": frozenset({"active"}),
}
REASON_REQUIRED = frozenset(
    {
        ("active", "resolved"),
        ("triaged", "resolved"),
        ("reported", "resolved"),
        ("resolved", "closed"),
        ("resolved", "active"),
        ("closed", "active"),
    }
)


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    ref: str
    crossing_point_id: int
    status: str
    visibility: str
    lead_agency_id: int
    participant_ids: frozenset[int]
    reported_by_id: int


def _prefer(grants: list[Grant], facts: IncidentFacts) -> Grant:
    """The grant to act under: the lead agency's first, then by agency code."""
    return sorted(grants, key=lambda g: (g.agency_id != facts.lead_agency_id, g.agency_code))[0]


def _participating(access: Access, facts: IncidentFacts, roles: tuple[str, ...]) -> list[Grant]:
    return [
        g
        for g in access.grants_at(facts.crossing_point_id, roles)
        if g.agency_id in facts.participant_ids
    ]


def can_read_incident(access: Access, facts: IncidentFacts) -> bool:
    for grant in access.grants_at(facts.crossing_point_id, READER_ROLES):
        if grant.role == SENIOR:
            return True
        if grant.agency_id in facts.participant_ids or facts.visibility == "crossing_point":
            return True
    return False


def can_report_incident(
    access: Access, *, crossing_point_id: int, agency_code: str | None = None
) -> Decision:
    grants = access.grants_at(crossing_point_id, OPERATIONAL_ROLES)
    if agency_code is not None:
        grants = [g for g in grants if g.agency_code == agency_code]
    if not grants:
        return deny("only duty officers and coordinators serving this crossing point may report")
    return allow(sorted(grants, key=lambda g: (g.role != COORDINATOR, g.agency_code))[0])


def can_post_message(
    access: Access, facts: IncidentFacts, agency_code: str | None = None
) -> Decision:
    grants = _participating(access, facts, READER_ROLES)
    if agency_code is not None:
        grants = [g for g in grants if g.agency_code == agency_code]
    if not grants:
        return deny("only participating agencies post on an incident channel")
    return allow(_prefer(grants, facts))


def can_update_incident(access: Access, facts: IncidentFacts) -> Decision:
    grants = _participating(access, facts, (COORDINATOR,))
    if grants:
        return allow(_prefer(grants, facts))
    if facts.status == "reported" and access.user_id == facts.reported_by_id:
        reporter = _participating(access, facts, OPERATIONAL_ROLES)
        if reporter:
            return allow(_prefer(reporter, facts))
    return deny("only coordinators of participating agencies (or the reporter, before triage) edit")


def _coordinator_action(access: Access, facts: IncidentFacts, what: str) -> Decision:
    grants = _participating(access, facts, (COORDINATOR,))
    if not grants:
        return deny(f"only coordinators of participating agencies {what}")
    return allow(_prefer(grants, facts))


def can_transition_incident(access: Access, facts: IncidentFacts) -> Decision:
    return _coordinator_action(access, facts, "change an incident's status")


def can_invite_agency(access: Access, facts: IncidentFacts) -> Decision:
    return _coordinator_action(access, facts, "invite agencies")


def can_set_lead(access: Access, facts: IncidentFacts) -> Decision:
    return _coordinator_action(access, facts, "set the lead agency")


def can_edit_message(access: Access, facts: IncidentFacts, *, author_id: int) -> Decision:
    if access.user_id != author_id:
        return deny("only the author edits a message")
    grants = _participating(access, facts, READER_ROLES)
    if not grants:
        return deny("the author's agency no longer participates")
    return allow(_prefer(grants, facts))


def can_redact_message(access: Access, facts: IncidentFacts, *, author_id: int) -> Decision:
    seniors = access.grants_at(facts.crossing_point_id, (SENIOR,))
    if seniors:
        return allow(_prefer(seniors, facts))
    coordinators = _participating(access, facts, (COORDINATOR,))
    if coordinators:
        return allow(_prefer(coordinators, facts))
    if access.user_id == author_id:
        own = _participating(access, facts, READER_ROLES)
        if own:
            return allow(_prefer(own, facts))
    return deny("only the author, a participating coordinator or a senior official redacts")


def can_export_incident(access: Access, facts: IncidentFacts) -> Decision:
    seniors = access.grants_at(facts.crossing_point_id, (SENIOR,))
    if not seniors:
        return deny("only senior officials export incident timelines")
    return allow(_prefer(seniors, facts))


def can_review_incident(access: Access, facts: IncidentFacts) -> Decision:
    seniors = access.grants_at(facts.crossing_point_id, (SENIOR,))
    if seniors:
        return allow(_prefer(seniors, facts))
    leads = [
        g
        for g in access.grants_at(facts.crossing_point_id, (COORDINATOR,))
        if g.agency_id == facts.lead_agency_id
    ]
    if leads:
        return allow(leads[0])
    return deny("only senior officials and coordinators of the lead agency review an incident")


def transition_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def transition_needs_reason(from_status: str, to_status: str) -> bool:
    return (from_status, to_status) in REASON_REQUIRED
