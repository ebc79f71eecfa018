"""Every admin path that changes who may see what tells the workers (after commit).

Each test drives the admin through the test client as a browser would (GET the
page, edit, POST) and asserts the ``access_changed`` control messages that were
published, and for whom. The realtime layer acting on those messages is tested
in test_ws_frames.py / test_multiworker.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client

from hub.accounts.models import ApiToken, User
from hub.accounts.services import token_issue
from hub.agencies.demo import seed_reference_data
from hub.agencies.models import Agency, CrossingPoint, Deployment, Membership
from tests.admin_forms import add_inline_row, change_form_data, control_messages, inline_prefix

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def root(client: Client) -> Client:
    seed_reference_data()
    User.objects.create_superuser("root", "root@example.org", "root-pass-123")
    client.login(username="root", password="root-pass-123")
    return client


def members_of(agency_code: str) -> set[int]:
    return set(
        Membership.objects.filter(agency__code=agency_code).values_list("user_id", flat=True)
    )


def serving(point_code: str) -> set[int]:
    return set(
        Membership.objects.filter(crossing_points__code=point_code).values_list(
            "user_id", flat=True
        )
    )


def access_changes(published: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [m for m in control_messages(published) if m["type"] == "access_changed"]


def post(
    client: Client,
    url: str,
    data: dict[str, Any],
    capture: Capture,
    *,
    expect: int = 302,
) -> Any:
    with capture(execute=True):
        response = client.post(url, data)
    assert response.status_code == expect, (
        response.context["adminform"].form.errors if response.context else response
    )
    return response


# --- memberships on the user page use the membership rule ----------------------------


def test_user_page_membership_inline_refuses_points_the_agency_does_not_serve(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    user = User.objects.create_user("new.officer", password="x-pass-123456")
    url = f"/admin/accounts/user/{user.pk}/change/"
    data = change_form_data(root, url)
    (prefix,) = inline_prefix(data)
    add_inline_row(
        data,
        prefix,
        {
            "agency": Agency.objects.get(code="NA-CGD").pk,  # coastguard: Walvis Bay only
            "role": "duty_officer",
            "crossing_points": [CrossingPoint.objects.get(code="WDH").pk],
            "is_active": "on",
        },
    )
    response = post(root, url, data, django_capture_on_commit_callbacks, expect=200)
    assert "NA-CGD is not deployed at: WDH." in response.content.decode()
    assert not user.memberships.exists()
    assert access_changes(published) == []


def test_user_page_membership_inline_adds_and_publishes(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    user = User.objects.create_user("new.officer", password="x-pass-123456")
    url = f"/admin/accounts/user/{user.pk}/change/"
    data = change_form_data(root, url)
    (prefix,) = inline_prefix(data)
    add_inline_row(
        data,
        prefix,
        {
            "agency": Agency.objects.get(code="NA-CGD").pk,
            "role": "duty_officer",
            "crossing_points": [CrossingPoint.objects.get(code="WVB").pk],
            "is_active": "on",
        },
    )
    post(root, url, data, django_capture_on_commit_callbacks)
    membership = user.memberships.get()
    assert [p.code for p in membership.crossing_points.all()] == ["WVB"]
    assert [(m["user_id"], m["close_all"]) for m in access_changes(published)] == [(user.pk, False)]


# --- deployments: the crossing point's inline and the deployment admin's deletes ------


def test_crossing_point_page_deployment_inline_add_publishes_to_the_agencys_members(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    point = CrossingPoint.objects.get(code="WDH")
    cgd = Agency.objects.get(code="NA-CGD")
    url = f"/admin/agencies/crossingpoint/{point.pk}/change/"
    data = change_form_data(root, url)
    (prefix,) = inline_prefix(data)
    add_inline_row(data, prefix, {"agency": cgd.pk, "is_active": "on", "notes": ""})
    post(root, url, data, django_capture_on_commit_callbacks)
    assert Deployment.objects.filter(agency=cgd, crossing_point=point).exists()
    changes = access_changes(published)
    assert {m["user_id"] for m in changes} == members_of("NA-CGD")
    assert {m["reason"] for m in changes} == {"deployment_changed"}


def test_crossing_point_page_deployment_inline_delete_publishes(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    point = CrossingPoint.objects.get(code="WDH")
    url = f"/admin/agencies/crossingpoint/{point.pk}/change/"
    data = change_form_data(root, url)
    (prefix,) = inline_prefix(data)
    air = Deployment.objects.get(crossing_point=point, agency__code="NA-AIR")
    (row,) = [
        k.removesuffix("-id")
        for k, v in data.items()
        if k.startswith(f"{prefix}-") and k.endswith("-id") and v == str(air.pk)
    ]
    data[f"{row}-DELETE"] = "on"
    post(root, url, data, django_capture_on_commit_callbacks)
    assert not Deployment.objects.filter(pk=air.pk).exists()
    assert {m["user_id"] for m in access_changes(published)} == members_of("NA-AIR")


def test_crossing_point_page_saved_unchanged_publishes_nothing(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    point = CrossingPoint.objects.get(code="WDH")
    url = f"/admin/agencies/crossingpoint/{point.pk}/change/"
    post(root, url, change_form_data(root, url), django_capture_on_commit_callbacks)
    assert access_changes(published) == []


def test_deployment_admin_delete_publishes(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    deployment = Deployment.objects.get(crossing_point__code="WVB", agency__code="NA-PRT")
    post(
        root,
        f"/admin/agencies/deployment/{deployment.pk}/delete/",
        {"post": "yes"},
        django_capture_on_commit_callbacks,
    )
    assert not Deployment.objects.filter(pk=deployment.pk).exists()
    assert {m["user_id"] for m in access_changes(published)} == members_of("NA-PRT")


def test_deployment_admin_bulk_delete_publishes(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    chosen = list(
        Deployment.objects.filter(crossing_point__code="DUR", agency__code__in=["ZA-PRT", "ZA-CGD"])
    )
    assert len(chosen) == 2
    post(
        root,
        "/admin/agencies/deployment/",
        {
            "action": "delete_selected",
            "_selected_action": [d.pk for d in chosen],
            "post": "yes",
        },
        django_capture_on_commit_callbacks,
    )
    assert not Deployment.objects.filter(pk__in=[d.pk for d in chosen]).exists()
    changes = access_changes(published)
    assert {m["user_id"] for m in changes} == members_of("ZA-PRT") | members_of("ZA-CGD")
    assert len(changes) == len({m["user_id"] for m in changes}), "one message per user"


# --- deactivating an agency or a crossing point --------------------------------------


def test_deactivating_an_agency_publishes_to_its_members(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    agency = Agency.objects.get(code="NA-POL")
    url = f"/admin/agencies/agency/{agency.pk}/change/"
    data = change_form_data(root, url)
    del data["is_active"]  # the unticked box is not sent
    post(root, url, data, django_capture_on_commit_callbacks)
    agency.refresh_from_db()
    assert agency.is_active is False
    changes = access_changes(published)
    assert {m["user_id"] for m in changes} == members_of("NA-POL")
    assert {m["reason"] for m in changes} == {"agency_deactivated"}

    published.clear()
    data["is_active"] = "on"
    post(root, url, data, django_capture_on_commit_callbacks)
    assert {m["reason"] for m in access_changes(published)} == {"agency_reactivated"}


def test_renaming_an_agency_publishes_nothing(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    agency = Agency.objects.get(code="NA-POL")
    url = f"/admin/agencies/agency/{agency.pk}/change/"
    data = change_form_data(root, url)
    data["name"] = "Namibian Police Force, Border Unit"
    post(root, url, data, django_capture_on_commit_callbacks)
    assert access_changes(published) == []


def test_deactivating_a_crossing_point_publishes_to_everyone_serving_it(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    point = CrossingPoint.objects.get(code="WEN")
    url = f"/admin/agencies/crossingpoint/{point.pk}/change/"
    data = change_form_data(root, url)
    del data["is_active"]
    post(root, url, data, django_capture_on_commit_callbacks)
    point.refresh_from_db()
    assert point.is_active is False
    changes = access_changes(published)
    assert {m["user_id"] for m in changes} == serving("WEN")
    assert serving("WEN") >= members_of("ZM-IMM")  # both countries' officers at the OSBP
    assert {m["reason"] for m in changes} == {"crossing_point_deactivated"}


# --- deleting users and tokens closes their sockets ----------------------------------


def test_deleting_a_user_closes_all_their_sockets(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    user = User.objects.create_user("leaving.officer", password="x-pass-123456")
    user_id = user.pk
    post(
        root,
        f"/admin/accounts/user/{user_id}/delete/",
        {"post": "yes"},
        django_capture_on_commit_callbacks,
    )
    assert not User.objects.filter(pk=user_id).exists()
    assert [(m["user_id"], m["reason"], m["close_all"]) for m in access_changes(published)] == [
        (user_id, "user_deleted", True)
    ]


def test_bulk_deleting_users_closes_all_their_sockets(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    ids = [User.objects.create_user(f"leaving.{n}", password="x-pass-123456").pk for n in range(2)]
    post(
        root,
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        django_capture_on_commit_callbacks,
    )
    assert not User.objects.filter(pk__in=ids).exists()
    changes = access_changes(published)
    assert sorted(m["user_id"] for m in changes) == sorted(ids)
    assert all(m["close_all"] and m["reason"] == "user_deleted" for m in changes)


def test_deleting_a_token_closes_the_sockets_it_authenticated(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    officer = User.objects.get(username="na-imm.duty")
    token = token_issue(user=officer, name="script").token
    token_id = token.pk
    post(
        root,
        f"/admin/accounts/apitoken/{token_id}/delete/",
        {"post": "yes"},
        django_capture_on_commit_callbacks,
    )
    assert not ApiToken.objects.filter(pk=token_id).exists()
    changes = access_changes(published)
    assert [(m["user_id"], m["token_id"], m["close_all"]) for m in changes] == [
        (officer.pk, token_id, False)
    ]
    assert changes[0]["reason"] == "token_deleted"


def test_bulk_deleting_tokens_closes_their_sockets(
    root: Client, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Capture
) -> None:
    officer = User.objects.get(username="na-imm.duty")
    ids = [token_issue(user=officer, name=f"script {n}").token.pk for n in range(2)]
    post(
        root,
        "/admin/accounts/apitoken/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        django_capture_on_commit_callbacks,
    )
    assert not ApiToken.objects.filter(pk__in=ids).exists()
    assert sorted(m["token_id"] for m in access_changes(published)) == sorted(ids)
