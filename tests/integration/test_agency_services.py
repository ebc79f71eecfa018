"""hub.agencies.services: membership points follow deployments; changes publish."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from hub.agencies.models import CrossingPoint, Membership
from hub.agencies.services import membership_set_points
from hub.errors import InvalidInput
from tests.admin_forms import control_messages

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]

Capture = Callable[..., AbstractContextManager[Any]]


def points(*codes: str) -> list[int]:
    return list(CrossingPoint.objects.filter(code__in=codes).values_list("pk", flat=True))


def test_set_points_where_the_agency_is_deployed_publishes(
    published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    membership = Membership.objects.get(user__username="na-cgd.duty")
    with django_capture_on_commit_callbacks(execute=True):
        membership_set_points(membership=membership, crossing_point_ids=points("WVB"))
    assert [p.code for p in membership.crossing_points.all()] == ["WVB"]
    assert [m["user_id"] for m in control_messages(published)] == [membership.user_id]


def test_set_points_refuses_a_point_without_deployment(
    published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    membership = Membership.objects.get(user__username="na-cgd.duty")
    before = sorted(p.code for p in membership.crossing_points.all())
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(InvalidInput, match="NA-CGD is not deployed at: WDH") as info,
    ):
        membership_set_points(membership=membership, crossing_point_ids=points("WVB", "WDH"))
    assert info.value.code == "agency_not_deployed"
    assert sorted(p.code for p in membership.crossing_points.all()) == before
    assert control_messages(published) == []


def test_set_points_refuses_unknown_points() -> None:
    membership = Membership.objects.get(user__username="na-cgd.duty")
    with pytest.raises(InvalidInput, match="Unknown crossing point"):
        membership_set_points(membership=membership, crossing_point_ids=[987654])
