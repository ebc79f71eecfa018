"""Writes on reference data that change who may see what.

Each of these tells every worker (after commit) to re-check the affected users'
open sockets, so a lost membership stops live deliveries within seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from hub.accounts.models import User
from hub.agencies.models import Deployment, Membership
from hub.events.control import access_changed


def memberships_changed(*, user_ids: Iterable[int], reason: str = "membership_changed") -> None:
    """Call after any change to memberships (admin edits included)."""
    for user_id in sorted(set(user_ids)):
        access_changed(user_id=user_id, reason=reason)


@transaction.atomic
def membership_revoke(*, membership: Membership) -> Membership:
    """End a membership: the user keeps their account but loses this grant."""
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    memberships_changed(user_ids=[membership.user_id], reason="membership_revoked")
    return membership


@transaction.atomic
def membership_set_points(
    *, membership: Membership, crossing_point_ids: Iterable[int]
) -> Membership:
    membership.crossing_points.set(list(crossing_point_ids))
    memberships_changed(user_ids=[membership.user_id])
    return membership


@transaction.atomic
def user_deactivate(*, user: User) -> User:
    """Block a user everywhere: every socket of theirs closes."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    access_changed(user_id=user.pk, reason="user_deactivated", close_all=True)
    return user


def deployment_changed(*, deployment: Deployment) -> None:
    """An agency arrived at or left a crossing point: re-check its members."""
    members = Membership.objects.filter(agency_id=deployment.agency_id).values_list(
        "user_id", flat=True
    )
    memberships_changed(user_ids=members, reason="deployment_changed")
