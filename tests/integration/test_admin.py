"""The Django admin renders every model's pages and protects privileges.

The fixture loads the whole demo (``seed_demo``: reference data, incidents,
messages, alerts, joint operations, their events) plus an API token, so every
registered model has rows: its list page shows them and a change page renders.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db.models import Model
from django.test import Client

from hub.accounts.models import User
from hub.accounts.services import token_issue
from hub.agencies.demo import DEMO_PASSWORD, REFERENCE_ADMIN_GROUP, seed_reference_data
from hub.agencies.models import Membership
from tests.evidence import use_temporary_storage

# Concrete models under hub.* that are deliberately not in the admin, and why.
# A model whose admin (or inline) disappears fails
# test_every_hub_model_is_in_the_admin_or_allowlisted unless it is added here.
NOT_IN_ADMIN = {
    "incidents.IncidentCounter": "per-crossing-point reference counter; internal bookkeeping",
    "operations.OperationCounter": "per-crossing-point reference counter; internal bookkeeping",
    "incidents.Participation": (
        "changes only through the incident services (invite, set lead), which append "
        "events; the participating agencies are readable on the incident's timeline"
    ),
    "events.ReadMarker": (
        "how far each officer has read a stream ('seen by'): written only by the read "
        "service, monotonic, not part of the record; nothing for an administrator to edit"
    ),
    "events.Checkpoint": (
        "append-only signed checkpoints: made only by the jobs loop, checked by "
        "audit_verify and GET /audit/verify; each holds every stream's head (about a "
        "megabyte at 10,000 streams), nothing an administrator reads or edits row by row"
    ),
    "events.WitnessDelivery": (
        "delivery state of checkpoints to the witnesses: written by the loop, reported "
        "in /readyz detail"
    ),
    "attachments.Attachment": (
        "evidence files: written and withdrawn only through the attachment services, "
        "which append their events; an admin edit would bypass the chain of custody, and "
        "an admin page must not become a way around who may download an original"
    ),
    "attachments.MessageAttachment": (
        "which files a message refers to: written once with the message by message_post, "
        "listed on the message (GET /incidents/{ref}/messages)"
    ),
    "operations.TaskAttachment": (
        "which files are a task's evidence: added only by task_update (an event on the "
        "operation's stream), never changed or removed; listed on the task "
        "(TaskOut.attachments)"
    ),
}


def hub_models() -> list[type[Model]]:
    return [
        model
        for model in apps.get_models()  # concrete, not auto-created M2M tables
        if model.__module__.startswith("hub.")
    ]


def inline_models() -> set[type[Model]]:
    return {
        inline.model
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    }


@pytest.fixture
def full_demo(db: None, settings: Any, tmp_path: Path) -> None:
    use_temporary_storage(settings, tmp_path / "attachments")  # the demo's evidence files
    call_command("seed_demo", quiet_logins=True, stdout=StringIO())
    token_issue(user=User.objects.get(username="na-imm.duty"), name="admin page test")


@pytest.fixture
def superuser_client(client: Client, full_demo: None) -> Client:
    User.objects.create_superuser("root", "root@example.org", "root-pass-123")
    client.login(username="root", password="root-pass-123")
    return client


@pytest.mark.django_db
def test_every_registered_model_has_rows_whose_list_and_change_pages_render(
    superuser_client: Client,
) -> None:
    rendered = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        obj = model._default_manager.order_by("-pk").first()
        assert obj is not None, f"the demo has no {opts.label}: its pages would go untested"
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        assert 'id="result_list"' in response.content.decode(), f"{url} lists no rows"
        if model_admin.search_fields:
            assert superuser_client.get(url, {"q": "NA"}).status_code == 200, url
        change = f"{url}{obj.pk}/change/"
        assert superuser_client.get(change).status_code == 200, change
        rendered.append(opts.label)
    assert {
        "auth.Group",
        "accounts.User",
        "accounts.ApiToken",
        "agencies.Agency",
        "agencies.CrossingPoint",
        "agencies.Deployment",
        "agencies.Membership",
        "agencies.Country",
        "events.Stream",
        "events.Event",
        "events.WriteReceipt",
        "incidents.Incident",
        "incidents.Message",
        "alerts.Alert",
        "operations.ChecklistTemplate",
        "operations.Operation",
    } <= set(rendered)


def test_every_hub_model_is_in_the_admin_or_allowlisted() -> None:
    registered = set(admin.site._registry)
    shown = registered | inline_models()
    missing = [
        m._meta.label for m in hub_models() if m not in shown and m._meta.label not in NOT_IN_ADMIN
    ]
    assert not missing, f"not in the admin (register it, inline it, or allowlist it): {missing}"
    # The allowlist stays honest: every entry exists and really is absent.
    labels = {m._meta.label: m for m in hub_models()}
    for label in NOT_IN_ADMIN:
        assert label in labels, f"{label} is allowlisted but no longer exists"
        assert labels[label] not in shown, f"{label} is in the admin now: drop it from the list"


@pytest.mark.django_db
def test_list_filters_narrow_the_list(superuser_client: Client) -> None:
    response = superuser_client.get("/admin/agencies/agency/", {"kind__exact": "coastguard"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "NA-CGD" in body
    assert "ZA-CGD" in body
    assert "NA-IMM" not in body


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


# --- who may manage reference data (hub.agencies.permissions) ------------------------

REFERENCE_PAGES = [
    "/admin/agencies/agency/",
    "/admin/agencies/country/",
    "/admin/agencies/crossingpoint/",
    "/admin/agencies/deployment/",
    "/admin/agencies/membership/",
    "/admin/accounts/user/",
]


def staff_with_admin_group(username: str) -> User:
    """``username`` made staff with every Django permission a demo admin has."""
    from django.contrib.auth.models import Group

    user = User.objects.get(username=username)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name=REFERENCE_ADMIN_GROUP))
    return user


@pytest.mark.django_db
@pytest.mark.parametrize("url", REFERENCE_PAGES)
def test_staff_without_an_admin_membership_may_not_manage_reference_data(
    client: Client, url: str
) -> None:
    seed_reference_data()
    # Staff, with the very group the demo admins have: only the membership differs.
    staff_with_admin_group("na-imm.duty")
    assert client.login(username="na-imm.duty", password=DEMO_PASSWORD)
    assert client.get(url).status_code == 403
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "/admin/agencies/agency/" not in index.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url", REFERENCE_PAGES)
def test_demo_admin_manages_reference_data(client: Client, url: str) -> None:
    seed_reference_data()
    assert client.login(username="na-imm.admin", password=DEMO_PASSWORD)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_an_ended_admin_membership_ends_reference_data_access(client: Client) -> None:
    seed_reference_data()
    Membership.objects.filter(user__username="na-imm.admin", role="admin").update(is_active=False)
    assert client.login(username="na-imm.admin", password=DEMO_PASSWORD)
    assert client.get("/admin/agencies/agency/").status_code == 403
    assert client.get("/admin/agencies/agency/add/").status_code == 403


@pytest.mark.django_db
def test_an_admin_membership_without_django_permissions_is_not_enough(client: Client) -> None:
    # The rule narrows Django's permissions; it does not replace them.
    seed_reference_data()
    admin_user = User.objects.get(username="na-imm.admin")
    admin_user.groups.clear()
    assert client.login(username="na-imm.admin", password=DEMO_PASSWORD)
    assert client.get("/admin/agencies/agency/").status_code == 403


@pytest.mark.django_db
def test_superuser_without_membership_manages_reference_data(superuser_client: Client) -> None:
    assert not Membership.objects.filter(user__username="root").exists()
    for url in REFERENCE_PAGES:
        assert superuser_client.get(url).status_code == 200, url
