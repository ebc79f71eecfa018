"""Timeline export of an incident: JSON, CSV and a printable HTML report.

Exports carry every event (redacted text stays hidden), each event's hash, and
the result of verifying the stream's chain at export time, so a reader can see
that the record they hold was intact when it left the hub.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
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


def describe_event(kind: str, payload: dict[str, Any]) -> str:
    """One line a senior official can read in a report."""
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
    return kind


def timeline_rows(
    incident: Incident, *, kind_prefix: str = "", until: int | None = None
) -> list[TimelineRow]:
    """The timeline's rows, up to seq ``until`` (everything when None)."""
    rows: list[TimelineRow] = []
    after = 0
    while True:
        events = events_after(
            incident.stream_name, after=after, limit=PAGE, until=until, kind_prefix=kind_prefix
        )
        if not events:
            break
        for event, envelope in zip(
            events, envelopes_for(events, present_stream=incident.stream_name), strict=True
        ):
            actor = envelope.actor
            rows.append(
                TimelineRow(
                    seq=event.seq,
                    at=event.at.isoformat(),
                    kind=event.kind,
                    actor=actor.name if actor else "system",
                    username=(actor.username or "") if actor else "",
                    agency=(actor.agency or "") if actor else "",
                    summary=describe_event(event.kind, envelope.payload),
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
