"""The incident rules as pure functions of Access and IncidentFacts (no database)."""

from __future__ import annotations

from typing import get_args

import pytest

from hub.agencies.access import Access, Grant
from hub.events.types import IncidentCategory, IncidentStatus, IncidentVisibility, Severity
from hub.incidents import permissions as p
from hub.incidents.models import Category, Status, Visibility
from hub.incidents.models import Severity as SeverityChoices

WDH, JNB = 1, 4
IMM, POL, ZA_IMM = 10, 11, 20


def access(
    *grants: tuple[int, str, str, set[int]], user_id: int = 7, active: bool = True
) -> Access:
    return Access(
        user_id=user_id,
        username=f"user{user_id}",
        display_name="Officer",
        is_active=active,
        grants=tuple(
            Grant(
                membership_id=i,
                agency_id=agency_id,
                agency_code=code,
                agency_kind="immigration",
                role=role,
                crossing_point_ids=frozenset(points),
            )
            for i, (agency_id, code, role, points) in enumerate(grants)
        ),
    )


def facts(**overrides: object) -> p.IncidentFacts:
    base: dict[str, object] = {
        "id": 1,
        "ref": "WDH-2026-0001",
        "crossing_point_id": WDH,
        "status": "reported",
        "visibility": "participants",
        "lead_agency_id": IMM,
        "participant_ids": frozenset({IMM}),
        "reported_by_id": 7,
    }
    base.update(overrides)
    return p.IncidentFacts(**base)  # type: ignore[arg-type]


def test_literals_match_model_choices() -> None:
    assert set(get_args(IncidentCategory)) == set(Category.values)
    assert set(get_args(Severity)) == set(SeverityChoices.values)
    assert set(get_args(IncidentStatus)) == set(Status.values)
    assert set(get_args(IncidentVisibility)) == set(Visibility.values)
    assert set(p.TRANSITIONS) == set(Status.values)


@pytest.mark.parametrize(
    ("grant", "visibility", "readable"),
    [
        ((IMM, "NA-IMM", "duty_officer", {WDH}), "participants", True),
        ((POL, "NA-POL", "duty_officer", {WDH}), "participants", False),
        ((POL, "NA-POL", "duty_officer", {WDH}), "crossing_point", True),
        ((POL, "NA-POL", "senior_official", {WDH}), "participants", True),
        ((IMM, "NA-IMM", "duty_officer", {JNB}), "participants", False),
        ((IMM, "NA-IMM", "admin", {WDH}), "crossing_point", False),
        ((ZA_IMM, "ZA-IMM", "senior_official", {JNB}), "crossing_point", False),
    ],
)
def test_read_rule(grant: tuple[int, str, str, set[int]], visibility: str, readable: bool) -> None:
    assert p.can_read_incident(access(grant), facts(visibility=visibility)) is readable


def test_inactive_user_reads_nothing() -> None:
    assert not p.can_read_incident(
        access((IMM, "NA-IMM", "coordinator", {WDH}), active=False), facts()
    )


def test_reporting_picks_the_coordinator_grant_and_honours_agency() -> None:
    a = access((IMM, "NA-IMM", "duty_officer", {WDH}), (POL, "NA-POL", "coordinator", {WDH}))
    decision = p.can_report_incident(a, crossing_point_id=WDH)
    assert decision.allowed
    assert decision.grant is not None
    assert decision.grant.agency_code == "NA-POL"
    named = p.can_report_incident(a, crossing_point_id=WDH, agency_code="NA-IMM")
    assert named.grant is not None
    assert named.grant.agency_code == "NA-IMM"
    assert not p.can_report_incident(a, crossing_point_id=JNB)


def test_coordinator_actions_need_a_participating_coordinator() -> None:
    coord = access((IMM, "NA-IMM", "coordinator", {WDH}))
    outsider = access((POL, "NA-POL", "coordinator", {WDH}))
    for check in (
        p.can_transition_incident,
        p.can_invite_agency,
        p.can_set_lead,
        p.can_update_incident,
    ):
        assert check(coord, facts()).allowed
        assert not check(outsider, facts()).allowed


def test_reporter_updates_only_before_triage() -> None:
    reporter = access((IMM, "NA-IMM", "duty_officer", {WDH}), user_id=7)
    assert p.can_update_incident(reporter, facts(status="reported")).allowed
    assert not p.can_update_incident(reporter, facts(status="triaged")).allowed
    other = access((IMM, "NA-IMM", "duty_officer", {WDH}), user_id=8)
    assert not p.can_update_incident(other, facts(status="reported")).allowed


def test_message_rules() -> None:
    author = access((IMM, "NA-IMM", "duty_officer", {WDH}), user_id=7)
    colleague = access((IMM, "NA-IMM", "duty_officer", {WDH}), user_id=8)
    senior = access((POL, "NA-POL", "senior_official", {WDH}), user_id=9)
    assert p.can_post_message(author, facts()).allowed
    assert not p.can_post_message(senior, facts()).allowed, "senior of a non-participant"
    assert p.can_edit_message(author, facts(), author_id=7).allowed
    assert not p.can_edit_message(colleague, facts(), author_id=7).allowed
    assert p.can_redact_message(author, facts(), author_id=7).allowed
    assert not p.can_redact_message(colleague, facts(), author_id=7).allowed
    assert p.can_redact_message(senior, facts(), author_id=7).allowed


def test_export_is_for_senior_officials_only() -> None:
    assert p.can_export_incident(access((POL, "NA-POL", "senior_official", {WDH})), facts()).allowed
    assert not p.can_export_incident(access((IMM, "NA-IMM", "coordinator", {WDH})), facts()).allowed


@pytest.mark.parametrize(
    ("grant", "allowed"),
    [
        ((POL, "NA-POL", "senior_official", {WDH}), True),  # jurisdiction, any agency
        ((IMM, "NA-IMM", "coordinator", {WDH}), True),  # the lead agency's coordinator
        ((POL, "NA-POL", "coordinator", {WDH}), False),  # a participant's coordinator
        ((IMM, "NA-IMM", "duty_officer", {WDH}), False),
        ((IMM, "NA-IMM", "admin", {WDH}), False),
        ((IMM, "NA-IMM", "coordinator", {JNB}), False),  # the lead's, not serving the point
        ((ZA_IMM, "ZA-IMM", "senior_official", {JNB}), False),
    ],
)
def test_review_is_for_senior_officials_and_the_lead_agencys_coordinators(
    grant: tuple[int, str, str, set[int]], allowed: bool
) -> None:
    lead_imm = facts(participant_ids=frozenset({IMM, POL}))
    decision = p.can_review_incident(access(grant), lead_imm)
    assert decision.allowed is allowed
    if allowed:
        assert decision.grant is not None
        assert decision.grant.agency_code == grant[1]
    else:
        assert decision.reason == (
            "only senior officials and coordinators of the lead agency review an incident"
        )
    handed_over = facts(participant_ids=frozenset({IMM, POL}), lead_agency_id=POL)
    if grant[2] == "coordinator" and grant[3] == {WDH}:
        # The rule follows the lead: after a hand-over the other coordinator reviews.
        assert p.can_review_incident(access(grant), handed_over).allowed is (grant[0] == POL)


def test_an_inactive_senior_official_reviews_nothing() -> None:
    senior = access((POL, "NA-POL", "senior_official", {WDH}), active=False)
    assert not p.can_review_incident(senior, facts()).allowed


@pytest.mark.parametrize(
    ("src", "dst", "ok"),
    [
        ("reported", "triaged", True),
        ("reported", "closed", False),
        ("triaged", "active", True),
        ("active", "resolved", True),
        ("active", "triaged", False),
        ("resolved", "closed", True),
        ("resolved", "active", True),
        ("closed", "active", True),
        ("closed", "resolved", False),
        ("reported", "reported", False),
    ],
)
def test_status_machine(src: str, dst: str, ok: bool) -> None:
    assert p.transition_allowed(src, dst) is ok


def test_reasons_are_required_to_resolve_close_and_reopen() -> None:
    assert p.transition_needs_reason("active", "resolved")
    assert p.transition_needs_reason("resolved", "closed")
    assert p.transition_needs_reason("closed", "active")
    assert not p.transition_needs_reason("reported", "triaged")
