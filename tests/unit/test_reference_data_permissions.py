"""can_manage_reference_data: a pure function of the account's flags and its grants."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hub.agencies.access import Access, Grant
from hub.agencies.permissions import can_manage_reference_data


@dataclass(frozen=True)
class Account:
    is_active: bool = True
    is_staff: bool = True
    is_superuser: bool = False


def access(*roles: str, active: bool = True) -> Access:
    return Access(
        user_id=7,
        username="someone",
        display_name="Someone",
        is_active=active,
        grants=tuple(
            Grant(
                membership_id=i,
                agency_id=1,
                agency_code="NA-IMM",
                agency_kind="immigration",
                role=role,
                crossing_point_ids=frozenset({1}),
            )
            for i, role in enumerate(roles, start=1)
        ),
    )


def test_staff_with_an_admin_membership_may() -> None:
    decision = can_manage_reference_data(Account(), access("duty_officer", "admin"))
    assert decision
    assert decision.grant is not None
    assert decision.grant.role == "admin"


@pytest.mark.parametrize("roles", [(), ("duty_officer",), ("coordinator", "senior_official")])
def test_staff_without_an_admin_membership_may_not(roles: tuple[str, ...]) -> None:
    decision = can_manage_reference_data(Account(), access(*roles))
    assert not decision
    assert "administrator membership" in decision.reason


def test_an_admin_membership_without_staff_is_not_enough() -> None:
    decision = can_manage_reference_data(Account(is_staff=False), access("admin"))
    assert not decision
    assert "staff" in decision.reason


def test_superusers_may_without_any_membership() -> None:
    assert can_manage_reference_data(Account(is_superuser=True, is_staff=False), access())


@pytest.mark.parametrize(
    "account", [Account(is_active=False), Account(is_active=False, is_superuser=True)]
)
def test_inactive_accounts_may_not(account: Account) -> None:
    assert not can_manage_reference_data(account, access("admin"))


def test_inactive_access_grants_nothing() -> None:
    assert not can_manage_reference_data(Account(), access("admin", active=False))
