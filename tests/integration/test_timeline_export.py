"""The incident timeline export describes every event readably, in every format.

Alerts linked to an incident and joint operations tied to it put their events on
the incident's stream; the export must say what happened (the alert's title and
severity, and ``[EXERCISE]`` for a drill), not just print the event's kind.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest

from hub.alerts import services as alerts
from hub.events.models import Event
from hub.operations import services as operations
from hub.operations.models import Task
from hub.operations.sops import seed_templates
from tests.factories import Api, officer, report

pytestmark = pytest.mark.usefixtures("demo")


def export(ref: str, fmt: str, **params: str) -> Any:
    response = Api("na-imm.senior").get(
        f"/api/v1/incidents/{ref}/export", {"format": fmt, **params}
    )
    assert response.status_code == 200, response.content
    return response


def summaries_by_seq(ref: str) -> dict[int, str]:
    document = export(ref, "json").json()
    return {row["seq"]: row["summary"] for row in document["events"]}


def test_alert_events_say_which_alert_its_severity_and_that_it_is_a_drill() -> None:
    incident = report()
    drill = alerts.alert_issue(
        actor=officer("na-imm.duty"),
        crossing_point="WDH",
        category="trafficking_risk",
        severity="high",
        title="Escorted minors on the Lusaka flight",
        incident=incident.ref,
        is_exercise=True,
        targets=["NA-POL"],
    ).alert
    real = alerts.alert_issue(
        actor=officer("na-imm.duty"),
        crossing_point="WDH",
        category="document_fraud",
        severity="medium",
        title="Forged visas, series K",
        incident=incident.ref,
        targets=["NA-POL"],
    ).alert
    alerts.alert_update(
        actor=officer("na-imm.duty"),
        alert_id=drill.pk,
        changes={"title": "Escorted minors, flight WB 112", "severity": "critical"},
    )
    alerts.alert_acknowledge(
        actor=officer("na-pol.duty"), alert_id=drill.pk, client_msg_id=uuid.uuid4()
    )
    alerts.alert_cancel(actor=officer("na-imm.duty"), alert_id=real.pk, reason="Withdrawn")
    kinds = list(
        Event.objects.filter(stream__name=incident.stream_name)
        .order_by("seq")
        .values_list("seq", "kind")
    )
    assert [k for _, k in kinds] == [
        "incident.reported",
        "alert.issued",
        "alert.issued",
        "alert.updated",
        "alert.acknowledged",
        "alert.cancelled",
    ]
    lines = summaries_by_seq(incident.ref)
    assert lines[2] == (
        f'[EXERCISE] Alert issued: alert #{drill.pk} "Escorted minors on the Lusaka flight" '
        f"(high), trafficking_risk, to NA-POL; acknowledge by "
        f"{Event.objects.get(stream__name=incident.stream_name, seq=2).payload['due_at']}"
    )
    assert lines[3].startswith(
        f'Alert issued: alert #{real.pk} "Forged visas, series K" (medium), document_fraud'
    )
    assert lines[4].startswith(
        f'[EXERCISE] Alert updated to v2: alert #{drill.pk} "Escorted minors, flight WB 112" '
        "(critical); "
    )
    assert "severity: 'high' → 'critical'" in lines[4]
    assert lines[5] == (
        f"[EXERCISE] Alert acknowledged by NA-POL: alert #{drill.pk} "
        '"Escorted minors, flight WB 112" (critical); all acknowledged'
    )
    assert lines[6] == (
        f'Alert cancelled: alert #{real.pk} "Forged visas, series K" (medium) — Withdrawn'
    )
    for seq, kind in kinds[1:]:
        assert lines[seq] != kind

    # The same lines in the CSV and the HTML report, drills marked there too.
    rows = list(csv.reader(io.StringIO(export(incident.ref, "csv").content.decode("utf-8-sig"))))
    summary = rows[0].index("summary")
    assert [row[summary] for row in rows[1:]] == [lines[seq] for seq, _ in kinds]
    html = export(incident.ref, "html").content.decode()
    assert html.count('<tr class="exercise">') == 3
    assert "[EXERCISE] Alert acknowledged by NA-POL" in html
    # A filtered export still knows each alert's title from the events before it.
    acks = export(incident.ref, "json", kind="alert.ack").json()["events"]
    assert [row["summary"] for row in acks] == [lines[5]]
    acks_csv = export(incident.ref, "csv", kind="alert.ack").content.decode("utf-8-sig")
    assert "[EXERCISE]" in acks_csv


def test_operation_events_on_the_incident_are_readable() -> None:
    seed_templates()
    incident = report()
    op = operations.operation_start(
        actor=officer("na-imm.coord"),
        crossing_point="WDH",
        template="tip-screening",
        incident=incident.ref,
    ).operation
    first = Task.objects.get(operation=op, position=1)
    for status in ("in_progress", "done"):
        operations.task_update(
            actor=officer("na-imm.duty"), ref=op.ref, task_id=first.pk, status=status
        )
    document = export(incident.ref, "json").json()
    progress = [r for r in document["events"] if r["kind"] == "operation.progress"]
    assert len(progress) == 3
    assert progress[-1]["summary"] == f"Operation {op.ref} ({op.title}): 1/8 tasks done"
    assert all(r["summary"].startswith(f"Operation {op.ref} (") for r in progress)
    assert json.dumps(document)  # still plain JSON
