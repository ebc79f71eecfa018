"""Who may do what with alerts: pure functions of ``Access`` and ``AlertFacts``.

Reading and targeting are separate on purpose. A crossing point's alerts are the
coordination committee's shared board: every agency deployed there reads every
alert of the point, whether targeted or not. The targets are the agencies that
must acknowledge (and are escalated when they do not). Filtering the sequenced
``crossing:<CODE>`` stream per reader would break its gap-free ``seq`` (a reader
would see holes it could not tell from lost events), so an alert that only some
agencies may read does not belong on a crossing point's board. Nobody outside
the point (another point, another country, an admin) reads any of it: not the
list, an alert, its CAP document, the Atom feed or the stream. CAP exports say
the same in ``<restriction>`` and list the targets in ``<addresses>``.

- read a crossing point's alerts (and its ``crossing:<CODE>`` stream): duty
  officers, coordinators and senior officials of any agency serving the point;
- issue: the same people — any agency at a crossing point can alert the others;
- update or cancel: the issuing officer, or a coordinator or senior official of
  the issuing agency serving the point;
- acknowledge: an officer of a targeted agency serving the point, for that agency.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.agencies.access import READER_ROLES, Access, Decision, Grant, allow, deny
from hub.agencies.models import Role

CHANGERS = (Role.COORDINATOR.value, Role.SENIOR_OFFICIAL.value)


@dataclass(frozen=True)
class AlertFacts:
    id: int
    crossing_point_id: int
    issuing_agency_id: int
    issued_by_id: int
    status: str
    target_agency_ids: frozenset[int]
    acknowledged_agency_ids: frozenset[int]


def _first(grants: list[Grant]) -> Grant:
    return sorted(grants, key=lambda g: (g.role != Role.COORDINATOR, g.agency_code))[0]


def can_read_crossing(access: Access, crossing_point_id: int) -> bool:
    return bool(access.grants_at(crossing_point_id, READER_ROLES))


def can_issue_alert(
    access: Access, *, crossing_point_id: int, agency_code: str | None = None
) -> Decision:
    grants = access.grants_at(crossing_point_id, READER_ROLES)
    if agency_code is not None:
        grants = [g for g in grants if g.agency_code == agency_code]
    if not grants:
        return deny("only officers serving this crossing point issue its alerts")
    return allow(_first(grants))


def can_change_alert(access: Access, facts: AlertFacts) -> Decision:
    grants = access.grants_at(facts.crossing_point_id, READER_ROLES)
    own = [g for g in grants if g.agency_id == facts.issuing_agency_id]
    if access.user_id == facts.issued_by_id and own:
        return allow(_first(own))
    senior = [g for g in own if g.role in CHANGERS]
    if senior:
        return allow(_first(senior))
    return deny(
        "only the issuer, or a coordinator or senior official of the issuing agency, changes it"
    )


def can_acknowledge_alert(
    access: Access, facts: AlertFacts, agency_code: str | None = None
) -> Decision:
    grants = [
        g
        for g in access.grants_at(facts.crossing_point_id, READER_ROLES)
        if g.agency_id in facts.target_agency_ids
    ]
    if agency_code is not None:
        grants = [g for g in grants if g.agency_code == agency_code]
    if not grants:
        return deny("only officers of a targeted agency acknowledge this alert")
    # Acknowledge first for an agency that still owes it.
    pending = [g for g in grants if g.agency_id not in facts.acknowledged_agency_ids]
    return allow(_first(pending or grants))
