"""Writes on reference data that change who may see what.

Each of these tells every worker (after commit) to re-check the affected users'
open sockets, so a lost membership stops live deliveries within seconds. The
admin saves reference data through Django's forms and then calls the matching
``*_changed`` function here: every path that changes access publishes.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from hub.accounts.models import User
from hub.agencies.models import (
    Agency,
    CrossingPoint,
    Deployment,
    Membership,
    validate_membership_points,
)
from hub.errors import InvalidInput
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
    """Set the points a membership serves; each must have the agency deployed there."""
    ids = set(crossing_point_ids)
    points = list(CrossingPoint.objects.filter(pk__in=ids))
    if len(points) != len(ids):
        raise InvalidInput("Unknown crossing point.", code="unknown_crossing_point")
    try:
        validate_membership_points(agency=membership.agency, crossing_points=points)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), code="agency_not_deployed") from None
    membership.crossing_points.set(points)
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
    deployments_changed(deployments=[deployment])


def deployments_changed(*, deployments: Iterable[Deployment]) -> None:
    """Several deployments changed (or were deleted): re-check their agencies' members once.

    Deleted instances keep their ``agency_id``, so this may be called after the delete.
    """
    agency_ids = {d.agency_id for d in deployments}
    members = Membership.objects.filter(agency_id__in=agency_ids).values_list("user_id", flat=True)
    memberships_changed(user_ids=members, reason="deployment_changed")


def agency_activation_changed(*, agency: Agency) -> None:
    """An agency was deactivated or reactivated: its members' grants follow it."""
    members = Membership.objects.filter(agency=agency).values_list("user_id", flat=True)
    reason = "agency_reactivated" if agency.is_active else "agency_deactivated"
    memberships_changed(user_ids=members, reason=reason)


def crossing_point_activation_changed(*, crossing_point: CrossingPoint) -> None:
    """A crossing point was deactivated or reactivated: re-check everyone serving it."""
    members = Membership.objects.filter(crossing_points=crossing_point).values_list(
        "user_id", flat=True
    )
    reason = (
        "crossing_point_reactivated" if crossing_point.is_active else "crossing_point_deactivated"
    )
    memberships_changed(user_ids=members, reason=reason)
