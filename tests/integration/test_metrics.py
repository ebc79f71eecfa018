"""Response metrics (``GET /api/v1/metrics``) from a record with known durations.

Every write goes through the real services at a chosen instant (``clock``), so
events carry the times a real shift would have given them. The expected figures
below are worked out by hand from those instants.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings

from hub.alerts import services as alerts
from hub.incidents import services as incidents
from hub.operations import services as ops
from hub.operations.models import Task
from hub.operations.sops import seed_templates
from hub.sitreps import services as sitreps
from tests.factories import Api, officer, report

pytestmark = pytest.mark.usefixtures("demo")

# The period under test: the 7 days before UNTIL; the previous one the 7 before that.
UNTIL = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MIN = timedelta(minutes=1)


@contextmanager
def clock(at: datetime) -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def cmid() -> uuid.UUID:
    return uuid.uuid4()


def incident_at(
    start: datetime, *, respond_after: timedelta, resolve_after: timedelta | None
) -> str:
    """Reported by NA-IMM at ``start``; NA-POL invited 10 minutes later and answering
    ``respond_after`` after that; resolved ``resolve_after`` after the report."""
    with clock(start):
        ref = report("na-imm.duty", "WDH", occurred_at=start - 5 * MIN).ref
    with clock(start + 10 * MIN):
        incidents.incident_invite_agency(
            actor=officer("na-imm.coord"), ref=ref, agency="NA-POL", client_msg_id=cmid()
        )
    with clock(start + 10 * MIN + respond_after):
        incidents.message_post(
            actor=officer("na-pol.duty"), ref=ref, body="On our way.", client_msg_id=cmid()
        )
    if resolve_after is not None:
        for to, reason, after in (
            ("active", "", resolve_after / 2),
            ("resolved", "Handed over.", resolve_after),
        ):
            with clock(start + after):
                incidents.incident_transition(
                    actor=officer("na-imm.coord"),
                    ref=ref,
                    to_status=to,
                    reason=reason,
                    client_msg_id=cmid(),
                )
    return ref


def metrics(username: str = "na-imm.senior", **params: Any) -> Any:
    query = {"crossing_point": "WDH", "days": 7, "until": UNTIL.isoformat(), **params}
    response = Api(username).get("/api/v1/metrics", query)
    assert response.status_code == 200, response.content
    return response.json()


def row(section: list[dict[str, Any]], key: str) -> dict[str, Any]:
    [found] = [r for r in section if r["key"] == key]
    return found


def test_first_response_and_resolution_from_known_durations() -> None:
    # Current period: responses after 30 and 10 minutes, resolutions after 2 h and 4 h,
    # one incident still open. Previous period: one response after 60 min, resolved in 1 h.
    incident_at(UNTIL - 3 * DAY, respond_after=30 * MIN, resolve_after=timedelta(hours=2))
    incident_at(UNTIL - 2 * DAY, respond_after=10 * MIN, resolve_after=timedelta(hours=4))
    incident_at(UNTIL - 1 * DAY, respond_after=20 * MIN, resolve_after=None)
    incident_at(UNTIL - 10 * DAY, respond_after=60 * MIN, resolve_after=timedelta(hours=1))
    # Outside both periods: never counted.
    incident_at(UNTIL - 20 * DAY, respond_after=1 * MIN, resolve_after=timedelta(minutes=5))

    body = metrics()
    assert [p["code"] for p in body["crossing_points"]] == ["WDH"]
    assert body["period"]["start"].startswith("2026-11-23T12:00:00")
    assert body["previous_period"]["start"].startswith("2026-11-16T12:00:00")

    pol = row(body["first_response"], "NA-POL")
    # 1800, 600, 1200 s: median 1200, p90 = rank ceil(2.7) = 3 → 1800.
    assert pol["current"] == {"count": 3, "median_seconds": 1200, "p90_seconds": 1800}
    assert pol["previous"] == {"count": 1, "median_seconds": 3600, "p90_seconds": 3600}
    assert pol["median_change_seconds"] == 1200 - 3600
    assert pol["p90_change_seconds"] == 1800 - 3600

    res = row(body["resolution"], "document_fraud/medium")
    # 7200 and 14400 s: median (7200 + 14400) // 2 = 10800, p90 rank 2 → 14400.
    assert res["current"] == {"count": 2, "median_seconds": 10800, "p90_seconds": 14400}
    assert res["open"] == 1
    assert res["previous"] == {"count": 1, "median_seconds": 3600, "p90_seconds": 3600}
    assert res["previous_open"] == 0
    assert res["median_change_seconds"] == 7200

    # A shorter period holds only the last two days: the response after 10 and 20 min.
    two_days = row(metrics(days=2)["first_response"], "NA-POL")
    assert two_days["current"] == {"count": 2, "median_seconds": 900, "p90_seconds": 1200}


def test_alert_acknowledgements_on_time_late_and_missed() -> None:
    window = settings.HUB_ALERT_ACK_WINDOWS["high"]
    issued = UNTIL - 2 * DAY
    with clock(issued):
        first = alerts.alert_issue(
            actor=officer("na-imm.coord"),
            crossing_point="WDH",
            category="document_fraud",
            severity="high",
            title="Forged visa foils in circulation",
            targets=["NA-POL", "NA-CUS"],
        ).alert
        second = alerts.alert_issue(
            actor=officer("na-imm.coord"),
            crossing_point="WDH",
            category="document_fraud",
            severity="high",
            title="Second batch of forged foils",
            targets=["NA-POL", "NA-CUS"],
        ).alert
        alerts.alert_issue(
            actor=officer("na-imm.coord"),
            crossing_point="WDH",
            category="document_fraud",
            severity="high",
            title="A drill",
            targets=["NA-POL"],
            is_exercise=True,
        )
    with clock(issued + 5 * MIN):
        alerts.alert_acknowledge(
            actor=officer("na-pol.duty"), alert_id=first.pk, client_msg_id=cmid()
        )
    with clock(issued + 15 * MIN):
        alerts.alert_acknowledge(
            actor=officer("na-pol.duty"), alert_id=second.pk, client_msg_id=cmid()
        )
    late = timedelta(seconds=window) + 30 * MIN
    with clock(issued + late):
        alerts.alert_acknowledge(
            actor=officer("na-cus.duty"), alert_id=first.pk, client_msg_id=cmid()
        )
    # NA-CUS never acknowledges the second alert: missed (its due time is in the period).

    body = metrics()
    assert body["alert_ack_targets"]["high"] == window
    pol = row(body["alert_ack"], "NA-POL")
    assert pol["current"] == {"count": 2, "median_seconds": 600, "p90_seconds": 900}
    assert pol["on_time"] == {"on_time": 2, "late": 0, "missed": 0, "on_time_rate": 1.0}
    cus = row(body["alert_ack"], "NA-CUS")
    assert cus["current"]["count"] == 1
    assert cus["current"]["median_seconds"] == int(late.total_seconds())
    assert cus["on_time"] == {"on_time": 0, "late": 1, "missed": 1, "on_time_rate": 0.0}
    assert cus["previous"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert cus["median_change_seconds"] is None


def test_tasks_and_situation_reports_on_time_late_and_missed() -> None:
    seed_templates()
    start = UNTIL - 3 * DAY
    with clock(start):
        incident = report("na-imm.duty", "WDH")
        op = ops.operation_start(
            actor=officer("na-imm.coord"),
            crossing_point="WDH",
            template="tip-screening",
            incident=incident.ref,
        ).operation
        sitreps.sitrep_cadence_set(
            actor=officer("na-imm.coord"), kind="incident", ref=incident.ref, every_minutes=60
        )
    tasks = list(Task.objects.filter(operation=op).order_by("position"))
    imm = [t for t in tasks if t.assigned_agency and t.assigned_agency.code == "NA-IMM"]
    on_time, late = [t for t in imm if not t.requires_cosign][:2]
    assert on_time.due_at is not None
    assert late.due_at is not None
    for t, at in ((on_time, on_time.due_at - MIN), (late, late.due_at + MIN)):
        with clock(at - MIN):
            ops.task_update(
                actor=officer("na-imm.duty"), ref=op.ref, task_id=t.pk, status="in_progress"
            )
        with clock(at):
            ops.task_update(
                actor=officer("na-imm.duty"),
                ref=op.ref,
                task_id=t.pk,
                status="done",
                note="Done.",
                evidence="Screening form 12",
            )
    # Situation reports every 60 minutes: one after 30 min (on time), the next 90 min
    # after it (late).
    for after in (30 * MIN, 120 * MIN):
        with clock(start + after):
            sitreps.sitrep_post(
                actor=officer("na-imm.coord"),
                kind="incident",
                ref=incident.ref,
                situation="Screening under way.",
                client_msg_id=cmid(),
            )

    body = metrics()
    imm_row = row(body["tasks"], "NA-IMM")
    n_imm = len(imm)
    assert imm_row["current"]["on_time"] == 1
    assert imm_row["current"]["late"] == 1
    assert imm_row["current"]["missed"] == n_imm - 2
    assert imm_row["current"]["on_time_rate"] == 0.5
    pol_tasks = [t for t in tasks if t.assigned_agency and t.assigned_agency.code == "NA-POL"]
    assert row(body["tasks"], "NA-POL")["current"]["missed"] == len(pol_tasks)

    reports = row(body["sitreps"], "NA-IMM")
    assert reports["current"] == {"on_time": 1, "late": 1, "missed": 0, "on_time_rate": 0.5}


def test_who_may_read_metrics() -> None:
    # Senior officials and coordinators serving the point; not duty officers, not
    # another point's officials. An unknown point is 404; no point: all readable ones.
    assert Api("na-imm.coord").get("/api/v1/metrics", {"crossing_point": "WDH"}).status_code == 200
    refused = Api("na-imm.duty").get("/api/v1/metrics", {"crossing_point": "WDH"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert Api("na-imm.senior").get("/api/v1/metrics", {"crossing_point": "ZZZ"}).status_code == 404
    everywhere = Api("na-imm.senior").get("/api/v1/metrics").json()
    assert {p["code"] for p in everywhere["crossing_points"]} >= {"WDH", "WVB"}
    duty = Api("na-imm.duty").get("/api/v1/metrics").json()
    assert duty["crossing_points"] == []
    assert duty["alert_ack"] == duty["first_response"] == duty["tasks"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 367}, "days"),
        ({"days": "many"}, "days"),
        ({"until": "yesterday"}, "until"),
        ({"until": "2026-11-30T12:00:00"}, "until"),
        ({"crossing_point": "W\nDH"}, "crossing_point"),
    ],
)
def test_bad_input_names_the_field(params: dict[str, Any], field: str) -> None:
    response = Api("na-imm.senior").get("/api/v1/metrics", params)
    assert response.status_code == 422
    assert [field] == [p["loc"][-1] for p in response.json()["errors"]]


def test_a_restricted_incident_never_counts_for_a_coordinator_outside_it() -> None:
    # NA-CUS's coordinator serves WDH but does not take part in a restricted incident:
    # its response time must not show in their figures; the senior official sees it.
    incident_at(UNTIL - 2 * DAY, respond_after=30 * MIN, resolve_after=None)
    from hub.incidents.models import Incident

    Incident.objects.update(visibility="participants")
    assert row(metrics("na-imm.senior")["first_response"], "NA-POL")["current"]["count"] == 1
    assert metrics("na-cus.coord")["first_response"] == []
