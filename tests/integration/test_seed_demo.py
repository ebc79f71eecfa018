"""``manage.py seed_demo`` builds a realistic region and is idempotent."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from hub.accounts.models import User
from hub.agencies.demo import DEMO_PASSWORD
from hub.agencies.models import (
    Agency,
    AgencyKind,
    Country,
    CrossingPoint,
    Deployment,
    Membership,
    Role,
)
from hub.alerts.models import Alert, AlertTarget
from hub.events.audit import verify
from hub.events.models import Event, Stream, WriteReceipt
from hub.incidents.models import Incident, Message, Participation
from hub.operations.models import ChecklistTemplate, Operation, Task, TemplateItem
from hub.sitreps.models import SitrepSubject, SituationReport


def snapshot() -> dict[str, Any]:
    return {
        "countries": list(Country.objects.order_by("code").values()),
        "agencies": list(Agency.objects.order_by("code").values()),
        "points": list(CrossingPoint.objects.order_by("code").values()),
        "point_countries": sorted(
            CrossingPoint.countries.through.objects.values_list("crossingpoint_id", "country_id")
        ),
        "deployments": list(Deployment.objects.order_by("id").values()),
        "users": list(User.objects.order_by("id").values()),
        "memberships": list(Membership.objects.order_by("id").values()),
        "membership_points": sorted(
            Membership.crossing_points.through.objects.values_list(
                "membership_id", "crossingpoint_id"
            )
        ),
        "user_groups": sorted(User.groups.through.objects.values_list("user_id", "group_id")),
        "incidents": list(Incident.objects.order_by("id").values()),
        "participations": list(Participation.objects.order_by("id").values()),
        "messages": list(Message.objects.order_by("id").values()),
        "streams": list(Stream.objects.order_by("id").values()),
        "events": list(Event.objects.order_by("id").values()),
        "receipts": list(WriteReceipt.objects.order_by("id").values()),
        "alerts": list(Alert.objects.order_by("id").values()),
        "alert_targets": list(AlertTarget.objects.order_by("id").values()),
        "templates": list(ChecklistTemplate.objects.order_by("id").values()),
        "template_items": list(TemplateItem.objects.order_by("id").values()),
        "operations": list(Operation.objects.order_by("id").values()),
        "tasks": list(Task.objects.order_by("id").values()),
        "sitrep_subjects": list(SitrepSubject.objects.order_by("id").values()),
        "situation_reports": list(SituationReport.objects.order_by("id").values()),
    }


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_rows() -> None:
    seed()
    first = snapshot()
    seed()
    assert snapshot() == first
    assert len(first["incidents"]) >= 5
    assert verify().ok


@pytest.mark.django_db
def test_seed_demo_activity_covers_the_typical_cases() -> None:
    seed()
    categories = set(Incident.objects.values_list("category", flat=True))
    assert {
        "trafficking_in_persons",
        "irregular_crossing",
        "vessel_interdiction",
        "document_fraud",
        "migrant_smuggling",
    } <= categories
    points = set(Incident.objects.values_list("crossing_point__code", flat=True))
    assert {"WDH", "WEN", "WVB", "JNB", "DUR"} <= points
    assert Message.objects.count() >= 5
    assert set(Incident.objects.values_list("status", flat=True)) >= {"active", "resolved"}
    assert set(ChecklistTemplate.objects.values_list("code", flat=True)) == {
        "tip-screening",
        "vessel-interdiction",
        "document-fraud-check",
        "mass-arrival-land",
    }
    assert Alert.objects.filter(is_exercise=True).exists()
    assert AlertTarget.objects.filter(acknowledged_at__isnull=False).exists()
    operation = Operation.objects.get()
    assert operation.incident is not None
    assert operation.tasks.filter(status="done").exists()
    # A situation report with a cadence on the incident, and a cadence on the operation.
    on_incident = SitrepSubject.objects.get(incident=operation.incident)
    assert (on_incident.reports, on_incident.every_minutes) == (1, 60)
    assert SitrepSubject.objects.get(operation=operation).every_minutes == 30
    assert SituationReport.objects.get(subject=on_incident).needs[0]["agency"] == "NA-POL"


@pytest.mark.django_db
def test_seed_demo_builds_a_realistic_region() -> None:
    output = seed()
    points = {p.code: p for p in CrossingPoint.objects.prefetch_related("countries")}
    assert {p.kind for p in points.values()} == {"airport", "land", "seaport"}
    osbp = [p for p in points.values() if p.is_one_stop_border_post]
    assert len(osbp) == 1
    assert sorted(c.code for c in osbp[0].countries.all()) == ["NA", "ZM"]
    # An airport, a land crossing and a seaport in each of two countries.
    for country in ("NA", "ZA"):
        kinds = {p.kind for p in points.values() if country in {c.code for c in p.countries.all()}}
        assert kinds == {"airport", "land", "seaport"}
    # Coastguards and port authorities sit at seaports, airport authorities at airports.
    for deployment in Deployment.objects.select_related("agency", "crossing_point"):
        kind = deployment.agency.kind
        if kind in {AgencyKind.COASTGUARD, AgencyKind.PORT_AUTHORITY}:
            assert deployment.crossing_point.kind == "seaport"
        if kind == AgencyKind.AIRPORT_AUTHORITY:
            assert deployment.crossing_point.kind == "airport"
    # One demo officer per role and agency, each printed with the password.
    assert Membership.objects.count() == Agency.objects.count() * len(Role)
    for agency in Agency.objects.all():
        for role in Role:
            m = Membership.objects.get(agency=agency, role=role)
            assert m.user.check_password(DEMO_PASSWORD)
            assert m.user.username in output
            deployed = set(agency.deployments.values_list("crossing_point_id", flat=True))
            assert set(m.crossing_points.values_list("id", flat=True)) == deployed
    assert DEMO_PASSWORD in output


@pytest.mark.django_db
def test_seed_demo_refuses_production() -> None:
    with override_settings(HUB_ENV="production"), pytest.raises(CommandError, match="refuses"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
