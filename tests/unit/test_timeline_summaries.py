"""Every event kind has a readable line in the timeline export (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.events.types import EVENT_TYPES, validate_payload
from hub.incidents.export import AlertsSeen, describe_event

AT = "2026-05-01T10:00:00+00:00"
PROGRESS = {
    "total": 8,
    "done": 3,
    "not_applicable": 0,
    "open": 2,
    "in_progress": 1,
    "blocked": 1,
    "overdue": 1,
}
TASK = {
    "id": 7,
    "position": 3,
    "title": "Interview in a private room",
    "guidance": "",
    "agency_kind": "immigration",
    "assigned_agency": "NA-IMM",
    "assignees": [],
    "due_at": AT,
    "status": "open",
    "requires_note": False,
    "requires_cosign": False,
    "adhoc": True,
}
ALERT = {"alert_id": 4, "exercise": True}
SHA = "a" * 64
SAMPLES: dict[str, dict[str, Any]] = {
    "attachment.added": {
        "attachment_id": 3,
        "sha256": SHA,
        "size": 2048,
        "content_type": "image/jpeg",
        "filename": "visa-foil.jpg",
        "uploader": "na-imm.duty",
        "agency": "NA-IMM",
    },
    "attachment.withdrawn": {"attachment_id": 3, "reason": "Wrong traveller"},
    "attachment.original_downloaded": {"attachment_id": 3, "sha256": SHA},
    "incident.reported": {
        "ref": "WDH-2026-0001",
        "crossing_point": "WDH",
        "title": "Altered passport",
        "description": "",
        "category": "document_fraud",
        "severity": "medium",
        "status": "reported",
        "people_count": 1,
        "occurred_at": AT,
        "location_detail": "",
        "reporting_agency": "NA-IMM",
        "lead_agency": "NA-IMM",
        "participating_agencies": ["NA-IMM"],
        "visibility": "participants",
    },
    "incident.updated": {"changes": {"severity": {"old": "medium", "new": "high"}}},
    "incident.transitioned": {"from_status": "reported", "to_status": "triaged", "reason": ""},
    "incident.agency_invited": {"agency": "NA-POL", "note": ""},
    "incident.lead_changed": {"old": "NA-IMM", "new": "NA-POL"},
    "sitrep.posted": {
        "ref": "WDH-2026-0001",
        "number": 2,
        "situation": "Two adults interviewed, one minor in care",
        "actions_taken": "Passports seized",
        "next_steps": "",
        "needs": [
            {"agency": "NA-POL", "need": "An escort to the shelter"},
            {"agency": None, "need": "A Portuguese interpreter"},
        ],
        "every_minutes": 60,
        "due_at": AT,
    },
    "sitrep.cadence_set": {"ref": "WDH-2026-0001", "every_minutes": 60, "due_at": AT},
    "sitrep.overdue": {
        "ref": "WDH-2026-0001",
        "due_at": AT,
        "agency": "NA-IMM",
        "notified": ["na-imm.coord"],
    },
    "message.posted": {"message_id": 1, "body": "On my way"},
    "message.edited": {"message_id": 1, "body": "On my way now", "edit_number": 1},
    "message.redacted": {"message_id": 1, "reason": "PII"},
    "alert.issued": {
        **ALERT,
        "version": 1,
        "crossing_point": "WDH",
        "category": "smuggling",
        "severity": "critical",
        "urgency": "Immediate",
        "certainty": "Likely",
        "title": "Drill: vehicle with hidden compartment",
        "body": "",
        "expires_at": None,
        "ack_required": True,
        "targets": ["NA-CUS", "NA-POL"],
        "due_at": AT,
        "incident": "WDH-2026-0001",
        "issuing_agency": "NA-IMM",
    },
    "alert.updated": {**ALERT, "version": 2, "changes": {"body": {"old": "", "new": "Bay 4"}}},
    "alert.cancelled": {**ALERT, "version": 2, "reason": "Drill over"},
    "alert.acknowledged": {**ALERT, "agency": "NA-CUS", "pending": ["NA-POL"]},
    "alert.escalated": {**ALERT, "agency": "NA-POL", "due_at": AT, "notified": ["na-pol.coord"]},
    "alert.expired": {**ALERT, "version": 2},
    "operation.started": {
        "ref": "OP-WDH-2026-0001",
        "crossing_point": "WDH",
        "title": "TIP screening",
        "template": "tip-screening",
        "template_version": 1,
        "incident": None,
        "tasks": [TASK],
        "progress": PROGRESS,
    },
    "operation.closed": {"ref": "OP-WDH-2026-0001", "note": "Done", "progress": PROGRESS},
    "operation.progress": {
        "ref": "OP-WDH-2026-0001",
        "title": "TIP screening",
        "progress": PROGRESS,
    },
    "task.added": {"ref": "OP-WDH-2026-0001", "task": TASK, "progress": PROGRESS},
    "task.removed": {
        "ref": "OP-WDH-2026-0001",
        "task_id": 7,
        "reason": "Duplicate",
        "progress": PROGRESS,
    },
    "task.assigned": {
        "ref": "OP-WDH-2026-0001",
        "task_id": 7,
        "agency": "NA-POL",
        "assignees": ["na-pol.duty"],
    },
    "task.status_changed": {
        "ref": "OP-WDH-2026-0001",
        "task_id": 7,
        "from_status": "open",
        "to_status": "done",
        "note": "Interviewed",
        "evidence": "",
        "reason": "",
        "progress": PROGRESS,
    },
    "task.noted": {
        "ref": "OP-WDH-2026-0001",
        "task_id": 7,
        "note": "Interpreter booked",
        "evidence": "",
    },
    "task.cosigned": {"ref": "OP-WDH-2026-0001", "task_id": 7, "agency": "NA-POL", "note": ""},
    "task.overdue": {
        "ref": "OP-WDH-2026-0001",
        "task_id": 7,
        "due_at": AT,
        "agency": "NA-IMM",
        "notified": ["na-imm.coord"],
        "progress": PROGRESS,
    },
    "template.published": {
        "code": "tip-screening",
        "version": 2,
        "title": "Screening of a suspected victim of trafficking",
        "description": "",
        "items": [
            {
                "key": "a1b2c3d4e5f6",
                "position": 1,
                "title": "Separate the person from any escort",
                "guidance": "",
                "agency_kind": "immigration",
                "due_offset_minutes": 15,
                "requires_note": False,
                "requires_cosign": False,
            }
        ],
        "source": "browser",
    },
}


def test_there_is_a_sample_of_every_kind_and_each_is_valid() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)
    for kind, payload in SAMPLES.items():
        validate_payload(kind, payload)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_has_a_readable_line(kind: str) -> None:
    seen = AlertsSeen()
    seen.observe("alert.issued", SAMPLES["alert.issued"])
    line = describe_event(kind, SAMPLES[kind], seen)
    assert line != kind
    assert kind not in line
    assert "None" not in line
    if kind.startswith("alert."):
        assert line.startswith("[EXERCISE] ")
        assert '"Drill: vehicle with hidden compartment" (critical)' in line
    if kind.startswith(("operation.", "task.")):
        assert "OP-WDH-2026-0001" in line
    if kind.startswith("template."):
        assert "tip-screening v2" in line


def test_a_template_version_says_where_it_was_written() -> None:
    browser = describe_event("template.published", SAMPLES["template.published"])
    assert browser == (
        "SOP template tip-screening v2 published in the browser: "
        "Screening of a suspected victim of trafficking (1 item)"
    )
    code = describe_event("template.published", {**SAMPLES["template.published"], "source": "code"})
    assert "published from code:" in code


def test_a_real_alert_is_not_marked_and_an_unknown_alert_is_named_by_id() -> None:
    real = {**SAMPLES["alert.acknowledged"], "exercise": False}
    assert describe_event("alert.acknowledged", real) == (
        "Alert acknowledged by NA-CUS: alert #4; still pending: NA-POL"
    )


def test_updates_of_title_and_severity_carry_forward() -> None:
    seen = AlertsSeen()
    seen.observe("alert.issued", SAMPLES["alert.issued"])
    seen.observe(
        "alert.updated",
        {
            **ALERT,
            "version": 2,
            "changes": {
                "title": {"old": "x", "new": "Renamed"},
                "severity": {"old": "critical", "new": "low"},
            },
        },
    )
    line = describe_event("alert.expired", SAMPLES["alert.expired"], seen)
    assert line == '[EXERCISE] Alert expired: alert #4 "Renamed" (low)'


def test_situation_report_lines_name_the_subject_the_needs_and_the_cadence() -> None:
    posted = describe_event("sitrep.posted", SAMPLES["sitrep.posted"])
    assert posted == (
        "Situation report #2 on WDH-2026-0001: Two adults interviewed, one minor in care"
        " — actions taken: Passports seized"
        " — needs NA-POL: An escort to the shelter; any agency: A Portuguese interpreter"
        f" — next due {AT}"
    )
    bare = {**SAMPLES["sitrep.posted"], "actions_taken": "", "needs": [], "due_at": None}
    assert describe_event("sitrep.posted", bare) == (
        "Situation report #2 on WDH-2026-0001: Two adults interviewed, one minor in care"
    )
    assert describe_event("sitrep.cadence_set", SAMPLES["sitrep.cadence_set"]) == (
        f"Situation reports on WDH-2026-0001 every 60 minutes; next due {AT}"
    )
    cleared = {"ref": "WDH-2026-0001", "every_minutes": None, "due_at": None}
    assert describe_event("sitrep.cadence_set", cleared) == (
        "Situation report cadence on WDH-2026-0001 cleared"
    )
    assert describe_event("sitrep.overdue", SAMPLES["sitrep.overdue"]) == (
        f"Situation report on WDH-2026-0001 overdue since {AT}; 1 coordinator(s) of NA-IMM reminded"
    )
