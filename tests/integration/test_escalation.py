"""The escalation loop against a controllable clock: exactly once, never early, never twice.

The jobs of ``hub.jobs`` (``alerts_escalate_due``, ``alerts_expire_due``,
``tasks_escalate_due``; situation report reminders are in ``test_sitreps.py``) take
``now``; ``sweep(now)`` runs them all; ``run_forever`` is driven with a fake
clock whose ``sleep`` advances it, and ``max_sweeps``. A "restart" is a second
loop over the same clock range. Competing loops are simulated by sweeping twice
at the same ``now`` and by sweeping from four threads at once (each with its own
connection) under ``django_db(transaction=True)``; a change that lands between a
sweep listing what is due and claiming it is simulated with a hook at the claim.
Re-notification e-mail goes to Django's locmem outbox; in non-transactional
tests on_commit callbacks only run inside
``django_capture_on_commit_callbacks(execute=True)``.

Failures are injected per item (a notification lookup that raises for one
agency) and per phase. The real ``manage.py run_escalations`` also runs as a
subprocess with ``--test-control DIR`` (test-only: its clock is the file
``DIR/now``, and each claim waits, inside its transaction, for ``DIR/go-<n>``),
is SIGKILLed while a claim is open, and is restarted: every overdue agency and
task escalates exactly once.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hub.accounts.models import User
from hub.agencies.models import Agency, CrossingPoint, Membership
from hub.alerts import services
from hub.alerts.models import Alert, AlertStatus, AlertTarget
from hub.events.audit import verify
from hub.events.models import Event
from hub.events.types import validate_payload
from hub.jobs import alert_escalation, alert_expiry, runner, task_escalation
from hub.jobs.runner import SweepResult, run_forever, sweep
from hub.operations import services as ops
from hub.operations.models import Operation, Task
from tests.factories import officer, report, seed
from tests.processes import database_url_for

T = TypeVar("T")
DEMO_MAIL = "@demo.border-hub.example"


# --- helpers -----------------------------------------------------------------------------------


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
def t0() -> datetime:
    return timezone.now().replace(microsecond=0)


def window(severity: str) -> timedelta:
    return timedelta(seconds=settings.HUB_ALERT_ACK_WINDOWS[severity])


def events(kind: str) -> list[Event]:
    """Every event of a kind, in the order written, each payload validated."""
    found = list(Event.objects.filter(kind=kind).order_by("id"))
    for event in found:
        validate_payload(event.kind, event.payload)
    return found


def tally() -> tuple[int, int, int]:
    return (
        len(events("alert.escalated")),
        len(events("alert.expired")),
        len(events("task.overdue")),
    )


def issue(now: datetime, username: str = "na-imm.duty", **fields: Any) -> Alert:
    params: dict[str, Any] = {
        "category": "security_threat",
        "severity": "critical",
        "title": "Unattended bag at departures",
    }
    params.update(fields)
    return services.alert_issue(
        actor=officer(username), crossing_point="WDH", now=now, **params
    ).alert


def ack(username: str, alert: Alert, at: datetime) -> None:
    services.alert_acknowledge(
        actor=officer(username), alert_id=alert.pk, client_msg_id=uuid.uuid4(), now=at
    )


def escalated_at(alert: Alert) -> dict[str, datetime | None]:
    return {
        t.agency.code: t.escalated_at
        for t in AlertTarget.objects.filter(alert=alert).select_related("agency")
    }


def start_operation(now: datetime, minutes: tuple[tuple[str, int], ...]) -> Operation:
    """An operation at WDH from a one-off SOP: one task per (agency kind, minutes to due)."""
    code = f"esc-{uuid.uuid4().hex[:8]}"
    ops.template_publish(
        code=code,
        title="Escalation test checklist",
        description="",
        items=[ops.ItemSpec(f"Step {i} ({kind})", kind, m) for i, (kind, m) in enumerate(minutes)],
        now=now,
    )
    return ops.operation_start(
        actor=officer("na-imm.coord"), crossing_point="WDH", template=code, now=now
    ).operation


def tasks_of(operation: Operation) -> list[Task]:
    return list(
        Task.objects.filter(operation=operation)
        .select_related("assigned_agency")
        .order_by("position")
    )


def complete(task: Task, username: str, at: datetime) -> None:
    for status in ("in_progress", "done"):
        ops.task_update(
            actor=officer(username),
            ref=task.operation.ref,
            task_id=task.pk,
            status=status,
            now=at,
        )


class FakeClock:
    """A clock that only moves when the loop sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.read: list[datetime] = []
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        self.read.append(self.now)
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def loop(start: datetime, *, interval: int, sweeps: int) -> FakeClock:
    clock = FakeClock(start)
    ran = run_forever(interval=interval, clock=clock, sleep=clock.sleep, max_sweeps=sweeps)
    assert ran == sweeps
    assert clock.read == [start + timedelta(seconds=interval * i) for i in range(sweeps)]
    assert clock.slept == [interval] * (sweeps - 1)
    return clock


def run_concurrently(fn: Callable[[int], T], n: int) -> list[T]:
    barrier = threading.Barrier(n)

    def worker(i: int) -> T:
        try:
            barrier.wait(timeout=30)
            return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(worker, range(n)))


# --- alerts: exactly once, at the due time -----------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_alert_escalates_once_per_agency_at_its_due_time_never_before(t0: datetime) -> None:
    alert = issue(t0, severity="high")
    due = t0 + window("high")
    for at in (t0, t0 + timedelta(minutes=1), due - timedelta(seconds=1)):
        assert sweep(at).total == 0
    assert tally() == (0, 0, 0)
    assert set(escalated_at(alert).values()) == {None}

    result = sweep(due)
    assert result.alerts_escalated == [
        (alert.pk, "NA-AIR"),
        (alert.pk, "NA-CUS"),
        (alert.pk, "NA-POL"),
    ]
    assert (result.alerts_expired, result.tasks_escalated) == ([], [])
    assert escalated_at(alert) == {"NA-AIR": due, "NA-CUS": due, "NA-POL": due}
    escalated = events("alert.escalated")
    assert [e.payload["agency"] for e in escalated] == ["NA-AIR", "NA-CUS", "NA-POL"]
    for event in escalated:
        agency = event.payload["agency"].lower()
        assert event.stream.name == "crossing:WDH"
        assert event.at == due
        assert (event.actor, event.actor_agency) == (None, None)
        assert event.payload["alert_id"] == alert.pk
        assert event.payload["exercise"] is False
        assert parse_datetime(event.payload["due_at"]) == due
        assert event.payload["notified"] == [f"{agency}.coord", f"{agency}.duty"]

    for at in (due, due + timedelta(seconds=1), due + timedelta(hours=1), due + timedelta(days=2)):
        assert sweep(at).total == 0
    assert tally() == (3, 0, 0)
    assert escalated_at(alert) == {"NA-AIR": due, "NA-CUS": due, "NA-POL": due}


@pytest.mark.usefixtures("demo")
def test_each_alert_escalates_on_its_own_clock(t0: datetime) -> None:
    critical = issue(t0, severity="critical", targets=["NA-CUS"])
    later = t0 + timedelta(minutes=2)
    low = issue(later, severity="low", targets=["NA-POL"])
    assert sweep(t0 + window("critical")).alerts_escalated == [(critical.pk, "NA-CUS")]
    assert sweep(later + window("low") - timedelta(seconds=1)).total == 0
    assert sweep(later + window("low")).alerts_escalated == [(low.pk, "NA-POL")]
    assert tally() == (2, 0, 0)


@pytest.mark.usefixtures("demo")
def test_acknowledged_agency_is_never_escalated(t0: datetime) -> None:
    alert = issue(t0)
    due = t0 + window("critical")
    ack("na-cus.duty", alert, t0 + timedelta(minutes=1))
    # Late, but before any sweep ran: still not escalated.
    ack("na-air.coord", alert, due + timedelta(seconds=10))
    assert sweep(due + timedelta(seconds=20)).alerts_escalated == [(alert.pk, "NA-POL")]
    # Acknowledging after the escalation changes nothing about it.
    ack("na-pol.duty", alert, due + timedelta(minutes=1))
    assert sweep(due + timedelta(hours=3)).total == 0
    assert escalated_at(alert) == {
        "NA-AIR": None,
        "NA-CUS": None,
        "NA-POL": due + timedelta(seconds=20),
    }
    [event] = events("alert.escalated")
    assert event.payload["agency"] == "NA-POL"


@pytest.mark.usefixtures("demo")
def test_alert_without_ack_required_never_escalates(t0: datetime) -> None:
    alert = issue(t0, ack_required=False)
    for hours in (0, 1, 24, 24 * 30):
        assert sweep(t0 + timedelta(hours=hours)).total == 0
    assert tally() == (0, 0, 0)
    assert set(escalated_at(alert).values()) == {None}


@pytest.mark.usefixtures("demo")
def test_cancelled_alert_never_escalates(t0: datetime) -> None:
    alert = issue(t0)
    services.alert_cancel(
        actor=officer("na-imm.duty"), alert_id=alert.pk, reason="False alarm", now=t0
    )
    assert sweep(t0 + timedelta(days=1)).total == 0
    assert tally() == (0, 0, 0)


@pytest.mark.usefixtures("demo")
def test_escalation_of_a_linked_alert_reaches_the_incident_stream(t0: datetime) -> None:
    incident = report()
    alert = issue(t0, incident=incident.ref, targets=["NA-AIR"])
    sweep(t0 + window("critical"))
    on_incident = [
        e
        for e in Event.objects.filter(stream__name=incident.stream_name, kind="alert.escalated")
        if e.payload["alert_id"] == alert.pk
    ]
    assert len(on_incident) == 1
    assert on_incident[0].payload["agency"] == "NA-AIR"
    assert len(events("alert.escalated")) == 2  # one per stream, one escalation


# --- expiry -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_expiry_fires_exactly_once(t0: datetime) -> None:
    expires = t0 + timedelta(minutes=10)
    alert = issue(t0, severity="low", expires_at=expires)
    assert sweep(expires - timedelta(seconds=1)).total == 0
    result = sweep(expires)
    assert result.alerts_expired == [alert.pk]
    assert result.alerts_escalated == []
    alert.refresh_from_db()
    assert (alert.status, alert.expired_at, alert.updated_at) == (
        AlertStatus.EXPIRED,
        expires,
        expires,
    )
    for at in (expires, expires + timedelta(minutes=1), t0 + window("low") + timedelta(hours=1)):
        assert sweep(at).total == 0
    [event] = events("alert.expired")
    assert event.payload == {"alert_id": alert.pk, "version": 1, "exercise": False}
    assert (event.at, event.actor) == (expires, None)
    # Past its acknowledgement window too, but an expired alert is not escalated.
    assert tally() == (0, 1, 0)
    assert set(escalated_at(alert).values()) == {None}


@pytest.mark.usefixtures("demo")
def test_escalation_before_expiry_then_expiry(t0: datetime) -> None:
    alert = issue(t0, expires_at=t0 + timedelta(hours=1))
    due = t0 + window("critical")
    assert len(sweep(due).alerts_escalated) == 3
    assert sweep(t0 + timedelta(hours=1)).alerts_expired == [alert.pk]
    assert sweep(t0 + timedelta(hours=5)).total == 0
    assert tally() == (3, 1, 0)


@pytest.mark.usefixtures("demo")
def test_an_alert_that_expired_before_any_sweep_is_expired_not_escalated(t0: datetime) -> None:
    alert = issue(t0, expires_at=t0 + timedelta(minutes=30))
    result = sweep(t0 + timedelta(hours=2))
    assert (result.alerts_escalated, result.alerts_expired) == ([], [alert.pk])
    assert tally() == (0, 1, 0)


# --- tasks ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_overdue_tasks_escalate_once_each_never_before_due(t0: datetime) -> None:
    operation = start_operation(
        t0, (("immigration", 10), ("customs", 20), ("police", 30), ("customs", 40))
    )
    first, second, third, fourth = tasks_of(operation)
    assert [
        t.assigned_agency.code for t in (first, second, third, fourth) if t.assigned_agency
    ] == [
        "NA-IMM",
        "NA-CUS",
        "NA-POL",
        "NA-CUS",
    ]
    complete(fourth, "na-cus.duty", t0 + timedelta(minutes=5))
    assert sweep(t0 + timedelta(minutes=10) - timedelta(seconds=1)).total == 0
    assert sweep(t0 + timedelta(minutes=10)).tasks_escalated == [first.pk]
    assert sweep(t0 + timedelta(minutes=10)).total == 0
    assert sweep(t0 + timedelta(minutes=25)).tasks_escalated == [second.pk]
    assert sweep(t0 + timedelta(hours=2)).tasks_escalated == [third.pk]
    assert sweep(t0 + timedelta(days=1)).total == 0
    assert tally() == (0, 0, 3)
    escalated = {t.pk: t.escalated_at for t in tasks_of(operation)}
    assert escalated == {
        first.pk: t0 + timedelta(minutes=10),
        second.pk: t0 + timedelta(minutes=25),
        third.pk: t0 + timedelta(hours=2),
        fourth.pk: None,
    }
    overdue = events("task.overdue")
    assert [e.payload["task_id"] for e in overdue] == [first.pk, second.pk, third.pk]
    assert {e.stream.name for e in overdue} == {operation.stream_name}
    police = overdue[2].payload
    assert police["ref"] == operation.ref
    assert police["agency"] == "NA-POL"
    assert police["notified"] == ["na-pol.coord", "na-pol.duty"]
    assert parse_datetime(police["due_at"]) == t0 + timedelta(minutes=30)
    assert police["progress"]["done"] == 1


@pytest.mark.usefixtures("demo")
def test_tasks_of_a_closed_operation_never_escalate(t0: datetime) -> None:
    operation = start_operation(t0, (("immigration", 5),))
    ops.operation_close(actor=officer("na-imm.coord"), ref=operation.ref, note="Stood down", now=t0)
    assert sweep(t0 + timedelta(hours=1)).total == 0
    assert tally() == (0, 0, 0)


# --- a change between a sweep's listing and its claim ---------------------------------------


class HookedTransaction:
    """Stands in for ``django.db.transaction`` in a services module: runs ``hook`` once,
    when the sweep opens its first claim transaction (after it listed what is due)."""

    def __init__(self, hook: Callable[[], None]) -> None:
        self.hook: Callable[[], None] | None = hook

    def atomic(self, *args: Any, **kwargs: Any) -> Any:
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return transaction.atomic(*args, **kwargs)

    def on_commit(self, *args: Any, **kwargs: Any) -> None:
        transaction.on_commit(*args, **kwargs)


@pytest.mark.usefixtures("demo")
def test_acknowledged_after_listing_is_not_escalated(
    t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert = issue(t0, targets=["NA-CUS"])
    due = t0 + window("critical")
    hooked = HookedTransaction(lambda: ack("na-cus.duty", alert, due))
    monkeypatch.setattr(services, "transaction", hooked)
    assert alert_escalation.alerts_escalate_due(now=due) == []
    assert hooked.hook is None, "the hook ran"
    assert tally() == (0, 0, 0)


@pytest.mark.usefixtures("demo")
def test_cancelled_after_listing_is_not_escalated(
    t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert = issue(t0, targets=["NA-CUS"])
    due = t0 + window("critical")

    def cancel() -> None:
        services.alert_cancel(
            actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Stand down", now=due
        )

    hooked = HookedTransaction(cancel)
    monkeypatch.setattr(services, "transaction", hooked)
    escalated = alert_escalation.alerts_escalate_due(now=due)
    assert hooked.hook is None, "the hook ran"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CANCELLED
    assert escalated == [], "a cancelled alert was escalated"
    assert tally() == (0, 0, 0)


@pytest.mark.usefixtures("demo")
def test_expiry_extended_after_listing_is_not_expired(
    t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert = issue(t0, severity="low", expires_at=t0 + timedelta(minutes=10))
    at = t0 + timedelta(minutes=10)

    def extend() -> None:
        services.alert_update(
            actor=officer("na-imm.duty"),
            alert_id=alert.pk,
            changes={"expires_at": t0 + timedelta(hours=1)},
            now=at - timedelta(seconds=1),
        )

    hooked = HookedTransaction(extend)
    monkeypatch.setattr(services, "transaction", hooked)
    expired = alert_expiry.alerts_expire_due(now=at)
    assert hooked.hook is None, "the hook ran"
    alert.refresh_from_db()
    assert alert.expires_at == t0 + timedelta(hours=1)
    assert (expired, alert.status) == ([], AlertStatus.ACTIVE), "expired on the old expiry"


@pytest.mark.usefixtures("demo")
def test_task_done_after_listing_is_not_escalated(
    t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    operation = start_operation(t0, (("customs", 10),))
    [task] = tasks_of(operation)
    at = t0 + timedelta(minutes=10)
    hooked = HookedTransaction(lambda: complete(task, "na-cus.duty", at))
    monkeypatch.setattr(ops, "transaction", hooked)
    escalated = task_escalation.tasks_escalate_due(now=at)
    assert hooked.hook is None, "the hook ran"
    task.refresh_from_db()
    assert task.status == "done"
    assert escalated == [], "a task already done was escalated as overdue"
    assert tally() == (0, 0, 0)


# --- two loops, restarts ----------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_two_sweeps_at_the_same_now_escalate_each_once(t0: datetime) -> None:
    alerts = [issue(t0, title=f"Alert {i}") for i in range(3)]
    expiring = issue(t0, ack_required=False, expires_at=t0 + timedelta(minutes=20))
    operation = start_operation(t0, (("immigration", 10), ("police", 15)))
    now = t0 + timedelta(minutes=30)
    first = sweep(now)
    second = sweep(now)
    assert len(first.alerts_escalated) == 9
    assert {a for a, _ in first.alerts_escalated} == {a.pk for a in alerts}
    assert first.alerts_expired == [expiring.pk]
    assert first.tasks_escalated == [t.pk for t in tasks_of(operation)]
    assert second.total == 0
    assert tally() == (9, 1, 2)


@pytest.mark.django_db(transaction=True)
def test_run_forever_with_a_fake_clock_and_a_restart() -> None:
    seed()
    t0 = timezone.now().replace(microsecond=0)
    acked = issue(t0, severity="critical")
    ack("na-cus.duty", acked, t0 + timedelta(seconds=90))
    quiet = issue(t0, severity="high", ack_required=False)
    expiring = issue(t0, severity="low", expires_at=t0 + timedelta(minutes=10))
    slow = issue(t0, severity="medium")  # due at t0 + 1 h
    operation = start_operation(t0, (("immigration", 10), ("customs", 15), ("police", 90)))
    mail.outbox.clear()

    # 21 sweeps a minute apart: t0 .. t0 + 20 min.
    loop(t0, interval=60, sweeps=21)
    due = t0 + window("critical")
    assert escalated_at(acked) == {"NA-AIR": due, "NA-CUS": None, "NA-POL": due}
    assert set(escalated_at(quiet).values()) == {None}
    assert set(escalated_at(slow).values()) == {None}
    expiring.refresh_from_db()
    assert (expiring.status, expiring.expired_at) == ("expired", t0 + timedelta(minutes=10))
    immigration, customs, police = tasks_of(operation)
    assert (immigration.escalated_at, customs.escalated_at, police.escalated_at) == (
        t0 + timedelta(minutes=10),
        t0 + timedelta(minutes=15),
        None,
    )
    assert tally() == (2, 1, 2)
    assert len(mail.outbox) == 4  # sent on commit: 2 alert escalations, 2 overdue tasks

    # A restart over the same range finds nothing left to do.
    loop(t0, interval=60, sweeps=21)
    assert tally() == (2, 1, 2)
    assert len(mail.outbox) == 4

    # Carrying on, five minutes apart, to t0 + 2 h: the slow alert and the police task.
    loop(t0 + timedelta(minutes=20), interval=300, sweeps=21)
    assert escalated_at(slow) == dict.fromkeys(
        ["NA-AIR", "NA-CUS", "NA-POL"], t0 + timedelta(hours=1)
    )
    police.refresh_from_db()
    assert police.escalated_at == t0 + timedelta(minutes=90)
    assert tally() == (5, 1, 3)
    assert len(mail.outbox) == 8
    # And restarting over the whole range again changes nothing.
    loop(t0, interval=600, sweeps=13)
    assert tally() == (5, 1, 3)
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_four_loops_in_threads_escalate_each_item_once() -> None:
    seed()
    t0 = timezone.now().replace(microsecond=0)
    alerts = [issue(t0, title=f"Concurrent {i}") for i in range(4)]
    expiring = issue(t0, ack_required=False, expires_at=t0 + timedelta(minutes=20))
    operation = start_operation(t0, (("immigration", 5), ("customs", 5), ("police", 5)))
    mail.outbox.clear()
    now = t0 + timedelta(hours=1)

    results: list[SweepResult] = run_concurrently(lambda _: sweep(now), n=4)

    escalated = [pair for r in results for pair in r.alerts_escalated]
    assert sorted(escalated) == sorted(
        (a.pk, code) for a in alerts for code in ("NA-AIR", "NA-CUS", "NA-POL")
    )
    assert [i for r in results for i in r.alerts_expired] == [expiring.pk]
    assert sorted(i for r in results for i in r.tasks_escalated) == sorted(
        t.pk for t in tasks_of(operation)
    )
    assert tally() == (12, 1, 3)
    assert AlertTarget.objects.filter(escalated_at=now).count() == 12
    assert len(mail.outbox) == 15
    assert verify().ok
    # A third loop coming late finds everything claimed.
    assert sweep(now).total == 0


@pytest.mark.django_db  # run_forever closes stale connections before each sweep
def test_run_forever_survives_a_failing_sweep_and_stops_when_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[datetime] = []

    def flaky(now: datetime | None = None, *, on_claimed: Any = None) -> SweepResult:
        assert now is not None
        calls.append(now)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return SweepResult(alerts_expired=[len(calls)])

    monkeypatch.setattr(runner, "sweep", flaky)
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.get_fixed_timezone(0)))
    beats: list[int] = []
    ran = run_forever(
        interval=15,
        clock=clock,
        sleep=clock.sleep,
        should_stop=lambda: len(calls) >= 4,
        on_swept=lambda: beats.append(len(calls)),
    )
    assert ran == 4
    assert len(calls) == 4, "the failure did not stop the loop"
    assert beats == [1, 3, 4], "a heartbeat after every completed sweep, none after the failure"
    assert clock.slept == [15, 15, 15]
    assert calls[-1] - calls[0] == timedelta(seconds=45)


# --- re-notification by e-mail ----------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_escalation_emails_duty_officers_and_coordinators_serving_the_point(
    t0: datetime, django_capture_on_commit_callbacks: Any
) -> None:
    wdh = CrossingPoint.objects.get(code="WDH")
    # NA-CUS's coordinator no longer serves WDH; NA-POL's duty officer left.
    Membership.objects.get(user__username="na-cus.coord").crossing_points.remove(wdh)
    User.objects.filter(username="na-pol.duty").update(is_active=False)
    alert = issue(t0, title="Drone over the runway")
    due = t0 + window("critical")

    sweep(due - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep(due)
    assert len(result.alerts_escalated) == 3
    sent = {tuple(m.to): m for m in mail.outbox}
    assert sorted(sent) == [
        (f"na-air.coord{DEMO_MAIL}", f"na-air.duty{DEMO_MAIL}"),
        (f"na-cus.duty{DEMO_MAIL}",),
        (f"na-pol.coord{DEMO_MAIL}",),
    ]
    for recipients, message in sent.items():
        assert message.subject == f"Unacknowledged alert at WDH: {alert.title}"
        assert message.from_email == settings.DEFAULT_FROM_EMAIL
        agency = recipients[0].split(".")[0].upper()
        assert f"{agency} has not acknowledged alert {alert.pk} (critical)" in message.body
        assert not any(".senior" in r or ".admin" in r for r in message.to)
    notified = {e.payload["agency"]: e.payload["notified"] for e in events("alert.escalated")}
    assert notified == {
        "NA-AIR": ["na-air.coord", "na-air.duty"],
        "NA-CUS": ["na-cus.duty"],
        "NA-POL": ["na-pol.coord"],
    }
    # Later sweeps send nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        sweep(due + timedelta(hours=1))
    assert len(mail.outbox) == 3


@pytest.mark.usefixtures("demo")
def test_email_is_sent_only_after_commit_and_marks_exercises(
    t0: datetime, django_capture_on_commit_callbacks: Any
) -> None:
    alert = issue(t0, is_exercise=True, targets=["NA-AIR"], title="Tabletop: fuel spill")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sweep(t0 + window("critical"))
    assert mail.outbox == []  # nothing before the transaction commits
    for callback in callbacks:
        callback()
    [message] = mail.outbox
    assert message.subject == f"[EXERCISE] Unacknowledged alert at WDH: {alert.title}"
    [event] = events("alert.escalated")
    assert event.payload["exercise"] is True


@pytest.mark.usefixtures("demo")
def test_overdue_task_emails_the_agency_and_the_assignees(
    t0: datetime, django_capture_on_commit_callbacks: Any
) -> None:
    operation = start_operation(t0, (("customs", 10),))
    [task] = tasks_of(operation)
    ops.task_assign(
        actor=officer("na-imm.coord"),
        ref=operation.ref,
        task_id=task.pk,
        assignees=["na-cus.senior"],
        now=t0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(t0 + timedelta(minutes=10)).tasks_escalated == [task.pk]
    [message] = mail.outbox
    assert message.subject == f"Overdue task in {operation.ref}: {task.title}"
    assert sorted(message.to) == [
        f"na-cus.coord{DEMO_MAIL}",
        f"na-cus.duty{DEMO_MAIL}",
        f"na-cus.senior{DEMO_MAIL}",
    ]
    [event] = events("task.overdue")
    assert event.payload["notified"] == ["na-cus.coord", "na-cus.duty", "na-cus.senior"]


# --- manage.py run_escalations --once -------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_run_escalations_once_sweeps_and_prints_its_summary() -> None:
    real_now = timezone.now().replace(microsecond=0)
    overdue = issue(real_now - timedelta(hours=1))
    lapsed = issue(
        real_now - timedelta(hours=2),
        severity="low",
        expires_at=real_now - timedelta(hours=1),
    )
    operation = start_operation(real_now - timedelta(hours=1), (("immigration", 5), ("police", 10)))
    out = io.StringIO()
    call_command("run_escalations", "--once", stdout=out)
    assert out.getvalue().strip() == (
        "escalated 3 alert acknowledgements, expired 1 alerts, escalated 2 tasks, "
        "reminded 0 situation reports, signed 1 checkpoints"
    )
    assert all(at is not None for at in escalated_at(overdue).values())
    lapsed.refresh_from_db()
    assert lapsed.status == AlertStatus.EXPIRED
    assert all(t.escalated_at is not None for t in tasks_of(operation))
    assert tally() == (3, 1, 2)
    again = io.StringIO()
    call_command("run_escalations", "--once", stdout=again)
    assert again.getvalue().strip() == (
        "escalated 0 alert acknowledgements, expired 0 alerts, escalated 0 tasks, "
        "reminded 0 situation reports, signed 0 checkpoints"
    )
    assert tally() == (3, 1, 2)


# --- one failing item does not hold up the others -------------------------------------------


@pytest.mark.usefixtures("demo")
def test_an_item_that_keeps_failing_does_not_stop_the_others(
    t0: datetime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """NA-CUS's targets and NA-CUS's task fail (notification lookup raises): everything
    else escalates exactly once; the failures are logged with their ids, written
    nothing, and escalate once the fault is gone."""
    first, second = issue(t0, title="Bag at gate 1"), issue(t0, title="Bag at gate 2")
    operation = start_operation(t0, (("immigration", 1), ("customs", 1), ("police", 1)))
    immigration, customs, police = tasks_of(operation)
    cus = Agency.objects.get(code="NA-CUS").pk
    real_alert_lookup, real_task_lookup = services.officers_to_notify, ops.officers_to_notify

    def broken(lookup: Callable[[int, int], list[User]]) -> Callable[[int, int], list[User]]:
        def officers(agency_id: int, crossing_point_id: int) -> list[User]:
            if agency_id == cus:
                raise RuntimeError("directory lookup failed")
            return lookup(agency_id, crossing_point_id)

        return officers

    monkeypatch.setattr(services, "officers_to_notify", broken(real_alert_lookup))
    monkeypatch.setattr(ops, "officers_to_notify", broken(real_task_lookup))
    due = t0 + window("critical")
    cus_targets = sorted(
        AlertTarget.objects.filter(agency_id=cus, alert__in=[first, second]).values_list(
            "pk", flat=True
        )
    )
    with caplog.at_level(logging.ERROR):
        result = sweep(due)
    assert sorted(result.alerts_escalated) == sorted(
        (a.pk, code) for a in (first, second) for code in ("NA-AIR", "NA-POL")
    )
    assert result.tasks_escalated == [immigration.pk, police.pk]
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [
        *(f"escalation of alert target {pk} failed; it is retried on the next sweep"
          for pk in cus_targets),
        f"escalation of task {customs.pk} failed; it is retried on the next sweep",
    ]  # fmt: skip
    assert all(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
    # The failed items wrote nothing and are still due.
    assert tally() == (4, 0, 2)
    assert set(escalated_at(first).values()) == {due, None}
    assert escalated_at(first)["NA-CUS"] is None
    customs.refresh_from_db()
    assert customs.escalated_at is None

    # Every sweep retries them; the others never escalate again.
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert sweep(due + timedelta(minutes=1)).total == 0
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 3
    assert tally() == (4, 0, 2)

    # Fixed: each failed item escalates, once.
    monkeypatch.setattr(services, "officers_to_notify", real_alert_lookup)
    monkeypatch.setattr(ops, "officers_to_notify", real_task_lookup)
    later = due + timedelta(minutes=2)
    result = sweep(later)
    assert sorted(result.alerts_escalated) == [(first.pk, "NA-CUS"), (second.pk, "NA-CUS")]
    assert result.tasks_escalated == [customs.pk]
    assert sweep(later + timedelta(hours=1)).total == 0
    assert tally() == (6, 0, 3)
    escalated = events("alert.escalated")
    assert len({(e.payload["alert_id"], e.payload["agency"]) for e in escalated}) == 6
    assert sorted(e.payload["task_id"] for e in events("task.overdue")) == sorted(
        t.pk for t in (immigration, customs, police)
    )
    assert verify().ok


@pytest.mark.usefixtures("demo")
def test_a_failing_phase_does_not_stop_the_other_phases(
    t0: datetime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    issue(t0)
    operation = start_operation(t0, (("immigration", 1),))

    def down(**kwargs: Any) -> list[tuple[int, str]]:
        raise RuntimeError("listing query failed")

    monkeypatch.setattr(alert_escalation, "alerts_escalate_due", down)
    with caplog.at_level(logging.ERROR):
        result = sweep(t0 + timedelta(hours=1))
    assert (result.alerts_escalated, result.tasks_escalated) == ([], [tasks_of(operation)[0].pk])
    assert "escalation phase alerts_escalate_due failed" in caplog.text
    assert tally() == (0, 0, 1)


@pytest.mark.usefixtures("demo")
def test_an_overdue_task_nobody_owns_goes_to_the_lead_agencys_coordinators(
    t0: datetime, django_capture_on_commit_callbacks: Any
) -> None:
    """No agency of kind ``other`` at WDH and no assignees: NA-IMM (the lead) coordinates."""
    operation = start_operation(t0, (("other", 10),))
    [task] = tasks_of(operation)
    assert task.assigned_agency is None
    assert not task.assignees.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(t0 + timedelta(minutes=10)).tasks_escalated == [task.pk]
    [event] = events("task.overdue")
    assert event.payload["agency"] is None
    assert event.payload["notified"] == ["na-imm.coord"]
    [message] = mail.outbox
    assert message.to == [f"na-imm.coord{DEMO_MAIL}"]
    assert message.subject == f"Overdue task in {operation.ref}: {task.title}"


@pytest.mark.usefixtures("demo")
def test_an_overdue_task_with_assignees_only_goes_to_them(t0: datetime) -> None:
    operation = start_operation(t0, (("other", 10),))
    [task] = tasks_of(operation)
    ops.task_assign(
        actor=officer("na-imm.coord"),
        ref=operation.ref,
        task_id=task.pk,
        assignees=["na-pol.duty"],
        now=t0,
    )
    sweep(t0 + timedelta(minutes=10))
    [event] = events("task.overdue")
    assert event.payload["notified"] == ["na-pol.duty"]


# --- the real command, killed in the middle of a claim and restarted -------------------------


ROOT = Path(__file__).resolve().parents[2]


class EscalationProcess:
    """``manage.py run_escalations`` in a subprocess, on a file clock and claim gate."""

    def __init__(self, control: Path, log: Path) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "hub.settings_test",
            "HUB_ENV": "test",
            "DEBUG": "false",
            "DATABASE_URL": database_url_for(connection.settings_dict),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("REDIS_URL", None)
        self.control = control
        self.log = log
        self.output = log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_escalations",
                "--interval",
                "0.05",
                "--test-control",
                str(control),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    def wait_until(self, done: Callable[[], bool], what: str, timeout: float = 90) -> None:
        """Poll until ``done``; fails (with the log) if the process dies or it never happens."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None:
                pytest.fail(f"run_escalations exited ({self.process.returncode}): {self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"waited too long for {what}: {self.text()}")
            time.sleep(0.02)

    def sweeps(self) -> int:
        path = self.control / "sweeps"
        return int(path.read_text()) if path.exists() else 0

    def text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.output.close()


def escalated_items() -> tuple[int, int]:
    return (
        AlertTarget.objects.filter(escalated_at__isnull=False).count(),
        Task.objects.filter(escalated_at__isnull=False).count(),
    )


@pytest.mark.django_db(transaction=True)
def test_run_escalations_killed_mid_claim_and_restarted_escalates_each_item_once(
    tmp_path: Path,
) -> None:
    seed()
    t0 = timezone.now().replace(microsecond=0)
    alerts = [issue(t0, title=f"Unattended bag {i}") for i in range(3)]  # 9 targets
    operation = start_operation(t0, (("immigration", 10), ("customs", 15), ("police", 20)))
    at = t0 + timedelta(hours=1)  # everything is due
    first_control, second_control = tmp_path / "first", tmp_path / "second"
    for control in (first_control, second_control):
        control.mkdir()
        (control / "now").write_text(at.isoformat())

    # The first loop: claims 1-4 commit one by one; claim 5 is open when it is killed.
    first = EscalationProcess(first_control, tmp_path / "first.log")
    try:
        for n in range(1, 5):
            first.wait_until((first_control / f"claimed-{n}").exists, f"claim {n}")
            (first_control / f"go-{n}").touch()
        first.wait_until((first_control / "claimed-5").exists, "claim 5")
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(timeout=30) == -signal.SIGKILL
    finally:
        first.close()
    open_claim = (first_control / "claimed-5").read_text()
    assert open_claim.startswith("alert-target:")
    killed_target = AlertTarget.objects.get(pk=int(open_claim.split(":")[1]))
    assert killed_target.escalated_at is None, "the open claim was rolled back"
    assert escalated_items() == (4, 0)
    assert tally() == (4, 0, 0)
    for n in range(1, 5):
        key = (first_control / f"claimed-{n}").read_text()
        target = AlertTarget.objects.get(pk=int(key.split(":")[1]))
        assert target.escalated_at == at

    # The restarted loop finishes the job, and sweeping on finds nothing twice.
    (second_control / "go-all").touch()
    second = EscalationProcess(second_control, tmp_path / "second.log")
    try:
        second.wait_until(lambda: escalated_items() == (9, 3), "every item escalated")
        swept = second.sweeps()
        second.wait_until(lambda: second.sweeps() >= swept + 2, "a full sweep after that")
        (second_control / "now").write_text((at + timedelta(days=1)).isoformat())
        swept = second.sweeps()
        second.wait_until(lambda: second.sweeps() >= swept + 2, "a sweep a day later")
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=30) == 0, second.text()
    finally:
        second.close()
    assert "escalation loop stopped after" in second.text()

    escalated = events("alert.escalated")
    pairs = sorted((e.payload["alert_id"], e.payload["agency"]) for e in escalated)
    assert pairs == sorted((a.pk, code) for a in alerts for code in ("NA-AIR", "NA-CUS", "NA-POL"))
    overdue = sorted(e.payload["task_id"] for e in events("task.overdue"))
    assert overdue == sorted(t.pk for t in tasks_of(operation))
    assert tally() == (9, 0, 3)
    killed_target.refresh_from_db()
    assert killed_target.escalated_at == at
    claims = sorted(p.name for p in second_control.glob("claimed-*"))
    assert len(claims) == 9 - 4 + 3  # the second loop claimed exactly what was left
    assert verify().ok


def test_test_control_is_refused_outside_the_test_environment(
    settings: Any, tmp_path: Path
) -> None:
    settings.HUB_ENV = "production"
    with pytest.raises(CommandError, match="test suite only"):
        call_command("run_escalations", "--once", "--test-control", str(tmp_path))
