"""``manage.py seed_demo`` builds a realistic region and is idempotent."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from hub.accounts.models import User
from hub.agencies.demo import DEMO_PASSWORD, seed_reference_data
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
from hub.attachments.models import Attachment, MessageAttachment
from hub.attachments.services import attachment_storage
from hub.demo.activity import seed_activity
from hub.demo.evidence import seed_evidence
from hub.demo.history import SHARED_DOCUMENT
from hub.events.audit import verify
from hub.events.models import Event, Stream, WriteReceipt
from hub.incidents.demo import demo_id, seed_incidents
from hub.incidents.models import Incident, Message, Participation
from hub.operations.models import ChecklistTemplate, Operation, Task, TemplateItem
from hub.operations.sops import seed_templates
from hub.sitreps.models import SitrepSubject, SituationReport
from tests.evidence import use_temporary_storage


@pytest.fixture(autouse=True)
def _temporary_attachment_storage(settings: Any, tmp_path: Path) -> None:
    """seed_demo stores its demo evidence files: on a temporary directory here."""
    use_temporary_storage(settings, tmp_path / "attachments")


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
        "attachments": list(Attachment.objects.order_by("id").values()),
        "message_attachments": list(MessageAttachment.objects.order_by("id").values()),
    }


def demo_receipt(name: str) -> WriteReceipt:
    return WriteReceipt.objects.get(client_msg_id=demo_id(name))


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_rows() -> None:
    seed()
    first = snapshot()
    output = seed()
    assert snapshot() == first
    assert len(first["incidents"]) >= 5
    assert verify().ok
    # The second run wrote nothing: not an event, not a receipt.
    assert "0 events written this time" in output


def stored(name: str) -> bytes:
    with attachment_storage().open(name, "rb") as f:
        return f.read()


@pytest.mark.django_db
def test_seed_demo_puts_evidence_files_on_the_fraud_and_trafficking_incidents() -> None:
    output = seed()
    doc = Incident.objects.get(ref=demo_receipt("doc").stream.split(":", 1)[1])
    tip = Incident.objects.get(ref=demo_receipt("tip").stream.split(":", 1)[1])
    assert (doc.category, tip.category) == ("document_fraud", "trafficking_in_persons")
    assert not Attachment.objects.exclude(incident__in=[doc, tip]).exists()
    for incident in (doc, tip):
        files = list(Attachment.objects.filter(incident=incident))
        assert sorted(f.content_type for f in files) == [
            "application/pdf",
            "image/jpeg",
            "image/png",
        ]
        stream = Event.objects.filter(stream__name=incident.stream_name)
        added = {
            e.payload["attachment_id"]: e.payload["sha256"]
            for e in stream.filter(kind="attachment.added")
        }
        for file in files:
            assert hashlib.sha256(stored(file.storage_name)).hexdigest() == file.sha256
            assert added[file.pk] == file.sha256
            assert file.referenced_at is not None  # a message refers to it
            assert MessageAttachment.objects.filter(
                attachment=file, message__incident=incident
            ).exists()
            assert file.derived_at is not None
            with Image.open(io.BytesIO(stored(file.thumbnail_name))) as thumbnail:
                assert (thumbnail.format, max(thumbnail.size)) == ("JPEG", 320)
    # The phone photo carries GPS; what everyone else sees does not.
    photo = Attachment.objects.get(incident=doc, content_type="image/jpeg")
    with Image.open(io.BytesIO(stored(photo.storage_name))) as original:
        assert original.getexif().get_ifd(0x8825)[1] == "S"
    with Image.open(io.BytesIO(stored(photo.view_name))) as view:
        assert "exif" not in view.info
        assert not view.getexif()
    letter = Attachment.objects.get(incident=tip, content_type="application/pdf")
    with Image.open(io.BytesIO(stored(letter.view_name))) as page:
        assert max(page.size) == page.height == 2048  # page 1 of an A4 letter
    assert stored(letter.storage_name).startswith(b"%PDF-")
    assert "Evidence files: 6 on" in output
    assert "(6 added this time, 6 derived)" in output

    events = Event.objects.count()
    again = seed()
    assert "(0 added this time, 0 derived)" in again
    assert Attachment.objects.count() == 6
    assert MessageAttachment.objects.count() == 6
    assert Event.objects.count() == events


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
    operation = Operation.objects.get(pk=int(demo_receipt("op-tip").object_id))
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


@pytest.mark.django_db
def test_seed_demo_writes_weeks_of_history() -> None:
    """One seed (it takes seconds), every property of the history checked on it."""
    output = seed()
    history_spans_weeks_at_every_point(output)
    every_stream_is_in_time_order()
    acknowledgements_come_at_realistic_delays()
    operations_have_overdue_and_late_tasks()
    edits_and_a_redaction_are_in_the_record()
    one_document_number_at_two_crossing_points()


def history_spans_weeks_at_every_point(seeded: str) -> None:
    """Several weeks of incidents at each crossing point, the demo incidents after them."""
    now = timezone.now()
    first = Event.objects.order_by("at").values_list("at", flat=True)[0]
    assert now - first >= timedelta(weeks=3)
    for point in CrossingPoint.objects.values_list("code", flat=True):
        reported = Event.objects.filter(
            kind="incident.reported", stream__name__startswith=f"incident:{point}-"
        ).values_list("at", flat=True)
        assert len(reported) >= 6, point
        assert now - min(reported) >= timedelta(weeks=3), point
    statuses = set(Incident.objects.values_list("status", flat=True))
    assert statuses >= {"reported", "active", "resolved", "closed"}
    # The current demo incident still has the ref its activity uses.
    tip = Incident.objects.get(ref=demo_receipt("tip").stream.split(":", 1)[1])
    assert tip.title.startswith("Minor travelling")
    assert Operation.objects.get(pk=int(demo_receipt("op-tip").object_id)).incident == tip
    assert "History: 5 weeks" in seeded
    assert verify().ok


def every_stream_is_in_time_order() -> None:
    last: dict[int, Any] = {}
    rows = Event.objects.order_by("stream_id", "seq").values_list("stream_id", "at")
    for stream_id, at in rows:
        assert stream_id not in last or last[stream_id] <= at
        last[stream_id] = at
    assert len(last) > 50


def acknowledgements_come_at_realistic_delays() -> None:
    targets = AlertTarget.objects.select_related("alert").filter(alert__is_exercise=False)
    delays = [
        (t.acknowledged_at - t.alert.created_at).total_seconds()
        for t in targets
        if t.acknowledged_at is not None
    ]
    assert len(delays) >= 50
    assert len({round(d / 60) for d in delays}) >= 20  # varied, not all at once
    on_time = [
        t for t in targets if t.acknowledged_at and t.due_at and t.acknowledged_at <= t.due_at
    ]
    late = [t for t in targets if t.acknowledged_at and t.due_at and t.acknowledged_at > t.due_at]
    assert len(on_time) > 2 * len(late) > 0
    # Late and never acknowledged targets were escalated when they fell due.
    escalated = targets.filter(escalated_at__isnull=False)
    assert escalated.filter(acknowledged_at__isnull=True).exists()
    for t in escalated:
        assert t.due_at is not None
        assert t.escalated_at is not None
        assert t.due_at <= t.escalated_at <= t.due_at + timedelta(minutes=1)
    assert Alert.objects.filter(status="expired").count() >= 10


def operations_have_overdue_and_late_tasks() -> None:
    overdue = Task.objects.filter(
        operation__status="active",
        status__in=["open", "in_progress"],
        due_at__lt=timezone.now(),
        escalated_at__isnull=False,
    )
    assert overdue.exists()
    done = Task.objects.filter(status="done", completed_at__isnull=False, due_at__isnull=False)
    assert (
        done.filter(completed_at__lte=F("due_at")).count()
        > done.filter(completed_at__gt=F("due_at")).count()
        > 0
    )
    assert Operation.objects.filter(status="closed").count() >= 3
    # Situation reports on a cadence: one came late, after a reminder.
    assert Event.objects.filter(kind="sitrep.overdue").exists()
    assert SituationReport.objects.count() >= 6


def edits_and_a_redaction_are_in_the_record() -> None:
    assert Message.objects.filter(edit_count__gt=0).count() >= 2
    assert Event.objects.filter(kind="message.edited").count() >= 2
    redacted = Message.objects.get(redacted_at__isnull=False)
    assert redacted.redaction_reason
    assert Event.objects.filter(
        kind="message.redacted", payload__reason=redacted.redaction_reason
    ).exists()


def one_document_number_at_two_crossing_points() -> None:
    in_messages = set(
        Message.objects.filter(body__contains=SHARED_DOCUMENT).values_list(
            "incident__crossing_point__code", flat=True
        )
    )
    in_descriptions = set(
        Incident.objects.filter(description__contains=SHARED_DOCUMENT).values_list(
            "crossing_point__code", flat=True
        )
    )
    assert in_messages == {"WDH"}
    assert in_descriptions == {"WVB"}


@pytest.mark.django_db
def test_no_history_after_the_demo_activity() -> None:
    """A database seeded before the history existed gets none: it would be out of order."""
    seed_reference_data()
    seed_templates()
    refs = seed_incidents()
    seed_activity()
    seed_evidence(refs)
    events = Event.objects.count()
    output = seed()
    assert "History left out" in output
    assert Event.objects.count() == events
