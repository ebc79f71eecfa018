"""The Django admin renders every model's list page and protects privileges."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from hub.accounts.models import User
from hub.agencies.demo import DEMO_PASSWORD, seed_reference_data


@pytest.fixture
def superuser_client(client: Client) -> Client:
    seed_reference_data()
    User.objects.create_superuser("root", "root@example.org", "root-pass-123")
    client.login(username="root", password="root-pass-123")
    return client


@pytest.mark.django_db
def test_every_registered_model_list_page_renders(superuser_client: Client) -> None:
    rendered = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        if model_admin.search_fields:
            assert superuser_client.get(url, {"q": "NA"}).status_code == 200, url
        rendered.append(opts.label)
    assert {
        "agencies.Agency",
        "agencies.CrossingPoint",
        "agencies.Deployment",
        "agencies.Membership",
        "agencies.Country",
        "accounts.User",
    } <= set(rendered)


@pytest.mark.django_db
def test_list_filters_narrow_the_list(superuser_client: Client) -> None:
    response = superuser_client.get("/admin/agencies/agency/", {"kind__exact": "coastguard"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "NA-CGD" in body
    assert "ZA-CGD" in body
    assert "NA-IMM" not in body


@pytest.mark.django_db
def test_every_change_page_renders(superuser_client: Client) -> None:
    for model in admin.site._registry:
        obj = model._default_manager.first()
        if obj is None:
            continue
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/change/"
        assert superuser_client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_printed_demo_admin_login_works_in_admin(client: Client) -> None:
    seed_reference_data()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "na-imm.admin", "password": DEMO_PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "Agencies" in index.content.decode()
    assert client.get("/admin/agencies/crossingpoint/").status_code == 200


@pytest.mark.django_db
def test_reference_admin_cannot_grant_itself_superuser(client: Client) -> None:
    seed_reference_data()
    client.login(username="na-imm.admin", password=DEMO_PASSWORD)
    me = User.objects.get(username="na-imm.admin")
    page = client.get(f"/admin/accounts/user/{me.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page
    root = User.objects.create_superuser("root", "root@example.org", "root-pass-123")
    assert client.get(f"/admin/accounts/user/{root.pk}/change/").status_code in {302, 404}


@pytest.mark.django_db
def test_membership_must_serve_points_where_agency_is_deployed(superuser_client: Client) -> None:
    from hub.agencies.models import Agency, CrossingPoint

    user = User.objects.create_user("new.officer", password="x-pass-123456")
    agency = Agency.objects.get(code="NA-CGD")  # coastguard: Walvis Bay only
    airport = CrossingPoint.objects.get(code="WDH")
    response = superuser_client.post(
        "/admin/agencies/membership/add/",
        {
            "user": user.pk,
            "agency": agency.pk,
            "role": "duty_officer",
            "crossing_points": [airport.pk],
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "NA-CGD is not deployed at: WDH" in response.content.decode()
    assert not user.memberships.exists()
