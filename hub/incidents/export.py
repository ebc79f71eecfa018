"""Timeline export of an incident: JSON, CSV and a printable HTML report.

An export holds exactly the rows a reviewer's filters keep (``hub.events.filters``:
kind groups, the actor's agency, the actor, a time range, text, automatic entries;
and the older ``kind`` prefix), in seq order, up to the stream's head as read
with the incident (one snapshot). It records the filters it was made with:

- JSON: ``filters`` (``EventFilter.as_record()``, plus ``kind`` when given),
  ``rows_total`` (every event up to the head) and ``rows_shown``;
- HTML: a "Filters" line at the top ("All events" when none) with "Showing X of Y";
- every format, CSV included: the response headers ``X-Hub-Export-Filters`` (the
  same JSON object) and ``X-Hub-Export-Rows-Shown`` / ``X-Hub-Export-Rows-Total``,
  and ``-filtered`` in the file name when any filter narrowed it. The CSV itself
  stays rows only (one header row), so spreadsheets and parsers read it as is.

Times: JSON and CSV give each event in UTC (``at``/``at_utc``) and in the crossing
point's zone (``at_local``, ISO 8601 with its offset; the CSV names the zone in a
``timezone`` column). The HTML report shows the point's time with UTC beside it.

Evidence files: every format lists the incident's attachments as of the exported
head, whatever the filters (JSON ``attachments``; the HTML report's "Evidence files";
``format=attachments_csv``, a CSV of its own, since the timeline CSV stays rows only):
id, name, type, size, SHA-256, uploader and agency, when and at which seq it was
added, its withdrawal (when, by whom, why) and how many times its original was
downloaded. The list is folded from the stream's ``attachment.*`` events (their
payloads and actors), not from the attachment rows: it is a convenience derived
from the events, which are what the record verifies (``docs/record.md``).

Redacted text is never in any export: rows carry the payloads as readers see them
(``hub.incidents.selectors.present_incident_events``), and a text filter never
matches a redacted message. The report's transcript shows every version of a
message (who, when), and a redaction's who, agency, when and why, never its text.

The report's header, milestones, operation checklists and verification describe
the whole incident; its timeline, transcript and situation reports hold what the
filters keep. Milestones are the review's (``hub.incidents.review.milestones``):
each is the first time it was reached.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.selectors import access_for
from hub.errors import NotFound
from hub.events.audit import verify_stream
from hub.events.checkpoints import stream_proof
from hub.events.filters import GROUPS, EventFilter
from hub.events.models import GENESIS_HASH, Event, Stream
from hub.events.permissions import can_see_export_verification
from hub.events.selectors import EventRow, envelopes_for
from hub.events.streams import can_read_stream
from hub.incidents import permissions as perms
from hub.incidents.models import Incident
from hub.incidents.review import Happening, milestones
from hub.incidents.selectors import incident_snapshot
from hub.record.build import record_document, record_entry
from hub.record.canonical import canonical_time
from hub.security import refuse

PAGE = 500


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    at: str  # UTC, ISO 8601
    at_local: str  # the crossing point's zone, ISO 8601 with its offset
    kind: str
    actor: str
    username: str
    agency: str
    summary: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    moment: datetime = field(repr=False, compare=False)


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str
    filters: dict[str, Any] = field(default_factory=dict)
    rows_shown: int = 0
    rows_total: int = 0


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
    if kind == "attachment.added":
        return (
            f"File #{payload.get('attachment_id')} added: {payload.get('filename', '')} "
            f"({payload.get('content_type', '')}, {payload.get('size')} bytes, "
            f"SHA-256 {payload.get('sha256', '')})"
        )
    if kind == "attachment.withdrawn":
        return f"Withdrew file #{payload.get('attachment_id')} — {payload.get('reason', '')}"
    if kind == "attachment.original_downloaded":
        return (
            f"Original of file #{payload.get('attachment_id')} downloaded "
            f"(SHA-256 {payload.get('sha256', '')})"
        )
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


# --- time, as the exports show it ------------------------------------------------------


def _offset(moment: datetime) -> str:
    """``+02:00``: the moment's UTC offset."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Shown:
    """A moment as the report prints it: in the crossing point's zone, and in UTC."""

    local: str  # "2026-03-02 14:05:09 CAT (UTC+02:00)"
    utc: str  # "2026-03-02 12:05:09 UTC"
    short: str  # "2026-03-02 14:05 CAT", for narrow table cells
    iso: str  # the UTC ISO 8601 form


def shown(moment: datetime | None, zone: ZoneInfo) -> Shown | None:
    if moment is None:
        return None
    local = moment.astimezone(zone)
    utc = moment.astimezone(UTC)
    name = local.tzname() or ""
    # Zones without a letter abbreviation (tzdata prints "+04") are named by offset only.
    named = name[:1].isalpha()
    label = f"{name} (UTC{_offset(local)})" if named else f"UTC{_offset(local)}"
    return Shown(
        local=f"{local:%Y-%m-%d %H:%M:%S} {label}",
        utc=f"{utc:%Y-%m-%d %H:%M:%S} UTC",
        short=f"{local:%Y-%m-%d %H:%M} {name if named else 'UTC' + _offset(local)}",
        iso=utc.isoformat(),
    )


def readable_duration(seconds: int | None) -> str:
    """``42 s``, ``12 min``, ``1 h 05 min``, ``3 d 4 h`` (rounded down; "" for None)."""
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min"
    return f"{sign}{secs} s"


# --- the rows --------------------------------------------------------------------------

ALERT_NAMING_KINDS = ("alert.issued", "alert.updated")


def _walk(stream_name: str, events: QuerySet[Event]) -> Iterable[tuple[Event, Any]]:
    """Each event of ``events`` in seq order with its envelope as readers see it
    (redacted text masked), read in keyset pages of ``PAGE``."""
    after = 0
    while True:
        page = list(
            events.filter(seq__gt=after)
            .select_related("actor", "actor_agency", "stream")
            .order_by("seq")[:PAGE]
        )
        if not page:
            return
        rows = [EventRow.of(e) for e in page]
        yield from zip(page, envelopes_for(rows, present_stream=stream_name), strict=True)
        if len(page) < PAGE:
            return
        after = page[-1].seq


def _stream_events(incident: Incident, until: int | None) -> QuerySet[Event]:
    events = Event.objects.filter(stream__name=incident.stream_name)
    return events if until is None else events.filter(seq__lte=until)


def narrowed(
    events: QuerySet[Event], *, kind_prefix: str = "", event_filter: EventFilter | None = None
) -> QuerySet[Event]:
    """The events the kind prefix and the filters keep (the timeline's own definition)."""
    if kind_prefix:
        events = events.filter(kind__startswith=kind_prefix)
    if event_filter is not None:
        events = event_filter.narrow(events)
    return events


def timeline_rows(
    incident: Incident,
    *,
    kind_prefix: str = "",
    until: int | None = None,
    event_filter: EventFilter | None = None,
) -> list[TimelineRow]:
    """The timeline's rows the kind prefix and ``event_filter`` keep, up to seq ``until``.

    Only the kept events are read (keyset pages); alert events are described with
    what the events before them said about the alert (its title, severity), folded
    from the stream's ``alert.issued``/``alert.updated`` events, filter or not.
    """
    zone = ZoneInfo(incident.crossing_point.timezone)
    stream_events = _stream_events(incident, until)
    history = list(
        stream_events.filter(kind__in=ALERT_NAMING_KINDS)
        .order_by("seq")
        .values_list("seq", "kind", "payload")
    )
    alerts = AlertsSeen()
    folded = 0
    rows: list[TimelineRow] = []
    kept = narrowed(stream_events, kind_prefix=kind_prefix, event_filter=event_filter)
    for event, envelope in _walk(incident.stream_name, kept):
        while folded < len(history) and history[folded][0] <= event.seq:
            alerts.observe(history[folded][1], history[folded][2])
            folded += 1
        actor = envelope.actor
        rows.append(
            TimelineRow(
                seq=event.seq,
                at=event.at.astimezone(UTC).isoformat(),
                at_local=event.at.astimezone(zone).isoformat(),
                kind=event.kind,
                actor=actor.name if actor else "system",
                username=(actor.username or "") if actor else "",
                agency=(actor.agency or "") if actor else "",
                summary=describe_event(event.kind, envelope.payload, alerts),
                payload=envelope.payload,
                prev_hash=event.prev_hash,
                hash=event.hash,
                moment=event.at,
            )
        )
    return rows


# --- milestones -------------------------------------------------------------------------

MILESTONE_LABELS = {
    "reported": "Reported",
    "triaged": "Triaged",
    "lead_set": "Lead set",
    "active": "Active",
    "resolved": "Resolved",
    "closed": "Closed",
}
MILESTONE_KINDS = ("incident.reported", "incident.transitioned", "incident.lead_changed")


@dataclass(frozen=True)
class MilestoneReached:
    """A milestone of ``hub.incidents.review.milestones`` (the review's definitions:
    each the first time it was reached), with its label and, for ``lead_set``, whose
    lead it was."""

    key: str
    label: str
    at: datetime | None  # None: not reached (yet)
    seq: int | None
    after_seconds: int | None  # since the report
    note: str = ""


def _incident_milestones(incident: Incident, until: int) -> list[MilestoneReached]:
    rows = (
        _stream_events(incident, until)
        .filter(kind__in=MILESTONE_KINDS)
        .order_by("seq")
        .values_list("seq", "kind", "at", "actor_id", "actor_agency__code", "payload")
    )
    events = [
        Happening(seq=seq, kind=kind, at=at, agency=agency, by_officer=actor_id is not None,
                  payload=payload)
        for seq, kind, at, actor_id, agency, payload in rows
    ]  # fmt: skip
    by_seq = {e.seq: e for e in events}
    out: list[MilestoneReached] = []
    for m in milestones(events):
        note = ""
        hit = by_seq.get(m.seq) if m.seq is not None else None
        if m.key == "lead_set" and hit is not None:
            if hit.kind == "incident.reported":
                note = f"{hit.payload.get('lead_agency', '')} from the report"
            else:
                note = f"{hit.payload.get('old')} → {hit.payload.get('new')}"
        out.append(
            MilestoneReached(
                key=m.key,
                label=MILESTONE_LABELS.get(m.key, m.key),
                at=m.at,
                seq=m.seq,
                after_seconds=m.after_seconds,
                note=note,
            )
        )
    return out


# --- the chat transcript ------------------------------------------------------------------

MESSAGE_KINDS = ("message.posted", "message.edited", "message.redacted")


@dataclass(frozen=True)
class MessageVersion:
    label: str  # "Original", "Edit 1", ...
    at: datetime
    by: str
    agency: str
    body: str  # "" when hidden
    hidden: bool  # the message is redacted: its text is never shown


@dataclass(frozen=True)
class MessageRedaction:
    at: datetime
    by: str
    agency: str
    reason: str


@dataclass
class TranscriptEntry:
    message_id: int
    seq: int
    versions: list[MessageVersion] = field(default_factory=list)
    redaction: MessageRedaction | None = None

    @property
    def hidden(self) -> bool:
        return self.redaction is not None or any(v.hidden for v in self.versions)


def _who(envelope: Any) -> tuple[str, str]:
    actor = envelope.actor
    return (actor.name if actor else "system", (actor.agency or "") if actor else "")


def transcript(incident: Incident, *, until: int, keep: set[int] | None) -> list[TranscriptEntry]:
    """The messages up to seq ``until`` (only ids in ``keep``, unless None), each with
    every version (who, when) and its redaction (who, agency, when, why). Bodies
    are as readers see them: a redacted message's versions have no text."""
    entries: dict[int, TranscriptEntry] = {}
    events = _stream_events(incident, until).filter(kind__in=MESSAGE_KINDS)
    for event, envelope in _walk(incident.stream_name, events):
        payload = envelope.payload
        message_id = payload.get("message_id")
        if not isinstance(message_id, int) or (keep is not None and message_id not in keep):
            continue
        entry = entries.setdefault(message_id, TranscriptEntry(message_id, event.seq))
        by, agency = _who(envelope)
        if event.kind == "message.redacted":
            entry.redaction = MessageRedaction(event.at, by, agency, str(payload.get("reason", "")))
            continue
        hidden = bool(payload.get("redacted"))
        edit = payload.get("edit_number") if event.kind == "message.edited" else None
        entry.versions.append(
            MessageVersion(
                label=f"Edit {edit}" if edit else "Original",
                at=event.at,
                by=by,
                agency=agency,
                body="" if hidden else str(payload.get("body", "")),
                hidden=hidden,
            )
        )
    return sorted(entries.values(), key=lambda e: e.seq)


# --- operation checklists -------------------------------------------------------------------

TASK_STATUS_LABELS = {
    "open": "Open",
    "in_progress": "In progress",
    "done": "Done",
    "blocked": "Blocked",
    "not_applicable": "Not applicable",
}


@dataclass
class TaskOutcome:
    id: int
    position: int
    title: str
    agency: str
    status: str
    requires_cosign: bool
    note: str = ""
    evidence: str = ""
    reason: str = ""
    completed_by: str = ""
    completed_at: datetime | None = None
    cosigned_by: str = ""
    cosigned_at: datetime | None = None
    cosign_note: str = ""
    removed: str | None = None  # the reason it was removed
    was_overdue: bool = False

    @property
    def status_label(self) -> str:
        return TASK_STATUS_LABELS.get(self.status, self.status)


@dataclass
class OperationOutcome:
    ref: str
    title: str = ""
    template: str = ""
    template_version: int | None = None
    started_at: datetime | None = None
    started_by: str = ""
    closed_at: datetime | None = None
    close_note: str = ""
    tasks: dict[int, TaskOutcome] = field(default_factory=dict)

    @property
    def checklist(self) -> list[TaskOutcome]:
        return sorted(self.tasks.values(), key=lambda t: (t.position, t.id))


def _task_from(snapshot: dict[str, Any]) -> TaskOutcome:
    return TaskOutcome(
        id=int(snapshot.get("id", 0)),
        position=int(snapshot.get("position", 0)),
        title=str(snapshot.get("title", "")),
        agency=str(snapshot.get("assigned_agency") or snapshot.get("agency_kind") or ""),
        status=str(snapshot.get("status", "open")),
        requires_cosign=bool(snapshot.get("requires_cosign")),
    )


def _named(by: str, agency: str) -> str:
    return f"{by} ({agency})" if agency else by


def fold_operation(ref: str, events: Iterable[tuple[Event, Any]]) -> OperationOutcome:
    """An operation's checklist as its stream's events leave it: each task's final
    status, note, who completed it and who co-signed it (reopening a done task
    withdraws both, as ``hub.operations.services.task_update`` does)."""
    outcome = OperationOutcome(ref=ref)
    for event, envelope in events:
        payload = envelope.payload
        by, agency = _who(envelope)
        task = outcome.tasks.get(int(payload.get("task_id") or 0))
        if event.kind == "operation.started":
            outcome.title = str(payload.get("title", ""))
            outcome.template = str(payload.get("template", ""))
            outcome.template_version = payload.get("template_version")
            outcome.started_at = event.at
            outcome.started_by = _named(by, agency)
            for snapshot in payload.get("tasks") or []:
                added = _task_from(snapshot)
                outcome.tasks[added.id] = added
        elif event.kind == "task.added":
            added = _task_from(payload.get("task") or {})
            outcome.tasks[added.id] = added
        elif event.kind == "operation.closed":
            outcome.closed_at = event.at
            outcome.close_note = str(payload.get("note", ""))
        elif task is None:
            continue
        elif event.kind == "task.removed":
            task.removed = str(payload.get("reason", ""))
        elif event.kind == "task.assigned":
            task.agency = str(payload.get("agency") or task.agency)
            if payload.get("cosign_cleared"):
                task.cosigned_by, task.cosigned_at, task.cosign_note = "", None, ""
        elif event.kind == "task.status_changed":
            task.status = str(payload.get("to_status", task.status))
            task.note = str(payload.get("note", ""))
            task.evidence = str(payload.get("evidence", ""))
            task.reason = str(payload.get("reason", ""))
            if task.status == "done":
                task.completed_by, task.completed_at = _named(by, agency), event.at
            elif payload.get("from_status") == "done":
                task.completed_by, task.completed_at = "", None
                task.cosigned_by, task.cosigned_at, task.cosign_note = "", None, ""
        elif event.kind == "task.noted":
            task.note = str(payload.get("note", ""))
            task.evidence = str(payload.get("evidence", ""))
        elif event.kind == "task.cosigned":
            task.cosigned_by = _named(by, str(payload.get("agency") or agency))
            task.cosigned_at = event.at
            task.cosign_note = str(payload.get("note", ""))
        elif event.kind == "task.overdue":
            task.was_overdue = True
    return outcome


@dataclass(frozen=True)
class LinkedOperation:
    ref: str
    outcome: OperationOutcome | None  # None: the exporter may not read its stream


def linked_operations(access: Access, incident: Incident, *, until: int) -> list[LinkedOperation]:
    """The joint operations tied to the incident (those that pushed progress onto its
    stream up to ``until``), each folded from its own stream, in the order started."""
    refs: list[str] = []
    progress = (
        _stream_events(incident, until)
        .filter(kind="operation.progress")
        .order_by("seq")
        .values_list("payload", flat=True)
    )
    for payload in progress:
        ref = str(payload.get("ref", ""))
        if ref and ref not in refs:
            refs.append(ref)
    out: list[LinkedOperation] = []
    for ref in refs:
        name = f"operation:{ref}"
        if not can_read_stream(access, name):
            out.append(LinkedOperation(ref, None))
            continue
        events = Event.objects.filter(stream__name=name)
        out.append(LinkedOperation(ref, fold_operation(ref, _walk(name, events))))
    return out


# --- situation reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class SitrepShown:
    number: int
    at: datetime
    by: str
    agency: str
    situation: str
    actions_taken: str
    next_steps: str
    needs: list[str]
    due_at: datetime | None


def sitreps_of(rows: Iterable[TimelineRow]) -> list[SitrepShown]:
    out: list[SitrepShown] = []
    for row in rows:
        if row.kind != "sitrep.posted":
            continue
        p = row.payload
        due = p.get("due_at")
        out.append(
            SitrepShown(
                number=int(p.get("number") or 0),
                at=row.moment,
                by=row.actor,
                agency=row.agency,
                situation=str(p.get("situation", "")),
                actions_taken=str(p.get("actions_taken", "")),
                next_steps=str(p.get("next_steps", "")),
                needs=[
                    f"{n.get('agency') or 'Any agency'}: {n.get('need', '')}"
                    for n in p.get("needs") or []
                ],
                due_at=datetime.fromisoformat(due) if isinstance(due, str) else None,
            )
        )
    return out


# --- filters, as the export records them ----------------------------------------------------

GROUP_LABELS = {
    "messages": "messages",
    "status": "status and lead",
    "agencies": "agencies",
    "alerts": "alerts",
    "operations": "tasks and operations",
    "sitreps": "situation reports",
    "edits": "edits and redactions",
    "other": "other",
}


def filters_record(event_filter: EventFilter | None, kind_prefix: str) -> dict[str, Any]:
    """``EventFilter.as_record()``, plus ``kind`` (the kind prefix) when given; ``{}``: none."""
    record = event_filter.as_record() if event_filter is not None else {}
    if kind_prefix:
        record["kind"] = kind_prefix
    return record


def filters_in_words(
    event_filter: EventFilter | None, kind_prefix: str, zone: ZoneInfo
) -> list[str]:
    """The filters as the report's "Filters" line says them (empty: all events)."""
    if event_filter is None:
        event_filter = EventFilter()
    words: list[str] = []
    if event_filter.groups:
        words.append(
            "Kinds: " + ", ".join(GROUP_LABELS[g] for g in GROUPS if g in event_filter.groups)
        )
    if kind_prefix:
        words.append(f"Kinds starting with “{kind_prefix}”")
    if event_filter.agency is not None:
        words.append(f"Agency: {event_filter.agency}")
    if event_filter.actor is not None:
        words.append(f"Officer: {event_filter.actor}")
    start = shown(event_filter.start, zone)
    if start is not None:
        words.append(f"From {start.local} ({start.utc})")
    end = shown(event_filter.end, zone)
    if end is not None:
        words.append(f"Before {end.local} ({end.utc})")
    if event_filter.q:
        words.append(f"Text contains “{event_filter.q}”")
    if not event_filter.automatic:
        words.append("Automatic entries left out")
    return words


# --- evidence files --------------------------------------------------------------------------

ATTACHMENT_KINDS = ("attachment.added", "attachment.withdrawn", "attachment.original_downloaded")


@dataclass
class EvidenceFile:
    """One attachment as the events up to the head describe it."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str  # username
    agency: str
    created_at: datetime
    seq: int  # of its attachment.added event
    withdrawn_at: datetime | None = None
    withdrawn_by: str = ""
    withdrawn_agency: str = ""
    withdrawn_reason: str = ""
    withdrawn_seq: int | None = None
    original_downloads: int = 0


def evidence_files(incident: Incident, *, until: int) -> list[EvidenceFile]:
    """Every file added to the incident up to seq ``until``, in the order added,
    folded from its ``attachment.*`` events (withdrawn ones included)."""
    files: dict[int, EvidenceFile] = {}
    rows = (
        _stream_events(incident, until)
        .filter(kind__in=ATTACHMENT_KINDS)
        .order_by("seq")
        .values_list("seq", "kind", "at", "payload", "actor__username", "actor_agency__code")
    )
    for seq, kind, at, payload, username, agency in rows.iterator():
        file_id = payload.get("attachment_id")
        if kind == "attachment.added":
            files[file_id] = EvidenceFile(
                id=file_id,
                filename=str(payload.get("filename", "")),
                content_type=str(payload.get("content_type", "")),
                size=int(payload.get("size", 0)),
                sha256=str(payload.get("sha256", "")),
                uploaded_by=str(payload.get("uploader") or username or ""),
                agency=str(payload.get("agency") or agency or ""),
                created_at=at,
                seq=seq,
            )
            continue
        found = files.get(file_id)
        if found is None:
            continue
        if kind == "attachment.withdrawn":
            found.withdrawn_at = at
            found.withdrawn_by = username or ""
            found.withdrawn_agency = agency or ""
            found.withdrawn_reason = str(payload.get("reason", ""))
            found.withdrawn_seq = seq
        else:
            found.original_downloads += 1
    return list(files.values())


def _evidence_record(file: EvidenceFile, zone: ZoneInfo) -> dict[str, Any]:
    withdrawn = None
    if file.withdrawn_at is not None:
        withdrawn = {
            "at": file.withdrawn_at.astimezone(UTC).isoformat(),
            "at_local": file.withdrawn_at.astimezone(zone).isoformat(),
            "by": file.withdrawn_by,
            "agency": file.withdrawn_agency,
            "reason": file.withdrawn_reason,
            "seq": file.withdrawn_seq,
        }
    return {
        "id": file.id,
        "filename": file.filename,
        "content_type": file.content_type,
        "size": file.size,
        "sha256": file.sha256,
        "uploaded_by": file.uploaded_by,
        "agency": file.agency,
        "created_at": file.created_at.astimezone(UTC).isoformat(),
        "created_at_local": file.created_at.astimezone(zone).isoformat(),
        "seq": file.seq,
        "withdrawn": withdrawn,
        "original_downloads": file.original_downloads,
    }


# --- verification ----------------------------------------------------------------------------


def verification_of(incident: Incident, head: int, verified_at: datetime) -> dict[str, Any]:
    """The stream verified now, with its head (seq and hash, as exported) and how to
    check it again (``manage.py audit_verify <stream>``, ``GET /api/v1/audit/verify``)."""
    name = incident.stream_name
    stream = Stream.objects.filter(name=name).first()
    checked, broken = verify_stream(stream) if stream else (0, None)
    head_hash = (
        Event.objects.filter(stream__name=name, seq=head).values_list("hash", flat=True).first()
        if head
        else None
    ) or GENESIS_HASH
    return {
        "ok": broken is None,
        "events_checked": checked,
        "first_broken": None if broken is None else {"seq": broken.seq, "reason": broken.reason},
        "stream": name,
        "head_seq": head,
        "head_hash": head_hash,
        "verified_at": verified_at.isoformat(),
        "check_again": {
            "command": f"python manage.py audit_verify {name}",
            "api": f"GET /api/v1/audit/verify?stream={name}",
            "head_event": f"GET /api/v1/streams/{name}/events?after={max(head - 1, 0)}&limit=1",
        },
    }


# --- the verifiable record ---------------------------------------------------------------------


VERIFY_COMMANDS = (
    "python -m hub.record.verify {file} --public-key hub-signing-key.pub",
    "python manage.py verify_export {file} --public-key hub-signing-key.pub",
)


def record_of(incident: Incident, head: int, kept: set[int] | None) -> dict[str, Any]:
    """The export's ``record`` (``docs/record.md``): every event of the stream from
    seq 1 (filtered out or not: the chain needs them all), the inclusion proof of its
    head in the latest signed checkpoint, and that checkpoint's public key.

    An entry carries its payload (and salt) only when the filters keep it (``kept``;
    None: no filter) and readers see it as stored (the stream's presenter masks
    nothing, so never a redacted message); otherwise a form-3 entry carries only its
    ``payload_digest`` and a form-2 entry neither payload nor salt (the verifier takes
    its hash as stated). A checkpoint made after the head was read may cover a later
    seq: the record then runs to that seq, so the proof's leaf is in it."""
    name = incident.stream_name
    found = stream_proof(name)
    until = max(head, int(found.leaf["seq"])) if found is not None else head
    entries: list[dict[str, Any]] = []
    for event, envelope in _walk(name, _stream_events(incident, until)):
        readable = envelope.payload == event.payload
        entries.append(
            record_entry(
                form=event.form,
                seq=event.seq,
                kind=event.kind,
                at=canonical_time(event.at),
                actor=event.actor_id,
                agency=event.actor_agency_id,
                prev_hash=event.prev_hash,
                hash=event.hash,
                payload=event.payload,
                salt=event.salt,
                show=readable and (kept is None or event.seq in kept),
            )
        )
    proof = None
    if found is not None:
        proof = {
            "checkpoint": found.checkpoint,
            "leaf_index": found.leaf_index,
            "leaf": found.leaf,
            "inclusion": found.inclusion,
        }
    public_key = dict(found.public_key) if found is not None else None
    return record_document(
        stream=name,
        entries=entries,
        proof=proof,
        public_key=public_key,  # type: ignore[arg-type]
    )


# --- the export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    """What every format is made of: the incident as of its head, the kept rows, the
    filters and the verification."""

    actor: User
    access: Access
    incident: Incident
    head: int
    zone: ZoneInfo
    rows: list[TimelineRow]
    event_filter: EventFilter | None
    kind_prefix: str
    record: dict[str, Any]
    verification: dict[str, Any] | None
    exported_at: datetime
    chain: dict[str, Any] | None = None  # the verifiable record (``record_of``)
    attachments: list[EvidenceFile] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return f"{self.incident.ref}-timeline" + ("-filtered" if self.record else "")

    def file(self, content: bytes, content_type: str, extension: str) -> ExportFile:
        return ExportFile(
            content,
            content_type,
            f"{self.stem}.{extension}",
            filters=self.record,
            rows_shown=len(self.rows),
            rows_total=self.head,
        )

    def at(self, moment: datetime | None) -> Shown | None:
        return shown(moment, self.zone)


def incident_export(
    *,
    actor: User,
    ref: str,
    fmt: str,
    kind_prefix: str = "",
    event_filter: EventFilter | None = None,
) -> ExportFile:
    """Build the export of the rows the kind prefix and ``event_filter`` keep; only
    senior officials in jurisdiction may export (NotFound / Forbidden, logged).
    Verifies the stream's hash chain now (reads the whole stream once)."""
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
    rows = timeline_rows(incident, kind_prefix=kind_prefix, until=head, event_filter=event_filter)
    exported_at = timezone.now()
    # Whoever may export the timeline sees its verification (hub.events.permissions).
    verification: dict[str, Any] | None = None
    if can_see_export_verification(may_export=decision.allowed):
        verification = verification_of(incident, head, exported_at)
    chain: dict[str, Any] | None = None
    if verification is not None and fmt in ("json", "html"):
        filtered = bool(filters_record(event_filter, kind_prefix))
        chain = record_of(incident, head, {row.seq for row in rows} if filtered else None)
    exported = Exported(
        chain=chain,
        actor=actor,
        access=access,
        incident=incident,
        head=head,
        zone=ZoneInfo(incident.crossing_point.timezone),
        rows=rows,
        event_filter=event_filter,
        kind_prefix=kind_prefix,
        record=filters_record(event_filter, kind_prefix),
        verification=verification,
        exported_at=exported_at,
        attachments=evidence_files(incident, until=head),
    )
    if fmt == "json":
        return _as_json(exported)
    if fmt == "csv":
        return _as_csv(exported)
    if fmt == "attachments_csv":
        return _attachments_csv(exported)
    return _as_report(exported)


def _meta(incident: Incident, head: int) -> dict[str, Any]:
    return {
        "ref": incident.ref,
        "title": incident.title,
        "crossing_point": incident.crossing_point.code,
        "crossing_point_name": incident.crossing_point.name,
        "timezone": incident.crossing_point.timezone,
        "category": incident.category,
        "severity": incident.severity,
        "status": incident.status,
        "lead_agency": incident.lead_agency.code,
        "participating_agencies": sorted(a.code for a in incident.participating_agencies.all()),
        "head": head,
    }


def _as_json(ex: Exported) -> ExportFile:
    document = {
        "incident": _meta(ex.incident, ex.head),
        "exported_at": ex.exported_at.isoformat(),
        "exported_by": ex.actor.username,
        "filters": ex.record,
        "rows_total": ex.head,
        "rows_shown": len(ex.rows),
        "milestones": [
            {
                "key": m.key,
                "label": m.label,
                "at": m.at.astimezone(UTC).isoformat() if m.at else None,
                "at_local": m.at.astimezone(ex.zone).isoformat() if m.at else None,
                "seq": m.seq,
                "after_seconds": m.after_seconds,
            }
            for m in _incident_milestones(ex.incident, ex.head)
        ],
        "verification": ex.verification,
        "events": [{name: getattr(row, name) for name in JSON_ROW_FIELDS} for row in ex.rows],
        "attachments": [_evidence_record(file, ex.zone) for file in ex.attachments],
        "record": ex.chain,
    }
    content = json.dumps(document, ensure_ascii=False, indent=2).encode()
    return ex.file(content, "application/json", "json")


def _as_csv(ex: Exported) -> ExportFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    zone_name = ex.incident.crossing_point.timezone
    for row in ex.rows:
        writer.writerow(
            _csv_row(
                [
                    row.seq,
                    row.at,
                    row.at_local,
                    zone_name,
                    row.kind,
                    row.actor,
                    row.username,
                    row.agency,
                    row.summary,
                    row.hash,
                ]
            )
        )
    return ex.file(buffer.getvalue().encode("utf-8-sig"), "text/csv", "csv")


def _attachments_csv(ex: Exported) -> ExportFile:
    """The evidence files as CSV (``ATTACHMENT_CSV_COLUMNS``), one row per file, as
    of the head; filters do not narrow it (the headers say so: no filters, every
    event read)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ATTACHMENT_CSV_COLUMNS)
    zone_name = ex.incident.crossing_point.timezone
    for file in ex.attachments:
        record = _evidence_record(file, ex.zone)
        withdrawn = record["withdrawn"] or {}
        writer.writerow(
            _csv_row(
                [
                    file.id,
                    file.filename,
                    file.content_type,
                    file.size,
                    file.sha256,
                    file.uploaded_by,
                    file.agency,
                    record["created_at"],
                    record["created_at_local"],
                    zone_name,
                    file.seq,
                    withdrawn.get("at", ""),
                    withdrawn.get("by", ""),
                    withdrawn.get("reason", ""),
                    withdrawn.get("seq", ""),
                    file.original_downloads,
                ]
            )
        )
    return ExportFile(
        buffer.getvalue().encode("utf-8-sig"),
        "text/csv",
        f"{ex.incident.ref}-attachments.csv",
        filters={},
        rows_shown=ex.head,
        rows_total=ex.head,
    )


def _as_report(ex: Exported) -> ExportFile:
    """The printable report (``incidents/timeline_report.html``); strings in English."""
    incident, point, at = ex.incident, ex.incident.crossing_point, ex.at
    # The transcript holds the messages any kept row is about (every version of
    # each); with no filter at all, every message.
    kept_messages = {
        int(row.payload["message_id"])
        for row in ex.rows
        if row.kind in MESSAGE_KINDS and isinstance(row.payload.get("message_id"), int)
    }
    messages = transcript(incident, until=ex.head, keep=kept_messages if ex.record else None)
    operations = linked_operations(ex.access, incident, until=ex.head)
    context = {
        "incident": _meta(incident, ex.head),
        "header": {
            "category": incident.get_category_display(),
            "severity": incident.get_severity_display(),
            "status": incident.get_status_display(),
            "lead_agency": f"{incident.lead_agency.code} — {incident.lead_agency.name}",
            "reporting_agency": incident.reporting_agency.code,
            "reported_by": incident.reported_by.display_name,
            "agencies": [
                f"{a.code} — {a.name}"
                for a in sorted(incident.participating_agencies.all(), key=lambda a: a.code)
            ],
            "crossing_point": f"{point.name} ({point.code})",
            "crossing_point_kind": point.get_kind_display(),
            "location": incident.location_detail,
            "occurred": at(incident.occurred_at),
            "people_count": incident.people_count,
            "description": incident.description,
            "timezone": point.timezone,
        },
        "filters": filters_in_words(ex.event_filter, ex.kind_prefix, ex.zone),
        "rows_shown": len(ex.rows),
        "rows_total": ex.head,
        "milestones": [
            {"m": m, "at": at(m.at), "after": readable_duration(m.after_seconds)}
            for m in _incident_milestones(incident, ex.head)
        ],
        "transcript": [
            {
                "entry": entry,
                "versions": [{"v": v, "at": at(v.at)} for v in entry.versions],
                "redacted_at": at(entry.redaction.at) if entry.redaction else None,
            }
            for entry in messages
        ],
        "operations": [
            {
                "ref": linked.ref,
                "op": linked.outcome,
                "started": at(linked.outcome.started_at) if linked.outcome else None,
                "closed": at(linked.outcome.closed_at) if linked.outcome else None,
                "tasks": [
                    {"t": t, "completed": at(t.completed_at), "cosigned": at(t.cosigned_at)}
                    for t in (linked.outcome.checklist if linked.outcome else [])
                ],
            }
            for linked in operations
        ],
        "sitreps": [{"s": s, "at": at(s.at), "due": at(s.due_at)} for s in sitreps_of(ex.rows)],
        "attachments": [
            {"f": file, "added": at(file.created_at), "withdrawn": at(file.withdrawn_at)}
            for file in ex.attachments
        ],
        "rows": [{"row": row, "at": at(row.moment)} for row in ex.rows],
        "verification": ex.verification,
        "signed": _signed_appendix(ex),
        "exported_at": at(ex.exported_at),
        "exported_by": ex.actor.display_name,
    }
    html = render_to_string("incidents/timeline_report.html", context)
    return ex.file(html.encode(), "text/html; charset=utf-8", "html")


def _signed_appendix(ex: Exported) -> dict[str, Any] | None:
    """The report's appendix on the signed checkpoint: what it says, the inclusion
    proof, and how to check the JSON export offline."""
    if ex.chain is None:
        return None
    proof = ex.chain.get("proof")
    file = f"{ex.incident.ref}-timeline.json"
    out: dict[str, Any] = {
        "json_export": f"GET /api/v1/incidents/{ex.incident.ref}/export?format=json",
        "commands": [command.format(file=file) for command in VERIFY_COMMANDS],
        "public_key": ex.chain.get("public_key"),
        "proof": proof,
    }
    if proof is not None:
        out["at"] = ex.at(datetime.fromisoformat(proof["checkpoint"]["at"]))
    return out


# JSON: each event's time in UTC (``at``) and in the crossing point's zone (``at_local``).
JSON_ROW_FIELDS = [
    "seq",
    "at",
    "at_local",
    "kind",
    "actor",
    "username",
    "agency",
    "summary",
    "payload",
    "prev_hash",
    "hash",
]
# CSV: rows only; the zone's name in its own column, so each row says what at_local means.
CSV_COLUMNS = [
    "seq",
    "at_utc",
    "at_local",
    "timezone",
    "kind",
    "actor",
    "username",
    "agency",
    "summary",
    "hash",
]
# The evidence files' CSV (``format=attachments_csv``): one row per file.
ATTACHMENT_CSV_COLUMNS = [
    "id",
    "filename",
    "content_type",
    "size",
    "sha256",
    "uploaded_by",
    "agency",
    "created_at_utc",
    "created_at_local",
    "timezone",
    "seq",
    "withdrawn_at_utc",
    "withdrawn_by",
    "withdrawn_reason",
    "withdrawn_seq",
    "original_downloads",
]
FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r"})


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formula injection: a cell starting with = + - @ or a
    tab or carriage return is prefixed with a quote, so it is shown as text."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _csv_row(cells: list[object]) -> list[object]:
    """Every text cell of a row, guarded (names and usernames are user-supplied too)."""
    return [_csv_safe(cell) if isinstance(cell, str) else cell for cell in cells]
