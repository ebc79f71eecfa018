"""Reads of reference data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Prefetch, QuerySet

from hub.accounts.models import User
from hub.agencies.access import Access, Grant
from hub.agencies.models import Agency, CrossingPoint, Deployment, Membership


def access_for(user: User) -> Access:
    """Snapshot of the user's active grants (two queries).

    Inactive users, memberships, agencies and crossing points grant nothing.
    """
    if not user.is_authenticated or not user.is_active:
        return Access(
            user_id=user.pk or 0,
            username=getattr(user, "username", ""),
            display_name=getattr(user, "display_name", ""),
            is_active=False,
        )
    # Plain tuples, not model instances: this runs for every write and frame.
    memberships = list(
        Membership.objects.filter(user=user, is_active=True, agency__is_active=True)
        .order_by("agency__code", "role", "id")
        .values_list("pk", "agency_id", "agency__code", "agency__kind", "role")
    )
    points: dict[int, set[int]] = defaultdict(set)
    through = Membership.crossing_points.through.objects.filter(
        membership_id__in=[m[0] for m in memberships], crossingpoint__is_active=True
    ).values_list("membership_id", "crossingpoint_id")
    for membership_id, point_id in through:
        points[membership_id].add(point_id)
    grants = tuple(
        Grant(
            membership_id=pk,
            agency_id=agency_id,
            agency_code=code,
            agency_kind=kind,
            role=role,
            crossing_point_ids=frozenset(points[pk]),
        )
        for pk, agency_id, code, kind, role in memberships
    )
    return Access(
        user_id=user.pk,
        username=user.username,
        display_name=user.display_name,
        is_active=True,
        grants=grants,
    )


def accesses_for(users: Sequence[User]) -> dict[int, Access]:
    """``access_for`` of many active users in two queries (the same snapshots, same order).

    This mirrors ``access_for`` for a batch; a test holds
    the two equal for every demo user.
    """
    active = [u for u in users if u.is_active]
    memberships = list(
        Membership.objects.filter(
            user_id__in=[u.pk for u in active], is_active=True, agency__is_active=True
        )
        .select_related("agency")
        .order_by("agency__code", "role", "id")
    )
    points: dict[int, set[int]] = defaultdict(set)
    through = Membership.crossing_points.through.objects.filter(
        membership_id__in=[m.pk for m in memberships], crossingpoint__is_active=True
    ).values_list("membership_id", "crossingpoint_id")
    for membership_id, point_id in through:
        points[membership_id].add(point_id)
    grants: dict[int, list[Grant]] = defaultdict(list)
    for m in memberships:
        grants[m.user_id].append(
            Grant(
                membership_id=m.pk,
                agency_id=m.agency_id,
                agency_code=m.agency.code,
                agency_kind=m.agency.kind,
                role=m.role,
                crossing_point_ids=frozenset(points[m.pk]),
            )
        )
    return {
        u.pk: Access(
            user_id=u.pk,
            username=u.username,
            display_name=u.display_name,
            is_active=True,
            grants=tuple(grants[u.pk]),
        )
        for u in active
    }


def agencies_list() -> QuerySet[Agency]:
    return Agency.objects.filter(is_active=True).select_related("country").order_by("code")


def crossing_points_list() -> QuerySet[CrossingPoint]:
    return (
        CrossingPoint.objects.filter(is_active=True)
        .prefetch_related(
            "countries",
            Prefetch(
                "deployments",
                queryset=Deployment.objects.filter(is_active=True, agency__is_active=True)
                .select_related("agency")
                .order_by("agency__code"),
            ),
        )
        .order_by("code")
    )


def deployed_agency_ids(crossing_point_id: int) -> set[int]:
    return set(
        Deployment.objects.filter(
            crossing_point_id=crossing_point_id, is_active=True, agency__is_active=True
        ).values_list("agency_id", flat=True)
    )
