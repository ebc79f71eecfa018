"""`GET /api/v1/incidents/{ref}/review`: milestones, first responses, alert
acknowledgements, the verification of the record, actors and agencies, on a seeded
incident whose every step happens at a known time; who may review; a tampered
record shows as broken at the tampered seq.

The seeded incident at WDH (Africa/Windhoek), ``T0`` + seconds:

 seq  +s     what                                             by
   1     0   reported                                         na-imm.duty  (NA-IMM)
   2    60   NA-CUS invited                                   na-imm.coord
   3   120   NA-POL invited                                   na-imm.coord
   4   180   triaged                                          na-imm.coord
   5   300   message (NA-CUS's first response)                na-cus.duty
   6   400   alert issued, linked, to NA-CUS and NA-POL       na-imm.coord
   7   460   lead handed to NA-CUS                            na-imm.coord
   8   700   alert acknowledged (NA-POL's first response)     na-pol.duty
   9   900   active                                           na-cus.coord
  10  1000   alert retitled                                   na-imm.coord
  11  3600   resolved                                         na-cus.coord
  12  4000   reopened (active again)                          na-cus.coord
  13  5000   resolved again                                   na-cus.coord
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from hub.alerts import services as alerts
from hub.events.models import Event, Stream
from hub.incidents import services
from tests.factories import Api, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def t(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def review_url(ref: str) -> str:
    return f"/api/v1/incidents/{ref}/review"


def seed_incident(monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """The incident of the module docstring; returns (ref, alert id)."""
    clock = [T0]

    def when(seconds: int) -> datetime:
        clock[0] = T0 + timedelta(seconds=seconds)
        return clock[0]

    imm_coord, cus_coord = officer("na-imm.coord"), officer("na-cus.coord")
    with monkeypatch.context() as patched:
        patched.setattr(timezone, "now", lambda: clock[0])
        when(0)
        ref = report("na-imm.duty", occurred_at=T0 - timedelta(minutes=30)).ref
        when(60)
        services.incident_invite_agency(actor=imm_coord, ref=ref, agency="NA-CUS")
        when(120)
        services.incident_invite_agency(actor=imm_coord, ref=ref, agency="NA-POL")
        when(180)
        services.incident_transition(actor=imm_coord, ref=ref, to_status="triaged")
        when(300)
        post("na-cus.duty", ref, "Customs on the way to gate 3.")
        alert = alerts.alert_issue(
            actor=imm_coord,
            crossing_point="WDH",
            category="document_fraud",
            severity="high",
            title="Altered Namibian passports",
            targets=["NA-CUS", "NA-POL"],
            incident=ref,
            now=when(400),
        ).alert
        when(460)
        services.incident_set_lead(actor=imm_coord, ref=ref, agency="NA-CUS")
        alerts.alert_acknowledge(
            actor=officer("na-pol.duty"),
            alert_id=alert.pk,
            client_msg_id=uuid.uuid4(),
            now=when(700),
        )
        when(900)
        services.incident_transition(actor=cus_coord, ref=ref, to_status="active")
        alerts.alert_update(
            actor=imm_coord,
            alert_id=alert.pk,
            changes={"title": "Altered passports, series P12"},
            now=when(1000),
        )
        for seconds, status in ((3600, "resolved"), (4000, "active"), (5000, "resolved")):
            when(seconds)
            services.incident_transition(
                actor=cus_coord, ref=ref, to_status=status, reason=f"step at {seconds}"
            )
    kinds = list(
        Event.objects.filter(stream__name=f"incident:{ref}")
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "incident.reported",
        "incident.agency_invited",
        "incident.agency_invited",
        "incident.transitioned",
        "message.posted",
        "alert.issued",
        "incident.lead_changed",
        "alert.acknowledged",
        "incident.transitioned",
        "alert.updated",
        "incident.transitioned",
        "incident.transitioned",
        "incident.transitioned",
    ], "the seeded record is not the one the test is written against"
    return ref, alert.pk


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    return seed_incident(monkeypatch)


def review(username: str, ref: str) -> dict[str, Any]:
    response = Api(username).get(review_url(ref))
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def test_milestones_first_responses_and_alert_acks_of_a_seeded_incident(
    seeded: tuple[str, int],
) -> None:
    ref, alert_id = seeded
    body = review("na-imm.senior", ref)
    stream = Stream.objects.get(name=f"incident:{ref}")
    assert body["ref"] == ref
    assert (body["crossing_point"], body["timezone"]) == ("WDH", "Africa/Windhoek")
    assert body["reported_at"] == t(0)
    assert (body["head"], body["head_hash"]) == (13, stream.last_hash)
    assert body["milestones"] == [
        {"key": "reported", "at": t(0), "seq": 1, "after_seconds": 0},
        {"key": "triaged", "at": t(180), "seq": 4, "after_seconds": 180},
        {"key": "lead_set", "at": t(460), "seq": 7, "after_seconds": 460},
        {"key": "active", "at": t(900), "seq": 9, "after_seconds": 900},
        {"key": "resolved", "at": t(3600), "seq": 11, "after_seconds": 3600},
        {"key": "closed", "at": None, "seq": None, "after_seconds": None},
    ]
    assert body["first_responses"] == [
        {
            "agency": "NA-CUS",
            "invited_at": t(60),
            "invited_seq": 2,
            "at": t(300),
            "seq": 5,
            "after_seconds": 300,
            "after_invite_seconds": 240,
        },
        {
            "agency": "NA-POL",
            "invited_at": t(120),
            "invited_seq": 3,
            "at": t(700),
            "seq": 8,
            "after_seconds": 700,
            "after_invite_seconds": 580,
        },
    ]
    common = {
        "alert_id": alert_id,
        "title": "Altered passports, series P12",
        "ack_required": True,
        "issued_at": t(400),
        "issued_seq": 6,
    }
    assert body["alert_acks"] == [
        {
            **common,
            "agency": "NA-CUS",
            "at": None,
            "seq": None,
            "after_seconds": None,
            "after_issue_seconds": None,
        },
        {
            **common,
            "agency": "NA-POL",
            "at": t(700),
            "seq": 8,
            "after_seconds": 700,
            "after_issue_seconds": 300,
        },
    ]
    assert body["actors"] == [
        {"username": u, "name": officer(u).display_name, "agency": a}
        for u, a in (
            ("na-cus.coord", "NA-CUS"),
            ("na-cus.duty", "NA-CUS"),
            ("na-imm.coord", "NA-IMM"),
            ("na-imm.duty", "NA-IMM"),
            ("na-pol.duty", "NA-POL"),
        )
    ]
    assert body["agencies"] == ["NA-CUS", "NA-IMM", "NA-POL"]
    verification = body["verification"]
    assert (verification["ok"], verification["through_seq"]) == (True, 13)
    assert (verification["broken_seq"], verification["reason"]) == (None, None)
    assert datetime.fromisoformat(verification["verified_at"]) > T0


def test_a_fresh_incident_has_only_its_report() -> None:
    ref = report("na-imm.duty").ref
    body = review("na-imm.coord", ref)
    reported = body["reported_at"]
    assert [(m["key"], m["at"], m["seq"]) for m in body["milestones"]] == [
        ("reported", reported, 1),
        ("triaged", None, None),
        ("lead_set", reported, 1),  # the lead the report gave: the reporting agency
        ("active", None, None),
        ("resolved", None, None),
        ("closed", None, None),
    ]
    assert (body["first_responses"], body["alert_acks"]) == ([], [])
    assert body["agencies"] == ["NA-IMM"]
    assert [a["username"] for a in body["actors"]] == ["na-imm.duty"]
    assert (body["head"], body["verification"]["through_seq"]) == (1, 1)


def test_an_invited_agency_that_has_not_answered_shows_no_response() -> None:
    ref = report("na-imm.duty").ref
    services.incident_invite_agency(actor=officer("na-imm.coord"), ref=ref, agency="NA-AIR")
    # Another agency's officer acting is not NA-AIR's response.
    post("na-imm.duty", ref, "Waiting for the airport authority.")
    (row,) = review("na-imm.senior", ref)["first_responses"]
    assert (row["agency"], row["invited_seq"], row["at"], row["seq"]) == ("NA-AIR", 2, None, None)
    assert (row["after_seconds"], row["after_invite_seconds"]) == (None, None)


# --- the record, verified --------------------------------------------------------------


def _tamper(sql: str, params: list[Any]) -> None:
    """Change a row behind the model's back, as a DBA with table privileges could. On
    PostgreSQL the append-only trigger refuses an UPDATE; a superuser can switch
    triggers off for the session (tests/integration/test_events_spine.py), and the
    verification must still catch the change."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def test_a_tampered_event_shows_as_broken_at_its_seq(seeded: tuple[str, int]) -> None:
    ref, _ = seeded
    target = Event.objects.get(stream__name=f"incident:{ref}", seq=5)
    forged = {**target.payload, "body": "Customs never came."}
    _tamper("UPDATE events_event SET payload = %s WHERE id = %s", [json.dumps(forged), target.pk])
    verification = review("na-imm.senior", ref)["verification"]
    assert verification["ok"] is False
    assert (verification["broken_seq"], verification["through_seq"]) == (5, 4)
    assert verification["reason"] == "content does not match its hash"


def test_a_missing_tail_shows_as_broken_where_it_starts() -> None:
    ref = report("na-imm.duty").ref
    post("na-imm.duty", ref, "one")
    post("na-imm.duty", ref, "two")
    stream = Stream.objects.get(name=f"incident:{ref}")
    _tamper("DELETE FROM events_event WHERE stream_id = %s AND seq = 3", [stream.pk])
    body = review("na-imm.senior", ref)
    verification = body["verification"]
    assert (verification["ok"], verification["broken_seq"], verification["through_seq"]) == (
        False,
        3,
        2,
    )
    assert "missing" in verification["reason"]
    assert body["head"] == 3, "the head is the stream's, not what is left of it"


# --- who may review --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("na-imm.senior", 200),  # senior official of the reporting agency, serving WDH
        ("na-pol.senior", 200),  # senior official of a non-participating agency at WDH
        ("na-cus.coord", 200),  # coordinator of the lead agency (after the hand-over)
        ("na-imm.coord", 403),  # coordinator of a participant, no longer the lead
        ("na-cus.duty", 403),  # duty officer of the lead agency
        ("na-pol.coord", 403),  # coordinator of a participant
        ("na-air.coord", 404),  # at WDH, not participating (visibility: participants)
        ("za-imm.senior", 404),  # senior official elsewhere
        ("na-imm.admin", 404),  # administrators read no incidents
    ],
)
def test_who_may_review(
    seeded: tuple[str, int],
    username: str,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ref, _ = seeded
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        response = Api(username).get(review_url(ref))
    assert response.status_code == status, response.content
    denials = [r for r in caplog.records if r.name == "hub.security"]
    if status == 200:
        assert response.json()["ref"] == ref
        assert denials == []
        return
    assert response.json()["code"] == {403: "forbidden", 404: "not_found"}[status]
    assert len(denials) == 1, [r.getMessage() for r in denials]
    assert denials[0].__dict__["denied_action"] == "incident.review"
    assert denials[0].__dict__["denied_target"] == ref
    assert denials[0].__dict__["denied_user_id"] == officer(username).pk
    if status == 403:
        reason = "only senior officials and coordinators of the lead agency review an incident"
        assert denials[0].__dict__["denied_reason"] == reason


def test_no_such_incident_and_no_session() -> None:
    assert Api("na-imm.senior").get(review_url("WDH-2026-9999")).json() == {
        "code": "not_found",
        "detail": "Not found.",
    }
    assert Api("na-imm.senior").get(review_url("X" * 40)).status_code == 404
    anonymous = Api().get(review_url("WDH-2026-0001"))
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")


# --- the contract ----------------------------------------------------------------------


def test_the_openapi_documents_every_field_of_the_review() -> None:
    schema = Api().get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/incidents/{ref}/review"]["get"]
    assert {"200", "401", "403", "404"} <= set(op["responses"])
    components = schema["components"]["schemas"]
    seen: set[str] = set()

    def check(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for field, spec in components[name]["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"
            for ref in _refs(spec):
                check(ref)

    check("ReviewOut")
    assert {"MilestoneOut", "FirstResponseOut", "AlertAckOut", "VerificationOut"} <= seen
    milestone_keys = components["MilestoneOut"]["properties"]["key"]
    assert "lead_set" in milestone_keys["description"]


def _refs(spec: Any) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                found.append(ref.rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found
