"""Timeline export of an incident: JSON, CSV and a printable HTML report.

Exports carry every event (redacted text stays hidden), each event's hash, and
the result of verifying the stream's chain at export time, so a reader can see
that the record they hold was intact when it left the hub.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.selectors import access_for
from hub.errors import NotFound
from hub.events.audit import verify_stream
from hub.events.models import Stream
from hub.events.permissions import can_see_export_verification
from hub.events.selectors import envelopes_for, events_after
from hub.incidents import permissions as perms
from hub.incidents.models import Incident
from hub.incidents.selectors import incident_snapshot
from hub.security import refuse

PAGE = 500


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    at: str
    kind: str
    actor: str
    username: str
    agency: str
    summary: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str


EXERCISE = "[EXERCISE] "


@dataclass
class AlertsSeen:
    """What the timeline has said so far about each linked alert (title, severity).

    Only ``alert.issued`` carries the title; later alert events name the alert by
    id. Folding the stream's own events (not the alerts table) keeps each line
    true to the record as of that event, and keeps this app independent of alerts.
    """

    titles: dict[int, str] = field(default_factory=dict)
    severities: dict[int, str] = field(default_factory=dict)

    def observe(self, kind: str, payload: dict[str, Any]) -> None:
        alert_id = payload.get("alert_id")
        if not isinstance(alert_id, int):
            return
        if kind == "alert.issued":
            self.titles[alert_id] = str(payload.get("title", ""))
            self.severities[alert_id] = str(payload.get("severity", ""))
        elif kind == "alert.updated":
            changes = payload.get("changes", {})
            if "title" in changes:
                self.titles[alert_id] = str(changes["title"].get("new", ""))
            if "severity" in changes:
                self.severities[alert_id] = str(changes["severity"].get("new", ""))

    def name(self, alert_id: object) -> str:
        """``alert #12 "Forged visas" (high)``, as far as the timeline knows it."""
        if not isinstance(alert_id, int):
            return "alert"
        title = self.titles.get(alert_id)
        severity = self.severities.get(alert_id)
        named = f'alert #{alert_id} "{title}"' if title else f"alert #{alert_id}"
        return f"{named} ({severity})" if severity else named


def _progress(payload: dict[str, Any]) -> str:
    p = payload.get("progress") or {}
    counted = f"{p.get('done', 0)}/{p.get('total', 0)} tasks done"
    extra = [f"{p[k]} {k}" for k in ("overdue", "blocked") if p.get(k)]
    return counted + (f", {', '.join(extra)}" if extra else "")


def _note(text: object) -> str:
    return f" — {text}" if text else ""


def _describe_alert(kind: str, payload: dict[str, Any], alerts: AlertsSeen) -> str:
    drill = EXERCISE if payload.get("exercise") else ""
    name = alerts.name(payload.get("alert_id"))
    if kind == "alert.issued":
        targets = ", ".join(payload.get("targets", [])) or "no agency"
        due = payload.get("due_at")
        ack = f"; acknowledge by {due}" if payload.get("ack_required") and due else ""
        return f"{drill}Alert issued: {name}, {payload.get('category', '')}, to {targets}{ack}"
    if kind == "alert.updated":
        parts = [
            f"{field_name}: {change.get('old')!r} → {change.get('new')!r}"
            for field_name, change in sorted(payload.get("changes", {}).items())
        ]
        return f"{drill}Alert updated to v{payload.get('version')}: {name}; " + "; ".join(parts)
    if kind == "alert.cancelled":
        return f"{drill}Alert cancelled: {name}{_note(payload.get('reason'))}"
    if kind == "alert.acknowledged":
        pending = payload.get("pending") or []
        still = f"; still pending: {', '.join(pending)}" if pending else "; all acknowledged"
        return f"{drill}Alert acknowledged by {payload.get('agency')}: {name}{still}"
    if kind == "alert.escalated":
        notified = len(payload.get("notified") or [])
        return (
            f"{drill}Alert escalated: {name} not acknowledged by {payload.get('agency')} "
            f"by {payload.get('due_at')}; {notified} officer(s) notified again"
        )
    if kind == "alert.expired":
        return f"{drill}Alert expired: {name}"
    return f"{drill}{kind}: {name}"


def _describe_operation(kind: str, payload: dict[str, Any]) -> str:
    ref = payload.get("ref", "")
    task = f"task #{payload.get('task_id')} of {ref}"
    if kind == "operation.started":
        return (
            f"Operation {ref} started from {payload.get('template')} "
            f"v{payload.get('template_version')}: {payload.get('title', '')} "
            f"({len(payload.get('tasks') or [])} tasks)"
        )
    if kind == "operation.progress":
        return f"Operation {ref} ({payload.get('title', '')}): {_progress(payload)}"
    if kind == "operation.closed":
        return f"Operation {ref} closed{_note(payload.get('note'))}; {_progress(payload)}"
    if kind == "task.added":
        added = payload.get("task") or {}
        who = added.get("assigned_agency") or added.get("agency_kind") or "any agency"
        return f"Task #{added.get('id')} added to {ref}: {added.get('title', '')} ({who})"
    if kind == "task.removed":
        return f"Removed {task}{_note(payload.get('reason'))}"
    if kind == "task.assigned":
        officers = payload.get("assignees") or []
        to = payload.get("agency") or "no agency"
        return f"Assigned {task} to {to}" + (f" ({', '.join(officers)})" if officers else "")
    if kind == "task.status_changed":
        note = payload.get("note") or payload.get("reason") or ""
        return (
            f"{task[0].upper()}{task[1:]}: {payload.get('from_status')} → "
            f"{payload.get('to_status')}{_note(note)}"
        )
    if kind == "task.noted":
        return f"Note on {task}: {payload.get('note', '')}"
    if kind == "task.cosigned":
        return f"Co-signed {task} for {payload.get('agency')}{_note(payload.get('note'))}"
    if kind == "task.overdue":
        notified = len(payload.get("notified") or [])
        return f"Overdue: {task}, due {payload.get('due_at')}; {notified} officer(s) notified"
    return kind


def _describe_sitrep(kind: str, payload: dict[str, Any]) -> str:
    ref = payload.get("ref", "")
    due = payload.get("due_at")
    if kind == "sitrep.posted":
        number = payload.get("number")
        parts = [f"Situation report #{number} on {ref}: {payload.get('situation', '')}"]
        if payload.get("actions_taken"):
            parts.append(f"actions taken: {payload['actions_taken']}")
        if payload.get("next_steps"):
            parts.append(f"next steps: {payload['next_steps']}")
        needs = [
            f"{need.get('agency') or 'any agency'}: {need.get('need', '')}"
            for need in payload.get("needs") or []
        ]
        if needs:
            parts.append("needs " + "; ".join(needs))
        if due:
            parts.append(f"next due {due}")
        return " — ".join(parts)
    if kind == "sitrep.cadence_set":
        if payload.get("every_minutes") is None:
            return f"Situation report cadence on {ref} cleared"
        return (
            f"Situation reports on {ref} every {payload.get('every_minutes')} minutes; "
            f"next due {due}"
        )
    if kind == "sitrep.overdue":
        notified = len(payload.get("notified") or [])
        return (
            f"Situation report on {ref} overdue since {due}; {notified} coordinator(s) of "
            f"{payload.get('agency', '')} reminded"
        )
    return kind


def describe_event(kind: str, payload: dict[str, Any], alerts: AlertsSeen | None = None) -> str:
    """One line a senior official can read in a report.

    ``alerts`` is what the timeline has said about linked alerts up to this event
    (``timeline_rows`` folds it); drills are marked ``[EXERCISE]``.
    """
    if kind == "incident.reported":
        return (
            f"Reported {payload.get('category', '')} ({payload.get('severity', '')}) at "
            f"{payload.get('crossing_point', '')}: {payload.get('title', '')}"
        )
    if kind == "incident.updated":
        parts = [
            f"{name}: {change.get('old')!r} → {change.get('new')!r}"
            for name, change in sorted(payload.get("changes", {}).items())
        ]
        return "Updated " + "; ".join(parts)
    if kind == "incident.transitioned":
        reason = f" — {payload['reason']}" if payload.get("reason") else ""
        return f"Status {payload.get('from_status')} → {payload.get('to_status')}{reason}"
    if kind == "incident.agency_invited":
        note = f" — {payload['note']}" if payload.get("note") else ""
        return f"Invited {payload.get('agency')}{note}"
    if kind == "incident.lead_changed":
        return f"Lead {payload.get('old')} → {payload.get('new')}"
    if kind.startswith("sitrep."):
        return _describe_sitrep(kind, payload)
    if kind == "message.posted":
        if payload.get("redacted"):
            return f"Message #{payload.get('message_id')} [redacted]"
        return f"Message #{payload.get('message_id')}: {payload.get('body', '')}"
    if kind == "message.edited":
        edit = f"Edit {payload.get('edit_number')} of message #{payload.get('message_id')}"
        if payload.get("redacted"):
            return f"{edit} [redacted]"
        return f"{edit}: {payload.get('body', '')}"
    if kind == "message.redacted":
        return f"Redacted message #{payload.get('message_id')} — {payload.get('reason', '')}"
    if kind.startswith("alert."):
        seen = alerts if alerts is not None else AlertsSeen()
        return _describe_alert(kind, payload, seen)
    if kind.startswith(("operation.", "task.")):
        return _describe_operation(kind, payload)
    if kind == "template.published":
        where = "in the browser" if payload.get("source") == "browser" else "from code"
        count = len(payload.get("items") or [])
        return (
            f"SOP template {payload.get('code', '')} v{payload.get('version')} published "
            f"{where}: {payload.get('title', '')} ({count} item{'' if count == 1 else 's'})"
        )
    return kind


def timeline_rows(
    incident: Incident, *, kind_prefix: str = "", until: int | None = None
) -> list[TimelineRow]:
    """The timeline's rows (kinds starting with ``kind_prefix``), up to seq ``until``.

    Every event is read, filter or not: alert events are described with what the
    events before them said about the alert (its title, severity).
    """
    rows: list[TimelineRow] = []
    alerts = AlertsSeen()
    after = 0
    while True:
        events = events_after(incident.stream_name, after=after, limit=PAGE, until=until)
        if not events:
            break
        shown = [e for e in events if e.kind.startswith(kind_prefix)]
        envelopes = envelopes_for(shown, present_stream=incident.stream_name)
        presented = {e.seq: env for e, env in zip(shown, envelopes, strict=True)}
        for event in events:
            alerts.observe(event.kind, event.payload)
            envelope = presented.get(event.seq)
            if envelope is None:
                continue
            actor = envelope.actor
            rows.append(
                TimelineRow(
                    seq=event.seq,
                    at=event.at.isoformat(),
                    kind=event.kind,
                    actor=actor.name if actor else "system",
                    username=(actor.username or "") if actor else "",
                    agency=(actor.agency or "") if actor else "",
                    summary=describe_event(event.kind, envelope.payload, alerts),
                    payload=envelope.payload,
                    prev_hash=event.prev_hash,
                    hash=event.hash,
                )
            )
        after = events[-1].seq
        if len(events) < PAGE:
            break
    return rows


def incident_export(*, actor: User, ref: str, fmt: str, kind_prefix: str = "") -> ExportFile:
    """Build the export; only senior officials in jurisdiction may export."""
    access = access_for(actor)
    # The incident's fields and the head are one snapshot; the rows are the
    # (immutable) events up to that head, so the header describes the rows.
    found = incident_snapshot(access, ref, action="incident.export")
    if found is None:
        raise NotFound("Not found.")
    incident, facts, head = found
    decision = perms.can_export_incident(access, facts)
    if not decision.allowed:
        refuse(access, action="incident.export", target=ref, reason=decision.reason)
    rows = timeline_rows(incident, kind_prefix=kind_prefix, until=head)
    # Whoever may export the timeline sees its verification (hub.events.permissions).
    verification: dict[str, Any] | None = None
    if can_see_export_verification(may_export=decision.allowed):
        stream = Stream.objects.filter(name=incident.stream_name).first()
        checked, broken = verify_stream(stream) if stream else (0, None)
        verification = {
            "ok": broken is None,
            "events_checked": checked,
            "first_broken": None
            if broken is None
            else {"seq": broken.seq, "reason": broken.reason},
        }
    exported_at = timezone.now()
    stem = f"{incident.ref}-timeline"
    meta = {
        "ref": incident.ref,
        "title": incident.title,
        "crossing_point": incident.crossing_point.code,
        "crossing_point_name": incident.crossing_point.name,
        "category": incident.category,
        "severity": incident.severity,
        "status": incident.status,
        "lead_agency": incident.lead_agency.code,
        "participating_agencies": sorted(a.code for a in incident.participating_agencies.all()),
        "head": head,
    }
    if fmt == "json":
        document = {
            "incident": meta,
            "exported_at": exported_at.isoformat(),
            "exported_by": actor.username,
            "filter": {"kind": kind_prefix} if kind_prefix else None,
            "verification": verification,
            "events": [row.__dict__ for row in rows],
        }
        return ExportFile(
            json.dumps(document, ensure_ascii=False, indent=2).encode(),
            "application/json",
            f"{stem}.json",
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(
                _csv_row(
                    [
                        row.seq,
                        row.at,
                        row.kind,
                        row.actor,
                        row.username,
                        row.agency,
                        row.summary,
                        row.hash,
                    ]
                )
            )
        return ExportFile(buffer.getvalue().encode("utf-8-sig"), "text/csv", f"{stem}.csv")
    html = render_to_string(
        "incidents/timeline_report.html",
        {
            "incident": meta,
            "rows": rows,
            "verification": verification,
            "exported_at": exported_at,
            "exported_by": actor.display_name,
            "kind_prefix": kind_prefix,
        },
    )
    return ExportFile(html.encode(), "text/html; charset=utf-8", f"{stem}.html")


CSV_COLUMNS = ["seq", "at", "kind", "actor", "username", "agency", "summary", "hash"]
FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r"})


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formula injection: a cell starting with = + - @ or a
    tab or carriage return is prefixed with a quote, so it is shown as text."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _csv_row(cells: list[object]) -> list[object]:
    """Every text cell of a row, guarded (names and usernames are user-supplied too)."""
    return [_csv_safe(cell) if isinstance(cell, str) else cell for cell in cells]
