"""Incident services: the rows each writes, the event each emits, and refusals.

Every emitted payload is validated against its pydantic model.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from hub.agencies.models import Agency
from hub.errors import Conflict, Forbidden, IdempotencyConflict, InvalidInput, NotFound
from hub.events.models import Event, WriteReceipt
from hub.events.types import validate_payload
from hub.incidents import services
from hub.incidents.models import Incident, IncidentCounter, Message, Participation
from tests.factories import occurred, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")


def events_of(incident: Incident) -> list[Event]:
    events = list(Event.objects.filter(stream__name=incident.stream_name).order_by("seq"))
    for e in events:
        validate_payload(e.kind, e.payload)
    return events


def last_event(incident: Incident) -> Event:
    return events_of(incident)[-1]


# --- incident_report ---------------------------------------------------------------


def test_report_writes_incident_participation_and_reported_event() -> None:
    incident = report(
        title="Two minors without guardians",
        category="trafficking_in_persons",
        severity="high",
        people_count=2,
    )
    incident.refresh_from_db()
    year = timezone.now().year
    assert incident.ref == f"WDH-{year}-0001"
    assert incident.status == "reported"
    assert incident.reporting_agency.code == incident.lead_agency.code == "NA-IMM"
    assert list(
        Participation.objects.filter(incident=incident).values_list("agency__code", flat=True)
    ) == ["NA-IMM"]
    [event] = events_of(incident)
    assert (event.seq, event.kind) == (1, "incident.reported")
    assert event.actor == officer("na-imm.duty")
    assert event.actor_agency is not None
    assert event.actor_agency.code == "NA-IMM"
    assert event.payload["ref"] == incident.ref
    assert event.payload["people_count"] == 2
    assert event.payload["participating_agencies"] == ["NA-IMM"]


def test_refs_are_numbered_per_crossing_point_and_year() -> None:
    a = report(crossing_point="WDH")
    b = report(crossing_point="WDH")
    c = report(crossing_point="WVB")
    year = timezone.now().year
    assert [a.ref, b.ref, c.ref] == [f"WDH-{year}-0001", f"WDH-{year}-0002", f"WVB-{year}-0001"]


def test_refs_restart_at_one_in_a_new_year_of_the_crossing_points_own_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The year in a ref is the crossing point's local year (Windhoek is UTC+2)."""
    clock = [datetime(2026, 12, 31, 21, 30, tzinfo=UTC)]  # 23:30 in Windhoek
    monkeypatch.setattr(timezone, "now", lambda: clock[0])

    def at(moment: datetime) -> str:
        clock[0] = moment
        return report(crossing_point="WDH", occurred_at=moment - timedelta(minutes=5)).ref

    old_year = [at(datetime(2026, 12, 31, 21, 30, tzinfo=UTC)) for _ in range(3)]
    # 22:10 UTC on 31 December is already 00:10 on 1 January in Windhoek.
    new_year = [at(datetime(2026, 12, 31, 22, 10, tzinfo=UTC)) for _ in range(2)]
    later = at(datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
    assert old_year == ["WDH-2026-0001", "WDH-2026-0002", "WDH-2026-0003"]
    assert new_year == ["WDH-2027-0001", "WDH-2027-0002"]
    assert later == "WDH-2027-0003"
    assert list(
        IncidentCounter.objects.filter(crossing_point__code="WDH")
        .order_by("year")
        .values_list("year", "last_number")
    ) == [(2026, 3), (2027, 3)]
    assert [
        (i.year, i.number) for i in Incident.objects.filter(ref__in=new_year).order_by("number")
    ] == [(2027, 1), (2027, 2)]


def test_report_is_idempotent_on_client_msg_id() -> None:
    cmid = uuid.uuid4()
    kwargs = dict(
        actor=officer("na-imm.duty"),
        crossing_point="WDH",
        title="Overstayer",
        category="other",
        severity="low",
        occurred_at=occurred(),
        client_msg_id=cmid,
    )
    first = services.incident_report(**kwargs)  # type: ignore[arg-type]
    again = services.incident_report(**kwargs)  # type: ignore[arg-type]
    assert again.duplicate
    assert again.incident.pk == first.incident.pk
    assert again.seq == first.seq
    assert Incident.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        services.incident_report(**{**kwargs, "title": "Another"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "   ", "title must not be empty"),
        ("title", "x" * 201, "longer than 200"),
        ("category", "smuggling", "category must be one of"),
        ("severity", "extreme", "severity must be one of"),
        ("people_count", -1, "people_count"),
        ("people_count", True, "people_count"),
        ("visibility", "public", "visibility must be one of"),
        ("description", "a\x00b", "NUL"),
    ],
)
def test_report_validates_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        report(**{field: value})  # type: ignore[arg-type]
    assert not Incident.objects.exists()
    assert not Event.objects.exists()


def test_report_refuses_future_and_naive_times() -> None:
    with pytest.raises(InvalidInput, match="future"):
        report(occurred_at=timezone.now() + timedelta(days=1))
    with pytest.raises(InvalidInput, match="time zone"):
        report(occurred_at=timezone.now().replace(tzinfo=None))


def test_report_at_a_point_not_served_is_not_found() -> None:
    with pytest.raises(NotFound):
        report(username="za-imm.duty", crossing_point="WDH")
    with pytest.raises(NotFound):
        report(crossing_point="XXX")
    assert not Incident.objects.exists()


def test_senior_official_may_not_report() -> None:
    with pytest.raises(Forbidden):
        report(username="na-imm.senior")


def test_report_for_a_named_agency_requires_membership_of_it() -> None:
    with pytest.raises(Forbidden):
        report(username="na-imm.duty", agency="NA-POL")


# --- incident_update ---------------------------------------------------------------


def test_update_records_each_changed_field_from_and_to() -> None:
    incident = report(severity="medium", people_count=1)
    result = services.incident_update(
        actor=officer("na-imm.coord"),
        ref=incident.ref,
        changes={"severity": "critical", "people_count": 3, "title": incident.title},
    )
    incident.refresh_from_db()
    assert (incident.severity, incident.people_count) == ("critical", 3)
    event = last_event(incident)
    assert (event.kind, event.seq) == ("incident.updated", result.seq)
    assert event.payload == {
        "changes": {
            "severity": {"old": "medium", "new": "critical"},
            "people_count": {"old": 1, "new": 3},
        }
    }


def test_update_without_changes_writes_no_event() -> None:
    incident = report()
    services.incident_update(
        actor=officer("na-imm.coord"), ref=incident.ref, changes={"title": incident.title}
    )
    assert len(events_of(incident)) == 1


def test_reporter_may_edit_until_triaged() -> None:
    incident = report()
    services.incident_update(
        actor=officer("na-imm.duty"), ref=incident.ref, changes={"location_detail": "Gate B"}
    )
    services.incident_transition(
        actor=officer("na-imm.coord"), ref=incident.ref, to_status="triaged"
    )
    with pytest.raises(Forbidden):
        services.incident_update(
            actor=officer("na-imm.duty"), ref=incident.ref, changes={"location_detail": "Gate C"}
        )
    incident.refresh_from_db()
    assert incident.location_detail == "Gate B"


def test_update_refuses_unknown_fields() -> None:
    incident = report()
    with pytest.raises(InvalidInput, match="status"):
        services.incident_update(
            actor=officer("na-imm.coord"), ref=incident.ref, changes={"status": "closed"}
        )


# --- incident_transition -----------------------------------------------------------


def test_full_status_machine_and_reopen() -> None:
    incident = report()
    coord = officer("na-imm.coord")
    steps = [
        ("triaged", ""),
        ("active", ""),
        ("resolved", "Victim referred to shelter"),
        ("closed", "Case handed to prosecutor"),
        ("active", "New evidence"),
    ]
    for to, reason in steps:
        services.incident_transition(actor=coord, ref=incident.ref, to_status=to, reason=reason)
    incident.refresh_from_db()
    assert incident.status == "active"
    transitions = [e.payload for e in events_of(incident) if e.kind == "incident.transitioned"]
    assert [(t["from_status"], t["to_status"]) for t in transitions] == [
        ("reported", "triaged"),
        ("triaged", "active"),
        ("active", "resolved"),
        ("resolved", "closed"),
        ("closed", "active"),
    ]
    assert transitions[-1]["reason"] == "New evidence"


def test_illegal_transition_is_a_conflict_and_writes_nothing() -> None:
    incident = report()
    before = len(events_of(incident))
    with pytest.raises(Conflict) as info:
        services.incident_transition(
            actor=officer("na-imm.coord"), ref=incident.ref, to_status="closed", reason="x"
        )
    assert info.value.code == "illegal_transition"
    incident.refresh_from_db()
    assert incident.status == "reported"
    assert len(events_of(incident)) == before
    assert not WriteReceipt.objects.filter(action="incident.transition").exists()


def test_resolving_needs_a_reason() -> None:
    incident = report()
    with pytest.raises(InvalidInput) as info:
        services.incident_transition(
            actor=officer("na-imm.coord"), ref=incident.ref, to_status="resolved"
        )
    assert info.value.code == "reason_required"


# --- invite and lead ---------------------------------------------------------------


def test_invite_agency_then_hand_it_the_lead() -> None:
    incident = report()
    coord = officer("na-imm.coord")
    services.incident_invite_agency(
        actor=coord, ref=incident.ref, agency="NA-POL", note="Possible trafficking network"
    )
    services.incident_set_lead(actor=coord, ref=incident.ref, agency="NA-POL")
    incident.refresh_from_db()
    assert incident.lead_agency.code == "NA-POL"
    assert set(incident.participating_agencies.values_list("code", flat=True)) == {
        "NA-IMM",
        "NA-POL",
    }
    kinds = [(e.kind, e.payload) for e in events_of(incident)][1:]
    assert kinds == [
        ("incident.agency_invited", {"agency": "NA-POL", "note": "Possible trafficking network"}),
        ("incident.lead_changed", {"old": "NA-IMM", "new": "NA-POL"}),
    ]
    # The police duty officer now sees it and may post.
    post("na-pol.duty", incident.ref, "Unit dispatched")


def test_invite_refusals() -> None:
    incident = report()
    coord = officer("na-imm.coord")
    with pytest.raises(InvalidInput, match="not an agency deployed"):
        services.incident_invite_agency(actor=coord, ref=incident.ref, agency="NA-CGD")
    with pytest.raises(Conflict, match="already participates"):
        services.incident_invite_agency(actor=coord, ref=incident.ref, agency="NA-IMM")
    with pytest.raises(Conflict, match="invite it first"):
        services.incident_set_lead(actor=coord, ref=incident.ref, agency="NA-CUS")
    assert len(events_of(incident)) == 1


def test_an_inactive_agency_can_neither_be_invited_nor_take_the_lead() -> None:
    incident = report()
    coord = officer("na-imm.coord")
    services.incident_invite_agency(actor=coord, ref=incident.ref, agency="NA-POL")
    Agency.objects.filter(code__in=["NA-POL", "NA-CUS"]).update(is_active=False)
    before = Incident.objects.values("lead_agency_id", "updated_at").get(pk=incident.pk)
    with pytest.raises(Conflict, match="no longer active") as refused:
        services.incident_set_lead(actor=coord, ref=incident.ref, agency="NA-POL")
    assert refused.value.code == "agency_inactive"
    with pytest.raises(InvalidInput, match="not an agency deployed") as not_invited:
        services.incident_invite_agency(actor=coord, ref=incident.ref, agency="NA-CUS")
    assert not_invited.value.code == "agency_not_deployed"
    assert Incident.objects.values("lead_agency_id", "updated_at").get(pk=incident.pk) == before
    assert [e.kind for e in events_of(incident)] == ["incident.reported", "incident.agency_invited"]
    assert set(incident.participating_agencies.values_list("code", flat=True)) == {
        "NA-IMM",
        "NA-POL",
    }


# --- messages --------------------------------------------------------------------


def test_post_writes_message_and_event_with_the_same_seq() -> None:
    incident = report()
    result = post("na-imm.duty", incident.ref, "Passenger calm, interpreter requested")
    message = Message.objects.get(pk=result.message.pk)
    assert message.seq == result.seq == 2
    assert message.agency.code == "NA-IMM"
    event = last_event(incident)
    assert (event.kind, event.payload) == (
        "message.posted",
        {
            "message_id": message.pk,
            "body": "Passenger calm, interpreter requested",
            "redacted": False,
            "mentions": [],
        },
    )


def test_post_repeat_returns_original_seq_and_conflicts_on_other_content() -> None:
    incident = report()
    cmid = uuid.uuid4()
    duty = officer("na-imm.duty")
    first = services.message_post(actor=duty, ref=incident.ref, body="hello", client_msg_id=cmid)
    post("na-imm.duty", incident.ref, "in between")
    again = services.message_post(actor=duty, ref=incident.ref, body="hello", client_msg_id=cmid)
    assert again.duplicate
    assert again.seq == first.seq
    assert again.message.pk == first.message.pk
    with pytest.raises(IdempotencyConflict):
        services.message_post(actor=duty, ref=incident.ref, body="HELLO", client_msg_id=cmid)
    assert Message.objects.count() == 2


def test_posting_on_a_closed_incident_is_refused() -> None:
    incident = report()
    coord = officer("na-imm.coord")
    services.incident_transition(actor=coord, ref=incident.ref, to_status="resolved", reason="done")
    services.incident_transition(actor=coord, ref=incident.ref, to_status="closed", reason="filed")
    with pytest.raises(Conflict) as info:
        post("na-imm.duty", incident.ref)
    assert info.value.code == "incident_closed"
    assert not Message.objects.exists()


def test_edit_keeps_history_as_events() -> None:
    incident = report()
    result = post("na-imm.duty", incident.ref, "Flight QR1234")
    duty = officer("na-imm.duty")
    services.message_edit(
        actor=duty, ref=incident.ref, message_id=result.message.pk, body="Flight QR1243"
    )
    services.message_edit(
        actor=duty, ref=incident.ref, message_id=result.message.pk, body="Flight QR1342"
    )
    message = Message.objects.get(pk=result.message.pk)
    assert (message.body, message.edit_count) == ("Flight QR1342", 2)
    bodies = [e.payload["body"] for e in events_of(incident) if e.kind.startswith("message.")]
    assert bodies == ["Flight QR1234", "Flight QR1243", "Flight QR1342"]
    edits = [e.payload["edit_number"] for e in events_of(incident) if e.kind == "message.edited"]
    assert edits == [1, 2]


def test_only_the_author_edits() -> None:
    incident = report()
    result = post("na-imm.duty", incident.ref, "mine")
    with pytest.raises(Forbidden):
        services.message_edit(
            actor=officer("na-imm.coord"),
            ref=incident.ref,
            message_id=result.message.pk,
            body="theirs",
        )
    assert Message.objects.get(pk=result.message.pk).body == "mine"


def test_redaction_hides_text_records_who_and_why_and_deletes_nothing() -> None:
    incident = report()
    result = post("na-imm.duty", incident.ref, "Victim's home address: 12 Main St")
    services.message_redact(
        actor=officer("na-imm.coord"),
        ref=incident.ref,
        message_id=result.message.pk,
        reason="Victim's personal data",
    )
    message = Message.objects.get(pk=result.message.pk)
    assert message.is_redacted
    assert message.redacted_by == officer("na-imm.coord")
    assert message.body == "Victim's home address: 12 Main St", "the record keeps the text"
    event = last_event(incident)
    assert event.kind == "message.redacted"
    assert event.actor == officer("na-imm.coord")
    assert event.payload == {"message_id": message.pk, "reason": "Victim's personal data"}
    with pytest.raises(Conflict, match="already redacted"):
        services.message_redact(
            actor=officer("na-imm.coord"), ref=incident.ref, message_id=message.pk, reason="again"
        )
    with pytest.raises(Conflict, match="redacted message cannot be edited"):
        services.message_edit(
            actor=officer("na-imm.duty"), ref=incident.ref, message_id=message.pk, body="new"
        )


def test_redacted_text_is_hidden_from_readers_over_the_api() -> None:
    from tests.factories import Api

    incident = report()
    result = post("na-imm.duty", incident.ref, "Sensitive")
    services.message_edit(
        actor=officer("na-imm.duty"),
        ref=incident.ref,
        message_id=result.message.pk,
        body="Sensitive, corrected",
    )
    services.message_redact(
        actor=officer("na-imm.senior"),
        ref=incident.ref,
        message_id=result.message.pk,
        reason="Personal data",
    )
    api = Api("na-imm.duty")
    messages = api.get(f"/api/v1/incidents/{incident.ref}/messages").json()["items"]
    assert messages[0]["body"] is None
    assert messages[0]["redacted"] is True
    assert messages[0]["redaction_reason"] == "Personal data"
    events = api.get(f"/api/v1/streams/{incident.stream_name}/events").json()["events"]
    text = str(events)
    assert "Sensitive" not in text
    masked = [e["payload"] for e in events if e["kind"] in {"message.posted", "message.edited"}]
    assert all(p["redacted"] is True and p["body"] == "" for p in masked)
    for e in events:
        validate_payload(e["kind"], e["payload"])


def test_message_of_another_incident_is_not_found() -> None:
    a = report()
    b = report()
    result = post("na-imm.duty", a.ref)
    with pytest.raises(NotFound):
        services.message_edit(
            actor=officer("na-imm.duty"), ref=b.ref, message_id=result.message.pk, body="moved"
        )
