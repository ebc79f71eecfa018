"""Alert services and their REST API: rows written, events emitted, defaults, refusals.

Covers ``alert_issue``, ``alert_update``, ``alert_cancel``, ``alert_acknowledge``,
and the jobs ``alerts_escalate_due`` and ``alerts_expire_due`` (``hub.jobs``; the
loop itself is in ``test_escalation.py``). Every emitted payload is validated against its pydantic
model with ``hub.events.types.validate_payload``. Services are driven with an
explicit ``now``; the REST tests go through ``/api/v1`` as demo officers.

The demo region is seeded once for the module, inside a transaction that is
rolled back when the module ends; each test runs in its own savepoint within it
(as the ``demo`` fixture would, but without re-seeding 60 officers per test).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hub.alerts import services
from hub.alerts.models import Alert, AlertStatus, AlertTarget
from hub.alerts.services import AlertResult
from hub.errors import Conflict, Forbidden, HubError, IdempotencyConflict, InvalidInput, NotFound
from hub.events.models import Event, WriteReceipt
from hub.events.types import validate_payload
from hub.incidents.models import Incident
from hub.jobs import alert_escalation, alert_expiry
from tests.factories import Api, officer, report, seed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("region")]

WDH_AGENCIES = ["NA-AIR", "NA-CUS", "NA-IMM", "NA-POL"]
OTHERS_OF_IMM = ["NA-AIR", "NA-CUS", "NA-POL"]
DEFAULT_URGENCY = {
    "critical": "Immediate",
    "high": "Immediate",
    "medium": "Expected",
    "low": "Future",
}


@pytest.fixture(scope="module")
def region(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The demo region, seeded once per module and rolled back at its end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        seed()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def every_payload_valid(db: None) -> Iterator[None]:
    """After each test, every event it wrote validates against its payload model."""
    yield
    for event in Event.objects.all():
        validate_payload(event.kind, event.payload)


@pytest.fixture(autouse=True)
def ack_windows(settings: Any) -> None:
    """The documented default windows, whatever HUB_ALERT_ACK_WINDOWS the environment sets."""
    settings.HUB_ALERT_ACK_WINDOWS = {
        "critical": 5 * 60,
        "high": 15 * 60,
        "medium": 60 * 60,
        "low": 4 * 60 * 60,
    }


@pytest.fixture
def now() -> datetime:
    """The clock the services are driven with (whole seconds, like CAP)."""
    return timezone.now().replace(microsecond=0)


def events_on(stream: str) -> list[Event]:
    """Every event of a stream, in order, each payload validated against its model."""
    events = list(Event.objects.filter(stream__name=stream).order_by("seq"))
    for event in events:
        validate_payload(event.kind, event.payload)
    return events


def kinds_on(stream: str) -> list[str]:
    return [e.kind for e in events_on(stream)]


def issue(username: str = "na-imm.duty", crossing_point: str = "WDH", **fields: Any) -> AlertResult:
    params: dict[str, Any] = {
        "category": "document_fraud",
        "severity": "high",
        "title": "Forged Schengen visas, series K",
        "body": "Look for misaligned laminate on page 3.",
    }
    params.update(fields)
    return services.alert_issue(actor=officer(username), crossing_point=crossing_point, **params)


def targets_of(alert: Alert) -> list[str]:
    return list(
        AlertTarget.objects.filter(alert=alert)
        .order_by("agency__code")
        .values_list("agency__code", flat=True)
    )


def ack(username: str, alert: Alert, now: datetime | None = None, **kw: Any) -> AlertResult:
    return services.alert_acknowledge(
        actor=officer(username),
        alert_id=alert.pk,
        client_msg_id=kw.pop("client_msg_id", uuid.uuid4()),
        now=now,
        **kw,
    )


def counts() -> tuple[int, int, int, int]:
    return (
        Alert.objects.count(),
        AlertTarget.objects.count(),
        Event.objects.count(),
        WriteReceipt.objects.count(),
    )


# --- alert_issue ---------------------------------------------------------------------


def test_issue_writes_alert_targets_and_one_issued_event(now: datetime) -> None:
    result = issue(now=now)
    alert = Alert.objects.get(pk=result.alert.pk)
    assert (result.stream, result.seq, result.duplicate) == ("crossing:WDH", 1, False)
    assert alert.crossing_point.code == "WDH"
    assert alert.status == AlertStatus.ACTIVE
    assert alert.version == 1
    assert alert.issuing_agency.code == "NA-IMM"
    assert alert.issued_by == officer("na-imm.duty")
    assert (alert.category, alert.severity) == ("document_fraud", "high")
    assert (alert.urgency, alert.certainty) == ("Immediate", "Likely")
    assert alert.is_exercise is False
    assert alert.ack_required is True
    assert alert.expires_at is None
    assert alert.created_at == alert.updated_at == now
    # Default targets: every other agency deployed at the point, never the issuer.
    assert targets_of(alert) == OTHERS_OF_IMM
    due = now + timedelta(seconds=settings.HUB_ALERT_ACK_WINDOWS["high"])
    for row in AlertTarget.objects.filter(alert=alert):
        assert row.due_at == due
        assert row.acknowledged_at is None
        assert row.acknowledged_by is None
        assert row.escalated_at is None
    [event] = events_on("crossing:WDH")
    assert (event.seq, event.kind, event.at) == (1, "alert.issued", now)
    assert event.actor == officer("na-imm.duty")
    assert event.actor_agency is not None
    assert event.actor_agency.code == "NA-IMM"
    payload = validate_payload(event.kind, event.payload)
    assert payload.model_dump(mode="json") == {
        "alert_id": alert.pk,
        "version": 1,
        "crossing_point": "WDH",
        "category": "document_fraud",
        "severity": "high",
        "urgency": "Immediate",
        "certainty": "Likely",
        "title": "Forged Schengen visas, series K",
        "body": "Look for misaligned laminate on page 3.",
        "expires_at": None,
        "exercise": False,
        "ack_required": True,
        "targets": OTHERS_OF_IMM,
        "due_at": due.isoformat().replace("+00:00", "Z"),
        "incident": None,
        "issuing_agency": "NA-IMM",
    }


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_due_at_and_urgency_default_by_severity(severity: str, now: datetime) -> None:
    alert = issue(severity=severity, now=now).alert
    window = timedelta(seconds=settings.HUB_ALERT_ACK_WINDOWS[severity])
    assert alert.urgency == DEFAULT_URGENCY[severity]
    dues = set(AlertTarget.objects.filter(alert=alert).values_list("due_at", flat=True))
    assert dues == {now + window}
    [event] = events_on("crossing:WDH")
    assert event.payload["urgency"] == DEFAULT_URGENCY[severity]
    assert parse_datetime(event.payload["due_at"]) == now + window


def test_ack_windows_come_from_settings(settings: Any, now: datetime) -> None:
    settings.HUB_ALERT_ACK_WINDOWS = {"critical": 7, "high": 11, "medium": 13, "low": 17}
    alert = issue(severity="medium", now=now).alert
    dues = set(AlertTarget.objects.filter(alert=alert).values_list("due_at", flat=True))
    assert dues == {now + timedelta(seconds=13)}


def test_explicit_urgency_certainty_targets_and_expiry(now: datetime) -> None:
    expires = now + timedelta(hours=6, microseconds=123)
    alert = issue(
        severity="critical",
        urgency="Future",
        certainty="Observed",
        targets=["NA-POL", "NA-CUS", "NA-POL"],
        expires_at=expires,
        now=now,
    ).alert
    alert.refresh_from_db()
    assert (alert.urgency, alert.certainty) == ("Future", "Observed")
    assert alert.expires_at == expires.replace(microsecond=0)
    assert targets_of(alert) == ["NA-CUS", "NA-POL"]
    [event] = events_on("crossing:WDH")
    assert event.payload["targets"] == ["NA-CUS", "NA-POL"]
    assert parse_datetime(event.payload["expires_at"]) == expires.replace(microsecond=0)


def test_issuer_may_target_its_own_agency(now: datetime) -> None:
    alert = issue(targets=["NA-IMM", "NA-AIR"], now=now).alert
    assert targets_of(alert) == ["NA-AIR", "NA-IMM"]


def test_no_ack_required_leaves_due_empty(now: datetime) -> None:
    alert = issue(ack_required=False, now=now).alert
    assert alert.ack_required is False
    assert set(AlertTarget.objects.filter(alert=alert).values_list("due_at", flat=True)) == {None}
    [event] = events_on("crossing:WDH")
    assert event.payload["ack_required"] is False
    assert event.payload["due_at"] is None


def test_issue_linked_to_incident_emits_on_both_streams(now: datetime) -> None:
    incident = report()
    before = kinds_on(incident.stream_name)
    result = issue(incident=incident.ref, now=now)
    assert result.alert.incident == incident
    [on_crossing] = events_on("crossing:WDH")
    on_incident = events_on(incident.stream_name)
    assert [e.kind for e in on_incident] == [*before, "alert.issued"]
    assert on_incident[-1].payload == on_crossing.payload
    assert on_crossing.payload["incident"] == incident.ref
    assert result.seq == on_crossing.seq


def test_incident_at_another_point_or_unknown_is_refused(now: datetime) -> None:
    elsewhere = report(crossing_point="WVB")
    before = counts()
    with pytest.raises(InvalidInput):
        issue(incident=elsewhere.ref, now=now)
    with pytest.raises(NotFound):
        issue(incident="WDH-1999-0001", now=now)
    assert counts() == before


def test_unknown_targets_are_refused_with_agency_not_deployed(now: datetime) -> None:
    before = counts()
    for targets in (["ZA-IMM"], ["NA-CUS", "XX-NOPE"], ["NA-CGD"]):
        with pytest.raises(InvalidInput) as exc:
            issue(targets=targets, now=now)
        assert exc.value.code == "agency_not_deployed"
        assert exc.value.status == 422
    assert counts() == before


def test_empty_targets_are_refused(now: datetime) -> None:
    with pytest.raises(InvalidInput) as exc:
        issue(targets=[], now=now)
    assert exc.value.status == 422
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "nul\x00"},
        {"severity": "extreme"},
        {"category": "gossip"},
        {"urgency": "Soon"},
        {"certainty": "Sure"},
        {"ack_required": "yes"},
    ],
)
def test_invalid_fields_are_refused(fields: dict[str, Any], now: datetime) -> None:
    with pytest.raises(InvalidInput):
        issue(now=now, **fields)
    assert counts()[0] == 0
    assert Event.objects.filter(stream__name="crossing:WDH").count() == 0


def test_expiry_must_be_future_and_aware(now: datetime) -> None:
    for expires in (
        now,
        now - timedelta(minutes=1),
        (now + timedelta(hours=1)).replace(tzinfo=None),
    ):
        with pytest.raises(InvalidInput):
            issue(expires_at=expires, now=now)
    assert Alert.objects.count() == 0


@pytest.mark.parametrize("username", ["za-imm.duty", "zm-imm.coord", "na-cgd.duty", "na-imm.admin"])
def test_issue_where_not_serving_is_not_found(username: str, now: datetime) -> None:
    with pytest.raises(NotFound) as exc:
        issue(username=username, now=now)
    assert exc.value.status == 404
    assert counts()[0] == 0


def test_issue_at_unknown_point_is_not_found(now: datetime) -> None:
    with pytest.raises(NotFound):
        issue(crossing_point="NOPE", now=now)


def test_issue_for_an_agency_the_officer_is_not_in_is_forbidden(now: datetime) -> None:
    with pytest.raises(Forbidden) as exc:
        issue(agency="NA-CUS", now=now)
    assert exc.value.status == 403
    assert Alert.objects.count() == 0


def test_issue_is_idempotent_on_client_msg_id(now: datetime) -> None:
    cmid = uuid.uuid4()
    first = issue(client_msg_id=cmid, now=now)
    again = issue(client_msg_id=cmid, now=now + timedelta(seconds=5))
    assert again.duplicate is True
    assert (again.alert.pk, again.seq, again.stream) == (first.alert.pk, first.seq, first.stream)
    assert Alert.objects.count() == 1
    assert kinds_on("crossing:WDH") == ["alert.issued"]
    with pytest.raises(IdempotencyConflict) as exc:
        issue(client_msg_id=cmid, title="Something else entirely", now=now)
    assert exc.value.code == "client_msg_id_reused"
    assert exc.value.status == 409
    assert Alert.objects.count() == 1


def test_client_msg_id_is_per_officer(now: datetime) -> None:
    cmid = uuid.uuid4()
    a = issue(client_msg_id=cmid, now=now)
    b = issue(username="na-cus.duty", client_msg_id=cmid, now=now)
    assert a.alert.pk != b.alert.pk
    assert not b.duplicate


# --- exercises ---------------------------------------------------------------------------


@pytest.mark.parametrize("exercise", [True, False])
def test_every_event_of_an_alert_carries_its_exercise_flag(exercise: bool, now: datetime) -> None:
    incident = report()
    a = issue(is_exercise=exercise, incident=incident.ref, now=now).alert
    services.alert_update(
        actor=officer("na-imm.duty"), alert_id=a.pk, changes={"title": "Drill v2"}, now=now
    )
    ack("na-cus.duty", a, now=now + timedelta(minutes=1))
    assert alert_escalation.alerts_escalate_due(now=now + timedelta(hours=1)) == [
        (a.pk, "NA-AIR"),
        (a.pk, "NA-POL"),
    ]
    services.alert_cancel(
        actor=officer("na-imm.coord"), alert_id=a.pk, reason="Drill over", now=now
    )
    b = issue(is_exercise=exercise, expires_at=now + timedelta(minutes=5), now=now).alert
    assert alert_expiry.alerts_expire_due(now=now + timedelta(minutes=5)) == [b.pk]
    events = events_on("crossing:WDH")
    assert [e.kind for e in events] == [
        "alert.issued",
        "alert.updated",
        "alert.acknowledged",
        "alert.escalated",
        "alert.escalated",
        "alert.cancelled",
        "alert.issued",
        "alert.expired",
    ]
    assert all(e.payload["exercise"] is exercise for e in events)
    alert_events = [e for e in events_on(incident.stream_name) if e.kind.startswith("alert.")]
    assert len(alert_events) == 6
    assert all(e.payload["exercise"] is exercise for e in alert_events)
    a.refresh_from_db()
    assert a.is_exercise is exercise
    assert str(a).startswith("[EXERCISE] ") is exercise


# --- alert_update ----------------------------------------------------------------------------


def test_update_bumps_version_and_records_old_and_new(now: datetime) -> None:
    alert = issue(now=now).alert
    expires = now + timedelta(hours=2)
    later = now + timedelta(minutes=3)
    result = services.alert_update(
        actor=officer("na-imm.duty"),
        alert_id=alert.pk,
        changes={"title": "Series K and L", "severity": "critical", "expires_at": expires},
        now=later,
    )
    alert.refresh_from_db()
    assert alert.version == 2
    assert (alert.title, alert.severity, alert.expires_at) == (
        "Series K and L",
        "critical",
        expires,
    )
    assert alert.updated_at == later
    assert alert.created_at == now
    assert alert.status == AlertStatus.ACTIVE
    events = events_on("crossing:WDH")
    assert [e.kind for e in events] == ["alert.issued", "alert.updated"]
    updated = events[-1]
    assert (result.seq, updated.seq, updated.at) == (2, 2, later)
    assert updated.payload == {
        "alert_id": alert.pk,
        "version": 2,
        "exercise": False,
        "changes": {
            "title": {"old": "Forged Schengen visas, series K", "new": "Series K and L"},
            "severity": {"old": "high", "new": "critical"},
            "expires_at": {"old": None, "new": expires.isoformat()},
            "due_at": {
                "old": (now + timedelta(minutes=15)).isoformat(),
                "new": (now + timedelta(minutes=5)).isoformat(),
            },
        },
    }
    # The record keeps every version: the issued event still holds version 1.
    assert events[0].payload["title"] == "Forged Schengen visas, series K"
    assert events[0].payload["version"] == 1


def due_by_agency(alert: Alert) -> dict[str, datetime | None]:
    return dict(
        AlertTarget.objects.filter(alert=alert)
        .order_by("agency__code")
        .values_list("agency__code", "due_at")
    )


def test_a_severity_change_moves_the_deadline_of_who_still_owes_an_acknowledgement(
    now: datetime,
) -> None:
    """From the issue time: raising to critical shortens it, lowering lengthens it;
    acknowledged and escalated agencies keep theirs."""
    alert = issue(now=now, severity="low").alert  # 4 h: due at now + 4 h
    low_due = now + timedelta(hours=4)
    assert set(due_by_agency(alert).values()) == {low_due}
    ack("na-cus.duty", alert, now + timedelta(minutes=1))
    later = now + timedelta(minutes=20)
    services.alert_update(
        actor=officer("na-imm.duty"),
        alert_id=alert.pk,
        changes={"severity": "critical"},
        now=later,
    )
    critical_due = now + timedelta(minutes=5)  # the critical window from the issue time
    assert due_by_agency(alert) == {
        "NA-AIR": critical_due,
        "NA-CUS": low_due,  # acknowledged: unchanged
        "NA-POL": critical_due,
    }
    [updated] = [e for e in events_on("crossing:WDH") if e.kind == "alert.updated"]
    assert updated.payload["changes"]["due_at"] == {
        "old": low_due.isoformat(),
        "new": critical_due.isoformat(),
    }
    # Past due already: the next sweep escalates NA-AIR and NA-POL at once.
    assert alert_escalation.alerts_escalate_due(now=later) == [
        (alert.pk, "NA-AIR"),
        (alert.pk, "NA-POL"),
    ]
    # Lowering it again moves nobody: everyone acknowledged or was escalated.
    services.alert_update(
        actor=officer("na-imm.duty"), alert_id=alert.pk, changes={"severity": "medium"}, now=later
    )
    assert set(due_by_agency(alert).values()) == {critical_due, low_due}
    last = [e for e in events_on("crossing:WDH") if e.kind == "alert.updated"][-1]
    assert last.payload["changes"] == {"severity": {"old": "critical", "new": "medium"}}


def test_lowering_the_severity_gives_more_time(now: datetime) -> None:
    alert = issue(now=now, severity="critical").alert
    services.alert_update(
        actor=officer("na-imm.duty"),
        alert_id=alert.pk,
        changes={"severity": "medium"},
        now=now + timedelta(minutes=2),
    )
    assert set(due_by_agency(alert).values()) == {now + timedelta(hours=1)}
    assert alert_escalation.alerts_escalate_due(now=now + timedelta(minutes=30)) == []


def test_other_changes_and_alerts_without_acknowledgement_keep_no_deadline(
    now: datetime,
) -> None:
    quiet = issue(now=now, ack_required=False).alert
    services.alert_update(
        actor=officer("na-imm.duty"), alert_id=quiet.pk, changes={"severity": "critical"}, now=now
    )
    assert set(due_by_agency(quiet).values()) == {None}
    loud = issue(now=now).alert
    services.alert_update(
        actor=officer("na-imm.duty"), alert_id=loud.pk, changes={"title": "Series M"}, now=now
    )
    assert set(due_by_agency(loud).values()) == {now + timedelta(minutes=15)}


def test_unchanged_values_are_left_out_and_a_second_update_is_version_3(now: datetime) -> None:
    alert = issue(now=now).alert
    services.alert_update(
        actor=officer("na-imm.duty"),
        alert_id=alert.pk,
        changes={"title": alert.title, "body": "New detail."},
        now=now,
    )
    services.alert_update(
        actor=officer("na-imm.coord"), alert_id=alert.pk, changes={"urgency": "Expected"}, now=now
    )
    alert.refresh_from_db()
    assert alert.version == 3
    updates = [e for e in events_on("crossing:WDH") if e.kind == "alert.updated"]
    assert [e.payload["version"] for e in updates] == [2, 3]
    assert updates[0].payload["changes"] == {
        "body": {"old": "Look for misaligned laminate on page 3.", "new": "New detail."}
    }
    assert updates[1].payload["changes"] == {"urgency": {"old": "Immediate", "new": "Expected"}}


def test_update_with_nothing_new_is_a_conflict(now: datetime) -> None:
    alert = issue(now=now).alert
    with pytest.raises(Conflict) as exc:
        services.alert_update(
            actor=officer("na-imm.duty"), alert_id=alert.pk, changes={"title": alert.title}
        )
    assert exc.value.code == "no_change"
    alert.refresh_from_db()
    assert alert.version == 1


@pytest.mark.parametrize(
    "changes",
    [{"crossing_point": "WVB"}, {"is_exercise": True}, {"severity": "huge"}, {"title": ""}],
)
def test_update_refuses_unknown_fields_and_bad_values(
    changes: dict[str, Any], now: datetime
) -> None:
    alert = issue(now=now).alert
    with pytest.raises(InvalidInput):
        services.alert_update(actor=officer("na-imm.duty"), alert_id=alert.pk, changes=changes)
    assert kinds_on("crossing:WDH") == ["alert.issued"]


@pytest.mark.parametrize(
    ("username", "error"),
    [
        ("na-cus.coord", Forbidden),  # reads the point, not of the issuing agency
        ("na-cus.duty", Forbidden),
        ("za-imm.coord", NotFound),  # does not serve WDH
        ("na-imm.admin", NotFound),
    ],
)
def test_update_by_others_is_refused(username: str, error: type[HubError], now: datetime) -> None:
    alert = issue(now=now).alert
    with pytest.raises(error):
        services.alert_update(
            actor=officer(username), alert_id=alert.pk, changes={"title": "Hijack"}
        )
    alert.refresh_from_db()
    assert (alert.version, alert.title) == (1, "Forged Schengen visas, series K")


def test_senior_of_issuing_agency_may_update(now: datetime) -> None:
    alert = issue(now=now).alert
    result = services.alert_update(
        actor=officer("na-imm.senior"), alert_id=alert.pk, changes={"certainty": "Observed"}
    )
    assert result.alert.version == 2
    event = events_on("crossing:WDH")[-1]
    assert event.actor == officer("na-imm.senior")


def test_update_of_unknown_alert_is_not_found() -> None:
    for alert_id in (999_999, 0, -1):
        with pytest.raises(NotFound):
            services.alert_update(
                actor=officer("na-imm.duty"), alert_id=alert_id, changes={"title": "x"}
            )


def test_update_is_idempotent_on_client_msg_id(now: datetime) -> None:
    alert = issue(now=now).alert
    cmid = uuid.uuid4()
    kwargs: dict[str, Any] = {
        "actor": officer("na-imm.duty"),
        "alert_id": alert.pk,
        "client_msg_id": cmid,
    }
    first = services.alert_update(changes={"title": "v2"}, **kwargs)
    again = services.alert_update(changes={"title": "v2"}, **kwargs)
    assert again.duplicate is True
    assert again.seq == first.seq
    alert.refresh_from_db()
    assert alert.version == 2
    with pytest.raises(IdempotencyConflict) as exc:
        services.alert_update(changes={"title": "v3"}, **kwargs)
    assert exc.value.code == "client_msg_id_reused"
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.updated"]


def test_update_of_linked_alert_goes_to_incident_stream_too(now: datetime) -> None:
    incident = report()
    alert = issue(incident=incident.ref, now=now).alert
    services.alert_update(actor=officer("na-imm.duty"), alert_id=alert.pk, changes={"body": "b"})
    assert kinds_on(incident.stream_name)[-2:] == ["alert.issued", "alert.updated"]


# --- alert_cancel ----------------------------------------------------------------------------


def test_cancel_keeps_the_record(now: datetime) -> None:
    alert = issue(now=now).alert
    ack("na-cus.duty", alert, now=now)
    later = now + timedelta(minutes=7)
    result = services.alert_cancel(
        actor=officer("na-imm.duty"), alert_id=alert.pk, reason="  Series recalled  ", now=later
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CANCELLED
    assert alert.cancel_reason == "Series recalled"
    assert alert.cancelled_at == later
    assert alert.version == 2
    assert alert.title == "Forged Schengen visas, series K"
    assert targets_of(alert) == OTHERS_OF_IMM
    assert AlertTarget.objects.get(alert=alert, agency__code="NA-CUS").acknowledged_at == now
    events = events_on("crossing:WDH")
    assert [e.kind for e in events] == ["alert.issued", "alert.acknowledged", "alert.cancelled"]
    assert events[-1].seq == result.seq
    assert events[-1].payload == {
        "alert_id": alert.pk,
        "version": 2,
        "exercise": False,
        "reason": "Series recalled",
    }


def test_cancel_refusals(now: datetime) -> None:
    alert = issue(now=now).alert
    with pytest.raises(InvalidInput):
        services.alert_cancel(actor=officer("na-imm.duty"), alert_id=alert.pk, reason=" ")
    with pytest.raises(Forbidden):
        services.alert_cancel(actor=officer("na-pol.coord"), alert_id=alert.pk, reason="no")
    with pytest.raises(NotFound):
        services.alert_cancel(actor=officer("za-pol.coord"), alert_id=alert.pk, reason="no")
    services.alert_cancel(actor=officer("na-imm.coord"), alert_id=alert.pk, reason="Done")
    with pytest.raises(Conflict) as exc:
        services.alert_cancel(actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Again")
    assert exc.value.code == "alert_cancelled"
    with pytest.raises(Conflict) as exc:
        services.alert_update(
            actor=officer("na-imm.duty"), alert_id=alert.pk, changes={"title": "Revived"}
        )
    assert exc.value.code == "alert_cancelled"
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.cancelled"]


def test_cancel_is_idempotent_on_client_msg_id(now: datetime) -> None:
    alert = issue(now=now).alert
    cmid = uuid.uuid4()
    first = services.alert_cancel(
        actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Recalled", client_msg_id=cmid
    )
    again = services.alert_cancel(
        actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Recalled", client_msg_id=cmid
    )
    assert (again.duplicate, again.seq) == (True, first.seq)
    with pytest.raises(IdempotencyConflict):
        services.alert_cancel(
            actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Other", client_msg_id=cmid
        )
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.cancelled"]


# --- alert_acknowledge ---------------------------------------------------------------------


def test_acknowledge_writes_the_target_row_and_event(now: datetime) -> None:
    alert = issue(now=now).alert
    at = now + timedelta(minutes=2)
    result = ack("na-cus.duty", alert, now=at)
    row = AlertTarget.objects.get(alert=alert, agency__code="NA-CUS")
    assert row.acknowledged_at == at
    assert row.acknowledged_by == officer("na-cus.duty")
    assert row.ack_seq == result.seq == 2
    assert row.escalated_at is None
    others = AlertTarget.objects.filter(alert=alert).exclude(agency__code="NA-CUS")
    assert {r.acknowledged_at for r in others} == {None}
    event = events_on("crossing:WDH")[-1]
    assert (event.kind, event.seq, event.at) == ("alert.acknowledged", 2, at)
    assert event.actor == officer("na-cus.duty")
    assert event.actor_agency is not None
    assert event.actor_agency.code == "NA-CUS"
    assert event.payload == {
        "alert_id": alert.pk,
        "exercise": False,
        "agency": "NA-CUS",
        "pending": ["NA-AIR", "NA-POL"],
    }
    ack("na-pol.senior", alert, now=at)
    ack("na-air.coord", alert, now=at)
    pendings = [e.payload["pending"] for e in events_on("crossing:WDH")[1:]]
    assert pendings == [["NA-AIR", "NA-POL"], ["NA-AIR"], []]


def test_acknowledge_twice_for_the_same_agency_is_a_conflict(now: datetime) -> None:
    alert = issue(now=now).alert
    ack("na-cus.duty", alert, now=now)
    for username in ("na-cus.duty", "na-cus.coord"):
        with pytest.raises(Conflict) as exc:
            ack(username, alert, now=now)
        assert exc.value.code == "already_acknowledged"
        assert exc.value.status == 409
    row = AlertTarget.objects.get(alert=alert, agency__code="NA-CUS")
    assert row.acknowledged_by == officer("na-cus.duty")
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.acknowledged"]


def test_acknowledge_repeat_with_same_client_msg_id_returns_same_seq(now: datetime) -> None:
    alert = issue(now=now).alert
    cmid = uuid.uuid4()
    first = ack("na-cus.duty", alert, now=now, client_msg_id=cmid)
    again = ack("na-cus.duty", alert, now=now, client_msg_id=cmid)
    assert (again.duplicate, again.seq, again.alert.pk) == (True, first.seq, alert.pk)
    with pytest.raises(IdempotencyConflict) as exc:
        ack("na-cus.duty", alert, now=now, client_msg_id=cmid, agency="NA-CUS")
    assert exc.value.code == "client_msg_id_reused"
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.acknowledged"]


@pytest.mark.parametrize(
    ("username", "agency", "error"),
    [
        ("na-air.duty", None, Forbidden),  # serves WDH, not targeted
        ("na-imm.duty", None, Forbidden),  # the issuing agency, not targeted
        ("na-cus.duty", "NA-POL", Forbidden),  # for an agency they are not in
        ("za-cus.duty", None, NotFound),  # does not serve WDH
        ("na-cus.admin", None, NotFound),  # admins read no alerts
    ],
)
def test_acknowledge_refusals(
    username: str, agency: str | None, error: type[HubError], now: datetime
) -> None:
    alert = issue(targets=["NA-CUS", "NA-POL"], now=now).alert
    with pytest.raises(error) as exc:
        ack(username, alert, now=now, agency=agency)
    assert exc.value.status == (403 if error is Forbidden else 404)
    assert not AlertTarget.objects.filter(alert=alert, acknowledged_at__isnull=False).exists()
    assert kinds_on("crossing:WDH") == ["alert.issued"]


def test_acknowledging_an_alert_without_ack_required_leaves_no_one_pending(
    now: datetime,
) -> None:
    """``pending`` lists the agencies that still owe an acknowledgement: none here."""
    alert = issue(ack_required=False, now=now).alert
    ack("na-cus.duty", alert, now=now)
    assert AlertTarget.objects.get(alert=alert, agency__code="NA-CUS").acknowledged_at == now
    event = events_on("crossing:WDH")[-1]
    assert event.kind == "alert.acknowledged"
    rest = Api("na-cus.duty").get(f"/api/v1/alerts/{alert.pk}").json()
    assert rest["pending"] == []
    assert event.payload["pending"] == rest["pending"]


def test_acknowledge_of_cancelled_alert_is_a_conflict(now: datetime) -> None:
    alert = issue(now=now).alert
    services.alert_cancel(actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Recalled")
    with pytest.raises(Conflict) as exc:
        ack("na-cus.duty", alert)
    assert exc.value.code == "alert_cancelled"
    assert not AlertTarget.objects.filter(alert=alert, acknowledged_at__isnull=False).exists()


def test_acknowledge_or_update_of_expired_alert_is_a_conflict(now: datetime) -> None:
    alert = issue(expires_at=now + timedelta(minutes=10), now=now).alert
    past_expiry = now + timedelta(minutes=10)
    # Expired by the clock, before any sweep marked it...
    with pytest.raises(Conflict) as exc:
        ack("na-cus.duty", alert, now=past_expiry)
    assert exc.value.code == "alert_expired"
    # ...and once the sweep has marked it expired.
    assert alert_expiry.alerts_expire_due(now=past_expiry) == [alert.pk]
    with pytest.raises(Conflict) as exc:
        ack("na-cus.duty", alert, now=now + timedelta(minutes=1))
    assert exc.value.code == "alert_expired"
    for change in ({"title": "Later"}, {"expires_at": now + timedelta(days=1)}):
        with pytest.raises(Conflict) as exc:
            services.alert_update(
                actor=officer("na-imm.duty"), alert_id=alert.pk, changes=change, now=now
            )
        assert exc.value.code == "alert_expired"
    with pytest.raises(Conflict) as exc:
        services.alert_cancel(actor=officer("na-imm.duty"), alert_id=alert.pk, reason="x")
    assert exc.value.code == "alert_expired"
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.expired"]


def test_acknowledge_of_linked_alert_goes_to_incident_stream_too(now: datetime) -> None:
    incident = report()
    alert = issue(incident=incident.ref, now=now).alert
    ack("na-cus.duty", alert, now=now)
    [event] = [e for e in events_on(incident.stream_name) if e.kind == "alert.acknowledged"]
    assert event.payload["agency"] == "NA-CUS"


# --- alerts_escalate_due / alerts_expire_due (the jobs) -----------------------------------------


def test_escalate_due_writes_escalated_at_and_one_event_per_overdue_target(now: datetime) -> None:
    alert = issue(severity="critical", now=now).alert
    ack("na-air.duty", alert, now=now + timedelta(minutes=1))
    due = now + timedelta(seconds=settings.HUB_ALERT_ACK_WINDOWS["critical"])
    assert alert_escalation.alerts_escalate_due(now=due - timedelta(seconds=1)) == []
    assert alert_escalation.alerts_escalate_due(now=due) == [
        (alert.pk, "NA-CUS"),
        (alert.pk, "NA-POL"),
    ]
    rows = {r.agency.code: r for r in AlertTarget.objects.filter(alert=alert)}
    assert rows["NA-AIR"].escalated_at is None
    assert rows["NA-CUS"].escalated_at == rows["NA-POL"].escalated_at == due
    escalated = [e for e in events_on("crossing:WDH") if e.kind == "alert.escalated"]
    assert [e.payload["agency"] for e in escalated] == ["NA-CUS", "NA-POL"]
    assert all(e.actor is None and e.actor_agency is None and e.at == due for e in escalated)
    assert escalated[0].payload["notified"] == ["na-cus.coord", "na-cus.duty"]
    assert parse_datetime(escalated[0].payload["due_at"]) == due
    assert alert_escalation.alerts_escalate_due(now=due + timedelta(hours=1)) == []


def test_expire_due_marks_the_alert_and_emits_once(now: datetime) -> None:
    keep = issue(expires_at=now + timedelta(hours=1), now=now).alert
    gone = issue(expires_at=now + timedelta(minutes=30), now=now).alert
    at = now + timedelta(minutes=30)
    assert alert_expiry.alerts_expire_due(now=at) == [gone.pk]
    assert alert_expiry.alerts_expire_due(now=at) == []
    gone.refresh_from_db()
    keep.refresh_from_db()
    assert (gone.status, gone.expired_at, gone.updated_at) == (AlertStatus.EXPIRED, at, at)
    assert gone.version == 1
    assert keep.status == AlertStatus.ACTIVE
    [expired] = [e for e in events_on("crossing:WDH") if e.kind == "alert.expired"]
    assert expired.payload == {"alert_id": gone.pk, "version": 1, "exercise": False}
    assert expired.at == at


# --- REST --------------------------------------------------------------------------------------


def alert_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "smuggling",
        "severity": "medium",
        "title": "Cash couriers on the Frankfurt flight",
        "body": "Two travellers, declared amounts well under the threshold.",
        "client_msg_id": str(uuid.uuid4()),
    }
    body.update(overrides)
    return body


def post_alert(api: Api, code: str = "WDH", **overrides: Any) -> dict[str, Any]:
    response = api.post(f"/api/v1/crossing-points/{code}/alerts", alert_body(**overrides))
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()
    return data


def test_rest_issue_returns_the_alert_with_targets_and_defaults() -> None:
    before = timezone.now()
    data = post_alert(Api("na-cus.duty"))
    assert data["crossing_point"] == "WDH"
    assert data["issuing_agency"] == "NA-CUS"
    assert data["issued_by"]["username"] == "na-cus.duty"
    assert (data["status"], data["version"], data["exercise"]) == ("active", 1, False)
    assert (data["urgency"], data["certainty"]) == ("Expected", "Likely")
    assert data["stream"] == "crossing:WDH"
    assert data["pending"] == ["NA-AIR", "NA-IMM", "NA-POL"]
    assert [t["agency"] for t in data["targets"]] == ["NA-AIR", "NA-IMM", "NA-POL"]
    window = timedelta(seconds=settings.HUB_ALERT_ACK_WINDOWS["medium"])
    for target in data["targets"]:
        assert target["acknowledged"] is False
        assert target["acknowledged_by"] is None
        assert target["overdue"] is False
        due = parse_datetime(target["due_at"])
        assert due is not None
        assert before + window - timedelta(seconds=1) <= due <= timezone.now() + window
    [event] = events_on("crossing:WDH")
    assert event.payload["alert_id"] == data["id"]


def test_rest_exercise_is_marked() -> None:
    data = post_alert(Api("na-pol.duty"), exercise=True, ack_required=False)
    assert data["exercise"] is True
    assert data["ack_required"] is False
    assert data["pending"] == []
    assert Alert.objects.get(pk=data["id"]).is_exercise is True
    [event] = events_on("crossing:WDH")
    assert event.payload["exercise"] is True
    listed = Api("na-imm.duty").get("/api/v1/crossing-points/WDH/alerts").json()
    assert [(a["id"], a["exercise"]) for a in listed] == [(data["id"], True)]


def test_rest_issue_is_idempotent_and_refuses_reuse() -> None:
    api = Api("na-imm.duty")
    body = alert_body(targets=["NA-CUS"])
    first = api.post("/api/v1/crossing-points/WDH/alerts", body)
    again = api.post("/api/v1/crossing-points/WDH/alerts", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    reused = api.post("/api/v1/crossing-points/WDH/alerts", {**body, "title": "Different"})
    assert reused.status_code == 409
    assert reused.json()["code"] == "client_msg_id_reused"
    assert Alert.objects.count() == 1


def test_rest_issue_refusals() -> None:
    api = Api("na-imm.duty")
    response = api.post("/api/v1/crossing-points/WDH/alerts", alert_body(targets=["ZA-IMM"]))
    assert response.status_code == 422
    assert response.json()["code"] == "agency_not_deployed"
    response = Api("za-imm.duty").post("/api/v1/crossing-points/WDH/alerts", alert_body())
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = api.post("/api/v1/crossing-points/WDH/alerts", alert_body(severity="apocalyptic"))
    assert response.status_code == 422
    response = api.post("/api/v1/crossing-points/WDH/alerts", alert_body(surprise=1))
    assert response.status_code == 422
    response = Api().post("/api/v1/crossing-points/WDH/alerts", alert_body())
    assert response.status_code == 401
    assert Alert.objects.count() == 0
    assert Event.objects.filter(stream__name="crossing:WDH").count() == 0


def test_rest_update_cancel_and_their_refusals() -> None:
    issuer = Api("na-imm.duty")
    created = post_alert(issuer)
    path = f"/api/v1/alerts/{created['id']}"
    response = issuer.patch(path, {"title": "Cash couriers, two flights", "urgency": "Immediate"})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response.json()["title"] == "Cash couriers, two flights"
    assert Api("na-cus.coord").patch(path, {"title": "Mine now"}).status_code == 403
    assert Api("za-imm.coord").patch(path, {"title": "Mine now"}).status_code == 404
    no_change = issuer.patch(path, {"urgency": "Immediate"})
    assert (no_change.status_code, no_change.json()["code"]) == (409, "no_change")
    response = issuer.post(f"{path}/cancel", {"reason": "Travellers cleared"})
    assert response.status_code == 200, response.content
    cancelled = response.json()
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 3)
    assert cancelled["cancel_reason"] == "Travellers cleared"
    again = issuer.patch(path, {"title": "Revived"})
    assert (again.status_code, again.json()["code"]) == (409, "alert_cancelled")
    again = issuer.post(f"{path}/cancel", {"reason": "Twice"})
    assert (again.status_code, again.json()["code"]) == (409, "alert_cancelled")
    # The record is kept and readable.
    read = issuer.get(path).json()
    assert (read["status"], read["title"], read["version"]) == (
        "cancelled",
        "Cash couriers, two flights",
        3,
    )
    assert issuer.get("/api/v1/crossing-points/WDH/alerts").json() == []
    everything = issuer.get("/api/v1/crossing-points/WDH/alerts", {"current": "false"}).json()
    assert [a["id"] for a in everything] == [created["id"]]
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.updated", "alert.cancelled"]


def test_rest_severity_change_shows_the_new_deadlines() -> None:
    issuer = Api("na-imm.duty")
    created = post_alert(issuer, severity="low")
    issued_at = parse_datetime(created["created_at"])
    assert issued_at is not None
    response = issuer.patch(f"/api/v1/alerts/{created['id']}", {"severity": "critical"})
    assert response.status_code == 200, response.content
    dues = {t["agency"]: parse_datetime(t["due_at"]) for t in response.json()["targets"]}
    assert set(dues.values()) == {issued_at + timedelta(minutes=5)}


def test_rest_acknowledge_and_its_refusals() -> None:
    created = post_alert(Api("na-imm.duty"), targets=["NA-CUS", "NA-POL"])
    path = f"/api/v1/alerts/{created['id']}/ack"
    customs = Api("na-cus.duty")
    cmid = str(uuid.uuid4())
    response = customs.post(path, {"client_msg_id": cmid})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["stream"], data["seq"], data["duplicate"]) == ("crossing:WDH", 2, False)
    assert data["alert"]["pending"] == ["NA-POL"]
    repeat = customs.post(path, {"client_msg_id": cmid}).json()
    assert (repeat["seq"], repeat["duplicate"]) == (2, True)
    twice = Api("na-cus.coord").post(path, {"client_msg_id": str(uuid.uuid4())})
    assert (twice.status_code, twice.json()["code"]) == (409, "already_acknowledged")
    not_targeted = Api("na-air.duty").post(path, {"client_msg_id": str(uuid.uuid4())})
    assert (not_targeted.status_code, not_targeted.json()["code"]) == (403, "forbidden")
    elsewhere = Api("za-pol.duty").post(path, {"client_msg_id": str(uuid.uuid4())})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "not_found")
    assert customs.post(path, {}).status_code == 422, "client_msg_id is required"
    assert kinds_on("crossing:WDH") == ["alert.issued", "alert.acknowledged"]


def test_rest_acknowledge_cancelled_or_expired_is_a_conflict(now: datetime) -> None:
    cancelled = issue(now=now).alert
    services.alert_cancel(actor=officer("na-imm.duty"), alert_id=cancelled.pk, reason="Recalled")
    response = Api("na-cus.duty").post(
        f"/api/v1/alerts/{cancelled.pk}/ack", {"client_msg_id": str(uuid.uuid4())}
    )
    assert (response.status_code, response.json()["code"]) == (409, "alert_cancelled")
    # Issued two hours ago, expired an hour ago; no sweep has run.
    expired = issue(expires_at=now - timedelta(hours=1), now=now - timedelta(hours=2)).alert
    response = Api("na-cus.duty").post(
        f"/api/v1/alerts/{expired.pk}/ack", {"client_msg_id": str(uuid.uuid4())}
    )
    assert (response.status_code, response.json()["code"]) == (409, "alert_expired")
    response = Api("na-imm.duty").patch(f"/api/v1/alerts/{expired.pk}", {"title": "Later"})
    assert (response.status_code, response.json()["code"]) == (409, "alert_expired")
    assert Api("na-imm.duty").get(f"/api/v1/alerts/{expired.pk}").json()["status"] == "expired"


def test_rest_detail_shows_per_agency_acknowledgement_and_overdue() -> None:
    real_now = timezone.now().replace(microsecond=0)
    issued_at = real_now - timedelta(hours=1)  # a critical alert: overdue for 55 minutes
    alert = issue(severity="critical", now=issued_at).alert
    ack_at = real_now - timedelta(minutes=58)  # before the due time
    ack("na-cus.duty", alert, now=ack_at)
    response = Api("na-pol.duty").post(
        f"/api/v1/alerts/{alert.pk}/ack", {"client_msg_id": str(uuid.uuid4())}
    )
    assert response.status_code == 200, response.content
    detail = Api("na-air.coord").get(f"/api/v1/alerts/{alert.pk}")
    assert detail.status_code == 200
    data = detail.json()
    due = issued_at + timedelta(seconds=settings.HUB_ALERT_ACK_WINDOWS["critical"])
    targets = {t["agency"]: t for t in data["targets"]}
    assert list(targets) == ["NA-AIR", "NA-CUS", "NA-POL"]
    assert data["pending"] == ["NA-AIR"]
    customs = targets["NA-CUS"]
    assert customs["acknowledged"] is True
    assert customs["acknowledged_by"]["username"] == "na-cus.duty"
    assert customs["acknowledged_by"]["name"] == officer("na-cus.duty").display_name
    assert parse_datetime(customs["acknowledged_at"]) == ack_at
    assert customs["overdue"] is False
    police = targets["NA-POL"]
    assert police["acknowledged"] is True
    assert police["acknowledged_by"]["username"] == "na-pol.duty"
    police_at = parse_datetime(police["acknowledged_at"])
    assert police_at is not None
    assert police_at >= real_now
    assert police["overdue"] is False
    air = targets["NA-AIR"]
    assert (air["acknowledged"], air["acknowledged_by"], air["acknowledged_at"]) == (
        False,
        None,
        None,
    )
    assert air["overdue"] is True
    assert air["escalated_at"] is None
    assert all(parse_datetime(t["due_at"]) == due for t in targets.values())
    # Once the sweep ran, the target shows when it was escalated.
    assert alert_escalation.alerts_escalate_due() == [(alert.pk, "NA-AIR")]
    data = Api("na-air.coord").get(f"/api/v1/alerts/{alert.pk}").json()
    assert data["targets"][0]["escalated_at"] is not None


def test_rest_detail_refusals_and_unknown() -> None:
    created = post_alert(Api("na-imm.duty"))
    assert Api("za-imm.senior").get(f"/api/v1/alerts/{created['id']}").status_code == 404
    assert Api("na-imm.admin").get(f"/api/v1/alerts/{created['id']}").status_code == 404
    assert Api("na-imm.duty").get("/api/v1/alerts/987654").status_code == 404
    assert Api().get(f"/api/v1/alerts/{created['id']}").status_code == 401
    assert Api("za-imm.duty").get("/api/v1/crossing-points/WDH/alerts").status_code == 404


def test_incident_link_over_rest() -> None:
    incident: Incident = report()
    data = post_alert(Api("na-imm.duty"), incident=incident.ref)
    assert data["incident"] == incident.ref
    assert kinds_on(incident.stream_name)[-1] == "alert.issued"
    response = Api("na-imm.duty").post(
        "/api/v1/crossing-points/WDH/alerts", alert_body(incident="WDH-1999-0042")
    )
    assert response.status_code == 404


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_time_beyond_what_the_database_stores_is_a_422_not_a_500(when: str) -> None:
    """Found by the bad-input property test: it parses, but is outside year 1..9999 in UTC."""
    before = (Alert.objects.count(), Event.objects.count())
    body = {"category": "wanted_person", "severity": "low", "title": "0", "expires_at": when}
    response = Api("na-imm.duty").post("/api/v1/crossing-points/WDH/alerts", body)
    assert response.status_code == 422, response.content
    payload = response.json()
    assert payload["code"] == "invalid_request"
    assert any(e["loc"][-1] == "expires_at" for e in payload["errors"]), payload
    assert (Alert.objects.count(), Event.objects.count()) == before
