"""Response metrics for senior officials and coordinators, computed from the record.

One call answers for a set of crossing points (one, or every point the caller may
read metrics for) and a period of ``days`` ending at ``until``; each figure comes
with the same figure for the period just before it, of the same length.

Who may read: senior officials and coordinators serving the point
(``can_read_metrics``). Incidents count only when the caller may read them
(``visibility_filter``), so a restricted incident never shows, not even as a
number; alerts at a point are read by every officer serving it.

What counts, and where it comes from:

- **Alert acknowledgement** (per targeted agency): from the point's stream
  (``crossing:<CODE>``). Alerts issued in the period that need an
  acknowledgement, drills excluded. The duration runs from ``alert.issued`` to
  the agency's first ``alert.acknowledged``. *On time*: acknowledged by the
  alert's ``due_at`` (the acknowledgement window of its severity, as issued or as a
  severity change moved it); *late*: after it; *missed*: not acknowledged, due
  before the period's end, and not cancelled before it was due. The target line
  is the configured window per severity (``HUB_ALERT_ACK_WINDOWS``).
- **First response** (per invited agency): incidents reported in the period; from
  the invitation (the report, or ``incident.agency_invited``) to the agency's first
  officer action after it: the same definition as the incident review
  (``hub.incidents.review``).
- **Resolution** (per category and severity): incidents reported in the period;
  from the report to the first move into ``resolved``. Those not resolved by the
  period's end count as ``open``. Category and severity are the incident's current
  ones.
- **Tasks** (per assigned agency; "" when unassigned): operation tasks due in the
  period (removed and not-applicable tasks excluded). *On time*: completed by
  ``due_at``; *late*: after it; *missed*: not done at the period's end.
- **Situation reports** (per lead agency): reports posted in the period under a
  cadence, on incidents and operations in scope. *On time*: posted by the due time
  the previous report or the cadence set; *late*: after it; *missed*: the
  ``sitrep.overdue`` reminders in the period (a due time that passed without a
  report).

Reads only; one consistent answer is not promised across sections (each reads
committed rows as it goes), which is right for figures over weeks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.models import CrossingPoint, Role
from hub.agencies.selectors import access_for
from hub.errors import NotFound
from hub.events.models import Event, Stream
from hub.incidents.models import Incident
from hub.incidents.review import Happening, first_responses, review_events
from hub.incidents.selectors import visibility_filter
from hub.metrics.figures import Durations, Punctuality, durations
from hub.operations.models import Operation, Task, TaskStatus
from hub.security import refuse

METRICS_ROLES = (Role.SENIOR_OFFICIAL.value, Role.COORDINATOR.value)
MAX_DAYS = 366


def can_read_metrics(access: Access, crossing_point_id: int) -> bool:
    """Senior officials and coordinators serving the point."""
    return bool(access.grants_at(crossing_point_id, METRICS_ROLES))


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class PointRef:
    code: str
    name: str
    timezone: str


@dataclass(frozen=True)
class DurationRow:
    key: str  # an agency code, or "<category>/<severity>"
    current: Durations
    previous: Durations
    # Alert acknowledgements only: by the due time, after it, never (current, previous).
    on_time: Punctuality | None = None
    previous_on_time: Punctuality | None = None
    # Resolution only: not resolved by the period's end (current, previous).
    open: int | None = None
    previous_open: int | None = None


@dataclass(frozen=True)
class PunctualityRow:
    key: str  # an agency code ("" for unassigned tasks)
    current: Punctuality
    previous: Punctuality


@dataclass(frozen=True)
class Metrics:
    crossing_points: list[PointRef]
    period: Period
    previous: Period
    days: int
    generated_at: datetime
    ack_targets: dict[str, int]
    alert_ack: list[DurationRow]
    first_response: list[DurationRow]
    resolution: list[DurationRow]
    tasks: list[PunctualityRow]
    sitreps: list[PunctualityRow]


def periods(days: int, until: datetime) -> tuple[Period, Period]:
    current = Period(until - timedelta(days=days), until)
    return current, Period(current.start - timedelta(days=days), current.start)


def _seconds(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 1)


def _split(
    values: Iterable[tuple[str, datetime, int]], current: Period, previous: Period
) -> dict[str, tuple[list[int], list[int]]]:
    """(key, the time that places it in a period, seconds) -> key: (current, previous)."""
    out: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for key, at, seconds in values:
        if current.holds(at):
            out[key][0].append(seconds)
        elif previous.holds(at):
            out[key][1].append(seconds)
    return out


# --- alert acknowledgements ------------------------------------------------------------


@dataclass
class _Alert:
    issued_at: datetime
    due_at: datetime | None
    targets: list[str]
    cancelled_at: datetime | None = None


def _alert_ack(points: list[str], current: Period, previous: Period) -> list[DurationRow]:
    streams = [f"crossing:{code}" for code in points]
    rows = (
        Event.objects.filter(stream__name__in=streams, at__gte=previous.start, at__lt=current.end)
        .filter(kind__in=("alert.issued", "alert.updated", "alert.cancelled", "alert.acknowledged"))
        .order_by("stream_id", "seq")
        .values_list("kind", "at", "payload")
    )
    alerts: dict[int, _Alert] = {}
    acks: dict[tuple[int, str], datetime] = {}
    for kind, at, payload in rows:
        alert_id = payload.get("alert_id")
        if kind == "alert.issued":
            if payload.get("exercise") or not payload.get("ack_required", True):
                continue
            due = payload.get("due_at")
            alerts[alert_id] = _Alert(
                issued_at=at,
                due_at=datetime.fromisoformat(due) if due else None,
                targets=[str(t) for t in payload.get("targets", [])],
            )
        elif alert_id not in alerts:
            continue
        elif kind == "alert.updated":
            due_change = (payload.get("changes") or {}).get("due_at")
            if isinstance(due_change, dict) and due_change.get("new"):
                alerts[alert_id].due_at = datetime.fromisoformat(str(due_change["new"]))
        elif kind == "alert.cancelled":
            alerts[alert_id].cancelled_at = at
        elif kind == "alert.acknowledged":
            acks.setdefault((alert_id, str(payload.get("agency", ""))), at)

    spans: list[tuple[str, datetime, int]] = []
    punctual: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: {"current": [0, 0, 0], "previous": [0, 0, 0]}
    )
    for alert_id, alert in alerts.items():
        which = "current" if current.holds(alert.issued_at) else "previous"
        period = current if which == "current" else previous
        for agency in alert.targets:
            ack = acks.get((alert_id, agency))
            counts = punctual[agency][which]
            if ack is not None and ack < period.end:
                spans.append((agency, alert.issued_at, _seconds(alert.issued_at, ack)))
                counts[0 if alert.due_at is None or ack <= alert.due_at else 1] += 1
            elif (
                alert.due_at is not None
                and alert.due_at < period.end
                and (alert.cancelled_at is None or alert.cancelled_at > alert.due_at)
            ):
                counts[2] += 1
    split = _split(spans, current, previous)
    keys = sorted(set(split) | set(punctual))
    return [
        DurationRow(
            key=key,
            current=durations(split[key][0]),
            previous=durations(split[key][1]),
            on_time=Punctuality(*punctual[key]["current"]),
            previous_on_time=Punctuality(*punctual[key]["previous"]),
        )
        for key in keys
    ]


# --- incidents: first response and resolution ----------------------------------------


def _incidents(access: Access, point_ids: list[int], since: datetime, until: datetime) -> Any:
    return (
        Incident.objects.filter(visibility_filter(access), crossing_point_id__in=point_ids)
        .filter(created_at__gte=since - timedelta(days=1), created_at__lt=until + timedelta(days=1))
        .values_list("ref", "category", "severity")
    )


def _incident_figures(
    access: Access, point_ids: list[int], current: Period, previous: Period
) -> tuple[list[DurationRow], list[DurationRow]]:
    found = {
        f"incident:{ref}": (category, severity)
        for ref, category, severity in _incidents(access, point_ids, previous.start, current.end)
    }
    heads = Stream.objects.filter(name__in=list(found)).values_list("name", "pk", "last_seq")
    responses: list[tuple[str, datetime, int]] = []
    resolutions: list[tuple[str, datetime, int]] = []
    still_open: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, stream_id, head in heads:
        events = review_events(stream_id, head)
        reported = next((e for e in events if e.kind == "incident.reported"), None)
        if reported is None or not (previous.start <= reported.at < current.end):
            continue
        period = current if current.holds(reported.at) else previous
        for row in first_responses(events):
            if row.invited_at is not None and row.at is not None and row.at < period.end:
                responses.append((row.agency, reported.at, _seconds(row.invited_at, row.at)))
        category, severity = found[name]
        key = f"{category}/{severity}"
        resolved = _first_resolved(events)
        if resolved is not None and resolved.at < period.end:
            resolutions.append((key, reported.at, _seconds(reported.at, resolved.at)))
        else:
            still_open[key][0 if period is current else 1] += 1
    first = _split(responses, current, previous)
    solved = _split(resolutions, current, previous)
    return (
        [
            DurationRow(key=k, current=durations(first[k][0]), previous=durations(first[k][1]))
            for k in sorted(first)
        ],
        [
            DurationRow(
                key=k,
                current=durations(solved[k][0]),
                previous=durations(solved[k][1]),
                open=still_open[k][0],
                previous_open=still_open[k][1],
            )
            for k in sorted(set(solved) | set(still_open))
        ],
    )


def _first_resolved(events: list[Happening]) -> Happening | None:
    return next(
        (
            e
            for e in events
            if e.kind == "incident.transitioned" and e.payload.get("to_status") == "resolved"
        ),
        None,
    )


# --- tasks and situation reports ------------------------------------------------------


def _operations(access: Access, point_ids: list[int]) -> Any:
    readable = Incident.objects.filter(visibility_filter(access)).values("pk")
    return Operation.objects.filter(crossing_point_id__in=point_ids).filter(
        Q(incident__isnull=True) | Q(incident__in=readable)
    )


def _tasks(
    access: Access, point_ids: list[int], current: Period, previous: Period
) -> list[PunctualityRow]:
    rows = (
        Task.objects.filter(operation__in=_operations(access, point_ids).values("pk"))
        .filter(due_at__gte=previous.start, due_at__lt=current.end, removed_at__isnull=True)
        .exclude(status=TaskStatus.NOT_APPLICABLE)
        .values_list("assigned_agency__code", "due_at", "completed_at")
    )
    counts: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: {"current": [0, 0, 0], "previous": [0, 0, 0]}
    )
    for agency, due_at, completed_at in rows:
        if due_at is None:  # the query leaves these out; this tells the type checker
            continue
        which = "current" if current.holds(due_at) else "previous"
        end = current.end if which == "current" else previous.end
        slot = counts[agency or ""][which]
        if completed_at is not None and completed_at < end:
            slot[0 if completed_at <= due_at else 1] += 1
        else:
            slot[2] += 1
    return [
        PunctualityRow(
            key=k, current=Punctuality(*v["current"]), previous=Punctuality(*v["previous"])
        )
        for k, v in sorted(counts.items())
    ]


def _sitreps(
    access: Access, point_ids: list[int], current: Period, previous: Period
) -> list[PunctualityRow]:
    refs = Incident.objects.filter(visibility_filter(access), crossing_point_id__in=point_ids)
    streams = [f"incident:{ref}" for ref in refs.values_list("ref", flat=True)]
    streams += [
        f"operation:{ref}" for ref in _operations(access, point_ids).values_list("ref", flat=True)
    ]
    rows = (
        Event.objects.filter(stream__name__in=streams, at__lt=current.end)
        .filter(kind__in=("sitrep.posted", "sitrep.cadence_set", "sitrep.overdue"))
        .order_by("stream_id", "seq")
        .values_list("stream_id", "kind", "at", "actor_agency__code", "payload")
    )
    counts: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: {"current": [0, 0, 0], "previous": [0, 0, 0]}
    )
    due: dict[int, datetime | None] = {}
    for stream_id, kind, at, agency, payload in rows:
        which = "current" if current.holds(at) else "previous" if previous.holds(at) else None
        if kind == "sitrep.overdue":
            if which is not None:
                counts[str(payload.get("agency", ""))][which][2] += 1
            continue
        if kind == "sitrep.posted" and which is not None and due.get(stream_id) is not None:
            expected = due[stream_id]
            assert expected is not None
            counts[agency or ""][which][0 if at <= expected else 1] += 1
        next_due = payload.get("due_at")
        due[stream_id] = datetime.fromisoformat(next_due) if next_due else None
    return [
        PunctualityRow(
            key=k, current=Punctuality(*v["current"]), previous=Punctuality(*v["previous"])
        )
        for k, v in sorted(counts.items())
    ]


# --- the entry point -------------------------------------------------------------------


def response_metrics(
    *,
    actor: User,
    crossing_point: str | None = None,
    days: int = 28,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Metrics:
    """The metrics ``actor`` may read: at ``crossing_point``, or at every point where
    they may read metrics (none: an empty answer, not an error).

    NotFound for an unknown point; Forbidden (logged as ``metrics.read``) for a
    point they may not read metrics for.
    """
    access = access_for(actor)
    now = now or timezone.now()
    until = min(until or now, now)
    days = max(1, min(days, MAX_DAYS))
    if crossing_point is not None:
        point = CrossingPoint.objects.filter(code=crossing_point).first()
        if point is None:
            raise NotFound("Not found.")
        if not can_read_metrics(access, point.pk):
            refuse(
                access,
                action="metrics.read",
                target=f"crossing:{crossing_point}",
                reason="only senior officials and coordinators serving the crossing point "
                "read its metrics",
            )
        chosen = [point]
    else:
        chosen = [
            p
            for p in CrossingPoint.objects.filter(pk__in=access.crossing_point_ids).order_by("code")
            if can_read_metrics(access, p.pk)
        ]
    current, previous = periods(days, until)
    codes = [p.code for p in chosen]
    ids = [p.pk for p in chosen]
    first, resolution = _incident_figures(access, ids, current, previous)
    return Metrics(
        crossing_points=[PointRef(p.code, p.name, p.timezone) for p in chosen],
        period=current,
        previous=previous,
        days=days,
        generated_at=now,
        ack_targets=dict(settings.HUB_ALERT_ACK_WINDOWS),
        alert_ack=_alert_ack(codes, current, previous) if codes else [],
        first_response=first,
        resolution=resolution,
        tasks=_tasks(access, ids, current, previous) if ids else [],
        sitreps=_sitreps(access, ids, current, previous) if ids else [],
    )
