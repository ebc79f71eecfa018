"""Who may verify the record: pure functions of Access (no database)."""

from __future__ import annotations

import pytest

from hub.agencies.access import Access, Grant
from hub.events.permissions import (
    OPERATOR,
    VerifyScope,
    can_see_export_verification,
    can_verify_record,
    can_verify_stream,
)

ROLES = ("duty_officer", "coordinator", "senior_official", "admin")


def access(*roles: str, active: bool = True) -> Access:
    return Access(
        user_id=7,
        username="user7",
        display_name="Officer",
        is_active=active,
        grants=tuple(
            Grant(
                membership_id=i,
                agency_id=10,
                agency_code="NA-IMM",
                agency_kind="immigration",
                role=role,
                crossing_point_ids=frozenset({1}),
            )
            for i, role in enumerate(roles)
        ),
    )


@pytest.mark.parametrize("role", ROLES)
def test_one_stream_is_verifiable_exactly_when_readable(role: str) -> None:
    assert can_verify_stream(access(role), readable=True)
    refused = can_verify_stream(access(role), readable=False)
    assert not refused
    assert refused.scope == VerifyScope.NONE
    assert refused.reason
    assert not can_verify_stream(access(role, active=False), readable=True)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("duty_officer", False), ("coordinator", False), ("senior_official", True), ("admin", False)],
)
def test_the_whole_record_is_for_senior_officials_within_what_they_read(
    role: str, allowed: bool
) -> None:
    decision = can_verify_record(access(role), is_superuser=False)
    assert bool(decision) is allowed
    if allowed:
        assert decision.scope == VerifyScope.VISIBLE
    else:
        assert decision.scope == VerifyScope.NONE
        assert decision.reason == "only senior officials verify the record"


def test_superusers_verify_everything_and_deactivated_users_nothing() -> None:
    assert can_verify_record(access(), is_superuser=True).scope == VerifyScope.ALL
    assert not can_verify_record(access("senior_official", active=False), is_superuser=False)
    assert not can_verify_record(access(active=False), is_superuser=True)


def test_the_operator_command_and_exports() -> None:
    assert OPERATOR.allowed
    assert OPERATOR.scope == VerifyScope.ALL
    assert can_see_export_verification(may_export=True)
    assert not can_see_export_verification(may_export=False)
