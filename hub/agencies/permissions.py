"""Who may manage reference data: a pure function of the account's flags and ``Access``.

Reference data is the committee's set-up: countries, agencies, crossing points,
deployments, memberships, and the officers' accounts and API tokens. It is
managed in the Django admin by

- superusers (the installation's owners), and
- staff users (``is_staff``, which the admin site requires to sign in at all)
  who hold an active ``admin``-role membership of an active agency.

Django model permissions alone (a group, ``is_staff``) are not enough: what a
user may do comes from their memberships. The admin ANDs this rule with the
model permissions, so a group still narrows what an administrator may touch.
"""

from __future__ import annotations

from typing import Protocol

from hub.agencies.access import Access, Decision, allow, deny
from hub.agencies.models import Role

ADMIN = Role.ADMIN.value


class Account(Protocol):
    """The account flags the rule reads (a ``User`` has them)."""

    @property
    def is_active(self) -> bool: ...

    @property
    def is_staff(self) -> bool: ...

    @property
    def is_superuser(self) -> bool: ...


def can_manage_reference_data(account: Account, access: Access) -> Decision:
    """May ``account`` (whose grants are ``access``) change reference data in the admin?"""
    if not account.is_active:
        return deny("the account is not active")
    if account.is_superuser:
        return allow()
    if not account.is_staff:
        return deny("only staff accounts use the admin site")
    admin_grants = [g for g in access.grants if g.role == ADMIN] if access.is_active else []
    if admin_grants:
        return allow(admin_grants[0])
    return deny("reference data is managed by holders of an administrator membership")
