"""Situation reports: the services, their REST API, and the reminder job.

The lead coordinator (``na-imm.coord``: NA-IMM reports and leads the incident, and
leads the operation started from the ``tip-screening`` SOP) posts reports and sets
the cadence; every emitted payload is validated against its pydantic model.
Reminders run through the job loop (``hub.jobs.runner.sweep``) against an explicit
clock, and through the real ``manage.py run_escalations`` in a subprocess, killed in
the middle of a claim and restarted: each due time is reminded exactly once.
Who may do what, cell by cell, is ``test_authorization_matrix_sitreps.py``.
"""

from __future__ import annotations

import json
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
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hub.errors import Conflict, Forbidden, IdempotencyConflict, InvalidInput, NotFound
from hub.events.audit import verify
from hub.events.bus import control_channel, parse_stream_message, stream_channel
from hub.events.models import Event
from hub.events.types import validate_payload
from hub.incidents import services as incidents
from hub.incidents.export import incident_export
from hub.incidents.models import Incident
from hub.jobs import sitrep_reminders
from hub.jobs.runner import sweep
from hub.operations import services as ops
from hub.operations.models import Operation
from hub.operations.sops import seed_templates
from hub.sitreps import services
from hub.sitreps.models import SitrepSubject, SituationReport
from hub.sitreps.services import next_due
from tests.factories import Api, officer, report, seed
from tests.processes import database_url_for

LEAD = "na-imm.coord"
DEMO_MAIL = "@demo.border-hub.example"


@pytest.fixture
def t0() -> datetime:
    return timezone.now().replace(microsecond=0)


def events(kind: str, stream: str | None = None) -> list[Event]:
    """Every event of a kind (on one stream), in the order written, each payload validated."""
    found = Event.objects.filter(kind=kind).select_related("stream", "actor_agency")
    if stream is not None:
        found = found.filter(stream__name=stream)
    result = list(found.order_by("id"))
    for event in result:
        validate_payload(event.kind, event.payload)
    return result


def post(
    ref: str,
    at: datetime | None = None,
    *,
    kind: str = "incident",
    username: str = LEAD,
    situation: str = "Two adults interviewed; one minor in care.",
    **fields: Any,
) -> services.SitrepResult:
    return services.sitrep_post(
        actor=officer(username),
        kind=kind,
        ref=ref,
        situation=situation,
        client_msg_id=fields.pop("client_msg_id", uuid.uuid4()),
        now=at,
        **fields,
    )


def cadence(
    ref: str, every: int | None, at: datetime, *, kind: str = "incident", username: str = LEAD
) -> services.CadenceResult:
    return services.sitrep_cadence_set(
        actor=officer(username), kind=kind, ref=ref, every_minutes=every, now=at
    )


def start_operation() -> Operation:
    seed_templates()
    return ops.operation_start(
        actor=officer(LEAD), crossing_point="WDH", template="tip-screening"
    ).operation


def when(value: str | None) -> datetime | None:
    """A time from a payload or a response (pydantic writes UTC as Z, the API as +00:00)."""
    return parse_datetime(value) if value is not None else None


def subject(stream: str) -> SitrepSubject:
    return SitrepSubject.objects.get(stream_name=stream)


# --- posting -------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_the_lead_coordinator_posts_numbered_reports_as_events_on_the_incident(
    t0: datetime,
) -> None:
    incident = report()
    first = post(
        incident.ref,
        t0,
        actions_taken="Passports seized.",
        next_steps="Interview with an interpreter.",
        needs=[{"agency": "NA-POL", "need": "An escort"}, {"agency": None, "need": "Shelter"}],
    )
    second = post(incident.ref, t0 + timedelta(minutes=30), situation="All three at the shelter.")

    assert (first.report.number, second.report.number) == (1, 2)
    assert first.duplicate is second.duplicate is False
    posted = events("sitrep.posted")
    assert [e.stream.name for e in posted] == [incident.stream_name] * 2
    event = posted[0]
    assert event.seq == first.seq == first.report.seq
    assert event.actor_id == officer(LEAD).pk
    assert event.actor_agency is not None
    assert event.actor_agency.code == "NA-IMM"
    assert event.at == t0
    assert event.payload == {
        "ref": incident.ref,
        "number": 1,
        "situation": "Two adults interviewed; one minor in care.",
        "actions_taken": "Passports seized.",
        "next_steps": "Interview with an interpreter.",
        "needs": [{"agency": "NA-POL", "need": "An escort"}, {"agency": None, "need": "Shelter"}],
        "every_minutes": None,
        "due_at": None,
    }
    row = SituationReport.objects.get(pk=first.report.pk)
    assert (row.agency.code, row.author.username, row.posted_at) == ("NA-IMM", LEAD, t0)
    assert row.needs == event.payload["needs"]
    state = subject(incident.stream_name)
    assert (state.reports, state.last_report_at) == (2, t0 + timedelta(minutes=30))
    assert (state.every_minutes, state.due_at) == (None, None)
    assert verify().ok


@pytest.mark.usefixtures("demo")
def test_a_repeated_client_msg_id_returns_the_original_and_another_body_is_refused(
    t0: datetime,
) -> None:
    incident = report()
    cmid = uuid.uuid4()
    first = post(incident.ref, t0, client_msg_id=cmid)
    again = post(incident.ref, t0 + timedelta(minutes=1), client_msg_id=cmid)
    assert again.duplicate is True
    assert (again.report.pk, again.seq, again.stream) == (
        first.report.pk,
        first.seq,
        incident.stream_name,
    )
    assert len(events("sitrep.posted")) == 1
    with pytest.raises(IdempotencyConflict) as refused:
        post(incident.ref, t0, client_msg_id=cmid, situation="Something else entirely.")
    assert refused.value.code == "client_msg_id_reused"
    assert SituationReport.objects.count() == 1


@pytest.mark.usefixtures("demo")
def test_only_the_lead_agencys_coordinators_post_and_the_lead_can_change(t0: datetime) -> None:
    incident = report()
    incidents.incident_invite_agency(actor=officer(LEAD), ref=incident.ref, agency="NA-CUS")
    for username in ("na-imm.duty", "na-imm.senior", "na-cus.coord"):
        with pytest.raises(Forbidden, match="Only coordinators of the lead agency"):
            post(incident.ref, t0, username=username)
    with pytest.raises(NotFound):
        post(incident.ref, t0, username="na-pol.coord")  # not a participant: cannot see it
    with pytest.raises(NotFound):
        post("WDH-2026-9999", t0)
    incidents.incident_set_lead(actor=officer(LEAD), ref=incident.ref, agency="NA-CUS")
    with pytest.raises(Forbidden):
        post(incident.ref, t0, username=LEAD)
    done = post(incident.ref, t0, username="na-cus.coord")
    assert done.report.agency.code == "NA-CUS"
    assert SituationReport.objects.count() == 1


@pytest.mark.usefixtures("demo")
def test_bad_reports_and_cadences_are_refused_and_write_nothing(t0: datetime) -> None:
    incident = report()
    before = Event.objects.count()
    bad_posts: list[dict[str, Any]] = [
        {"situation": "   "},
        {"situation": "x" * 5_001},
        {"situation": "ok", "next_steps": "y" * 5_001},
        {"situation": "bad \x07 bell"},
        {"situation": "ok", "needs": [{"agency": "NA-XXX", "need": "Anything"}]},
        {"situation": "ok", "needs": [{"agency": "NA-POL", "need": ""}]},
        {"situation": "ok", "needs": [{"agency": "NA-POL", "need": "x", "when": "now"}]},
        {"situation": "ok", "needs": [{"agency": "NA-POL", "need": "x"}] * 21},
    ]
    for fields in bad_posts:
        with pytest.raises(InvalidInput):
            post(incident.ref, t0, **fields)
    for every in (4, 1441, 0, -5, True, "60"):
        with pytest.raises(InvalidInput, match="every_minutes"):
            cadence(incident.ref, every, t0)  # type: ignore[arg-type]
    with pytest.raises(Conflict) as clearing:
        cadence(incident.ref, None, t0)
    assert clearing.value.code == "no_cadence"
    with pytest.raises(NotFound):
        services.sitrep_post(
            actor=officer(LEAD),
            kind="message",
            ref=incident.ref,
            situation="x",
            client_msg_id=uuid.uuid4(),
        )
    assert Event.objects.count() == before
    assert not SituationReport.objects.exists()
    assert not SitrepSubject.objects.exists()


@pytest.mark.usefixtures("demo")
def test_closed_incidents_and_operations_take_no_reports(t0: datetime) -> None:
    incident = report()
    for to, reason in (("active", ""), ("resolved", "Referred"), ("closed", "Filed")):
        incidents.incident_transition(
            actor=officer(LEAD), ref=incident.ref, to_status=to, reason=reason
        )
    with pytest.raises(Conflict) as refused:
        post(incident.ref, t0)
    assert refused.value.code == "incident_closed"
    operation = start_operation()
    ops.operation_close(actor=officer(LEAD), ref=operation.ref, note="Done")
    with pytest.raises(Conflict) as closed:
        cadence(operation.ref, 30, t0, kind="operation")
    assert closed.value.code == "operation_closed"
    assert not events("sitrep.posted")
    assert not events("sitrep.cadence_set")


@pytest.mark.usefixtures("demo")
def test_incident_boards_hear_of_reports_cadences_and_reminders_after_commit(
    t0: datetime, published: list[tuple[str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    """An incident notice on crossing:WDH (delivered to the incident's readers only), so a
    board refreshes its "reports due"; an operation's changes are on its own stream."""
    incident = report()
    operation = start_operation()
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        seqs = [cadence(incident.ref, 30, t0).seq, post(incident.ref, t0).seq]
        cadence(operation.ref, 30, t0, kind="operation")
    with django_capture_on_commit_callbacks(execute=True):
        sweep(t0 + timedelta(hours=1))
    [overdue] = events("sitrep.overdue", incident.stream_name)
    seqs.append(overdue.seq)
    notices = []
    for channel, message in published:
        header, body = parse_stream_message(message)
        if header == "N":
            assert channel == stream_channel("crossing:WDH")
            notices.append(json.loads(body))
    assert [(n["kind"], n["ref"], n["seq"]) for n in notices] == [
        ("incident", incident.ref, seq) for seq in seqs
    ]


# --- the cadence ---------------------------------------------------------------------------


def test_the_next_report_is_due_after_the_last_one_but_a_cadence_is_never_born_overdue() -> None:
    at = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.get_fixed_timezone(0))
    hour = timedelta(hours=1)
    assert next_due(every_minutes=60, set_at=at, last_report_at=None) == at + hour
    recent = at - timedelta(minutes=10)
    assert next_due(every_minutes=60, set_at=at, last_report_at=recent) == recent + hour
    old = at - timedelta(hours=3)
    assert next_due(every_minutes=60, set_at=at, last_report_at=old) == at + hour
    assert next_due(every_minutes=60, set_at=at, last_report_at=at - hour) == at + hour


@pytest.mark.usefixtures("demo")
def test_setting_and_clearing_the_cadence_are_events_and_reports_move_the_due_time(
    t0: datetime,
) -> None:
    incident = report()
    set_ = cadence(incident.ref, 60, t0)
    assert set_.subject.due_at == t0 + timedelta(hours=1)
    post(incident.ref, t0 + timedelta(minutes=20))
    state = subject(incident.stream_name)
    assert state.due_at == t0 + timedelta(minutes=80)
    cadence(incident.ref, 15, t0 + timedelta(minutes=25))
    assert subject(incident.stream_name).due_at == t0 + timedelta(minutes=35)
    cadence(incident.ref, None, t0 + timedelta(minutes=26))
    cleared = subject(incident.stream_name)
    assert (cleared.every_minutes, cleared.due_at, cleared.reports) == (None, None, 1)

    changes = [
        (e.payload["every_minutes"], when(e.payload["due_at"]))
        for e in events("sitrep.cadence_set")
    ]
    assert changes == [
        (60, t0 + timedelta(hours=1)),
        (15, t0 + timedelta(minutes=35)),
        (None, None),
    ]
    [posted] = events("sitrep.posted")
    assert posted.payload["every_minutes"] == 60
    assert parse_datetime(posted.payload["due_at"]) == t0 + timedelta(minutes=80)
    assert {e.stream.name for e in events("sitrep.cadence_set")} == {incident.stream_name}


# --- reminders (the job) -----------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_an_overdue_report_reminds_the_lead_coordinators_once_per_due_time(
    t0: datetime, django_capture_on_commit_callbacks: Any
) -> None:
    incident = report()
    cadence(incident.ref, 30, t0)
    due = t0 + timedelta(minutes=30)
    for at in (t0, due - timedelta(seconds=1)):
        assert sweep(at).sitreps_reminded == []
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep(due + timedelta(seconds=5))
    assert result.sitreps_reminded == [incident.stream_name]
    assert result.total == 1
    [event] = events("sitrep.overdue")
    assert event.stream.name == incident.stream_name
    assert (event.actor, event.actor_agency, event.at) == (None, None, due + timedelta(seconds=5))
    assert {**event.payload, "due_at": when(event.payload["due_at"])} == {
        "ref": incident.ref,
        "due_at": due,
        "agency": "NA-IMM",
        "notified": ["na-imm.coord"],
    }
    [message] = mail.outbox
    assert message.to == [f"na-imm.coord{DEMO_MAIL}"]
    assert message.subject == f"Situation report due on {incident.ref}: {incident.title}"
    assert "one every 30 minutes" in message.body
    assert subject(incident.stream_name).reminded_at == due + timedelta(seconds=5)

    # Nothing more for this due time, however late it gets.
    for later in (due + timedelta(minutes=1), due + timedelta(days=2)):
        assert sweep(later).total == 0
    # A report sets the next due time, which is reminded once in its turn.
    post(incident.ref, due + timedelta(minutes=2))
    assert subject(incident.stream_name).reminded_at is None
    assert sweep(due + timedelta(minutes=31)).total == 0
    assert sweep(due + timedelta(minutes=32)).sitreps_reminded == [incident.stream_name]
    assert sweep(due + timedelta(minutes=40)).total == 0
    assert [when(e.payload["due_at"]) for e in events("sitrep.overdue")] == [
        due,
        due + timedelta(minutes=32),
    ]
    # (Outside the capture block, on_commit callbacks wait for a commit that never comes.)
    assert len(mail.outbox) == 1
    assert verify().ok


@pytest.mark.usefixtures("demo")
def test_operations_are_reminded_too_and_the_current_lead_is_who_hears(t0: datetime) -> None:
    operation = start_operation()
    cadence(operation.ref, 60, t0, kind="operation")
    incident = report()
    cadence(incident.ref, 45, t0)
    incidents.incident_invite_agency(actor=officer(LEAD), ref=incident.ref, agency="NA-CUS")
    incidents.incident_set_lead(actor=officer(LEAD), ref=incident.ref, agency="NA-CUS")
    result = sweep(t0 + timedelta(hours=2))
    assert result.sitreps_reminded == [incident.stream_name, operation.stream_name]
    by_stream = {e.stream.name: e.payload for e in events("sitrep.overdue")}
    assert by_stream[operation.stream_name]["agency"] == "NA-IMM"
    assert by_stream[operation.stream_name]["notified"] == ["na-imm.coord"]
    assert by_stream[incident.stream_name]["agency"] == "NA-CUS"
    assert by_stream[incident.stream_name]["notified"] == ["na-cus.coord"]


@pytest.mark.usefixtures("demo")
def test_resolved_incidents_and_closed_operations_are_not_reminded(t0: datetime) -> None:
    incident = report()
    cadence(incident.ref, 10, t0)
    operation = start_operation()
    cadence(operation.ref, 10, t0, kind="operation")
    incidents.incident_transition(
        actor=officer(LEAD), ref=incident.ref, to_status="resolved", reason="Referred"
    )
    ops.operation_close(actor=officer(LEAD), ref=operation.ref, note="Done")
    assert sweep(t0 + timedelta(hours=1)).total == 0
    assert not events("sitrep.overdue")
    assert list(sitrep_reminders.due(t0 + timedelta(hours=1))) == []


class HookedTransaction:
    """Stands in for ``django.db.transaction`` in the services module: runs ``hook`` once,
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
def test_a_report_posted_after_the_listing_is_not_reminded(
    t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = report()
    cadence(incident.ref, 30, t0)
    at = t0 + timedelta(minutes=31)

    def report_meanwhile() -> None:
        post(incident.ref, at - timedelta(seconds=10))

    hooked = HookedTransaction(report_meanwhile)
    monkeypatch.setattr(services, "transaction", hooked)
    assert sitrep_reminders.sitreps_remind_due(now=at) == []
    assert hooked.hook is None, "the hook ran"
    assert not events("sitrep.overdue")
    assert subject(incident.stream_name).due_at == at - timedelta(seconds=10) + timedelta(
        minutes=30
    )


@pytest.mark.django_db(transaction=True)
def test_four_loops_in_threads_remind_each_subject_once() -> None:
    seed()
    t0 = timezone.now().replace(microsecond=0)
    refs = [report(title=f"Case {i}").ref for i in range(3)]
    for ref in refs:
        cadence(ref, 5, t0)
    now = t0 + timedelta(minutes=10)
    barrier = threading.Barrier(4)

    def loop(_: int) -> list[str]:
        try:
            barrier.wait(timeout=30)
            return sweep(now).sitreps_reminded
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(loop, range(4)))
    assert sorted(s for r in results for s in r) == sorted(f"incident:{ref}" for ref in refs)
    assert len(events("sitrep.overdue")) == 3
    assert sweep(now).total == 0
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_busy_incident_is_passed_over_not_waited_for_and_reminded_next_sweep() -> None:
    """SKIP LOCKED: while a writer holds the incident's row, the claim skips it (a loop
    that waited would remind as soon as the writer let go, inside this sweep)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (runs in the PostgreSQL pass)")
    seed()
    t0 = timezone.now().replace(microsecond=0)
    incident = report()
    cadence(incident.ref, 5, t0)
    locked, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                Incident.objects.select_for_update().get(pk=incident.pk)
                locked.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    holder = threading.Thread(target=writer)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        assert sweep(t0 + timedelta(minutes=10)).sitreps_reminded == []
        assert holder.is_alive(), "the writer still held the row during the sweep"
    finally:
        release.set()
        holder.join(timeout=30)
    assert not events("sitrep.overdue")
    assert sweep(t0 + timedelta(minutes=11)).sitreps_reminded == [incident.stream_name]


# --- the real loop, killed in the middle of a claim and restarted -----------------------

ROOT = Path(__file__).resolve().parents[2]


class LoopProcess:
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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_escalations_killed_mid_reminder_and_restarted_reminds_each_due_time_once(
    tmp_path: Path,
) -> None:
    seed()
    t0 = timezone.now().replace(microsecond=0)
    refs = [report(title=f"Case {i}").ref for i in range(3)]
    for i, ref in enumerate(refs):
        cadence(ref, 10 + i, t0)
    at = t0 + timedelta(hours=1)  # all three are overdue
    first_control, second_control = tmp_path / "first", tmp_path / "second"
    for control in (first_control, second_control):
        control.mkdir()
        (control / "now").write_text(at.isoformat())

    # The first loop: claim 1 commits; claim 2 is open when the loop is killed.
    first = LoopProcess(first_control, tmp_path / "first.log")
    try:
        first.wait_until((first_control / "claimed-1").exists, "claim 1")
        (first_control / "go-1").touch()
        first.wait_until((first_control / "claimed-2").exists, "claim 2")
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(timeout=30) == -signal.SIGKILL
    finally:
        first.close()
    committed = (first_control / "claimed-1").read_text()
    killed = (first_control / "claimed-2").read_text()
    assert committed.startswith("sitrep:")
    assert killed.startswith("sitrep:")
    assert SitrepSubject.objects.get(pk=int(committed.split(":")[1])).reminded_at == at
    assert SitrepSubject.objects.get(pk=int(killed.split(":")[1])).reminded_at is None, (
        "the open claim was rolled back"
    )
    assert len(events("sitrep.overdue")) == 1

    # The restarted loop reminds what was left, once; sweeping on (a day later) adds nothing.
    (second_control / "go-all").touch()
    second = LoopProcess(second_control, tmp_path / "second.log")
    try:
        second.wait_until(
            lambda: SitrepSubject.objects.filter(reminded_at__isnull=False).count() == 3,
            "every subject reminded",
        )
        swept = second.sweeps()
        second.wait_until(lambda: second.sweeps() >= swept + 2, "a full sweep after that")
        (second_control / "now").write_text((at + timedelta(days=1)).isoformat())
        swept = second.sweeps()
        second.wait_until(lambda: second.sweeps() >= swept + 2, "a sweep a day later")
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=30) == 0, second.text()
    finally:
        second.close()

    reminded = events("sitrep.overdue")
    assert sorted(e.stream.name for e in reminded) == sorted(f"incident:{ref}" for ref in refs)
    assert len(list(second_control.glob("claimed-*"))) == 2  # exactly what was left
    assert all(e.payload["notified"] == ["na-imm.coord"] for e in reminded)
    assert verify().ok


# --- REST --------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_rest_post_repeat_and_reuse_of_a_client_msg_id() -> None:
    incident = report()
    api = Api(LEAD)
    body = {
        "situation": "Vessel boarded; 14 people aboard.",
        "actions_taken": "Medical check started.",
        "needs": [{"agency": "NA-POL", "need": "Two officers at the quay"}, {"need": "Blankets"}],
        "client_msg_id": str(uuid.uuid4()),
    }
    url = f"/api/v1/incidents/{incident.ref}/sitreps"
    created = api.post(url, body)
    assert created.status_code == 201, created.content
    answer = created.json()
    assert answer["duplicate"] is False
    assert answer["stream"] == incident.stream_name
    assert answer["report"]["number"] == 1
    assert answer["report"]["needs"] == [
        {"agency": "NA-POL", "need": "Two officers at the quay"},
        {"agency": None, "need": "Blankets"},
    ]
    assert answer["report"]["author"]["username"] == LEAD
    assert answer["report"]["agency"] == "NA-IMM"
    assert answer["report"]["next_steps"] == ""
    assert answer["sitrep"]["reports"] == 1
    assert answer["sitrep"]["latest"] == answer["report"]
    assert (answer["sitrep"]["every_minutes"], answer["sitrep"]["overdue"]) == (None, False)

    repeated = api.post(url, body)
    assert repeated.status_code == 200
    assert repeated.json()["duplicate"] is True
    assert repeated.json()["report"] == answer["report"]
    reused = api.post(url, {**body, "situation": "Different"})
    assert reused.status_code == 409
    assert reused.json()["code"] == "client_msg_id_reused"
    assert SituationReport.objects.count() == 1


@pytest.mark.usefixtures("demo")
def test_rest_bad_input_is_422_with_field_errors_and_refusals_are_403_or_404() -> None:
    incident = report()
    api = Api(LEAD)
    url = f"/api/v1/incidents/{incident.ref}/sitreps"
    cmid = str(uuid.uuid4())
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"client_msg_id": cmid}, ["body", "payload", "situation"]),
        ({"situation": "", "client_msg_id": cmid}, ["body", "payload", "situation"]),
        ({"situation": "x" * 5_001, "client_msg_id": cmid}, ["body", "payload", "situation"]),
        ({"situation": "ok"}, ["body", "payload", "client_msg_id"]),
        ({"situation": "ok", "client_msg_id": cmid, "extra": 1}, ["body", "payload", "extra"]),
        (
            {"situation": "ok", "client_msg_id": cmid, "needs": [{"agency": "NA-POL"}]},
            ["body", "payload", "needs", "0", "need"],
        ),
        (
            {"situation": "ok", "client_msg_id": cmid, "needs": [{"need": "x" * 501}]},
            ["body", "payload", "needs", "0", "need"],
        ),
        (
            {"situation": "ok", "client_msg_id": cmid, "needs": [{"need": "x"}] * 21},
            ["body", "payload", "needs"],
        ),
    ]
    for body, loc in cases:
        response = api.post(url, body)
        assert response.status_code == 422, (body, response.content)
        answer = response.json()
        assert answer["code"] == "invalid_request"
        assert loc in [e["loc"] for e in answer["errors"]], answer
    unknown = api.post(
        url, {"situation": "ok", "client_msg_id": cmid, "needs": [{"agency": "XX", "need": "y"}]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "invalid_request"
    assert "needs[0].agency" in unknown.json()["detail"]
    cadence_url = f"/api/v1/incidents/{incident.ref}/sitrep-cadence"
    for bad in ({"every_minutes": 4}, {"every_minutes": 1441}, {"every_minutes": "60"}, {}):
        response = api.put(cadence_url, bad)
        assert response.status_code == 422, (bad, response.content)
        assert ["body", "payload", "every_minutes"] in [e["loc"] for e in response.json()["errors"]]

    forbidden = Api("na-imm.duty").post(url, {"situation": "ok", "client_msg_id": cmid})
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "code": "forbidden",
        "detail": "Only coordinators of the lead agency post situation reports.",
    }
    hidden = Api("na-pol.coord").put(cadence_url, {"every_minutes": 30})
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "not_found"
    assert Api("na-pol.coord").get(url).status_code == 404
    assert api.get("/api/v1/incidents/WDH-2026-9999/sitreps").status_code == 404
    assert not Event.objects.filter(kind__startswith="sitrep.").exists()


@pytest.mark.usefixtures("demo")
def test_the_incident_pins_the_latest_report_and_shows_the_cadence() -> None:
    incident = report()
    api = Api(LEAD)
    url = f"/api/v1/incidents/{incident.ref}"
    assert api.get(url).json()["sitrep"] is None
    set_ = api.put(f"{url}/sitrep-cadence", {"every_minutes": 60})
    assert set_.status_code == 200, set_.content
    state = set_.json()["sitrep"]
    assert (state["every_minutes"], state["reports"], state["latest"]) == (60, 0, None)
    assert state["overdue"] is False
    for n in range(3):
        api.post(
            f"{url}/sitreps", {"situation": f"Update {n + 1}", "client_msg_id": str(uuid.uuid4())}
        )
    detail = api.get(url).json()
    assert detail["sitrep"]["reports"] == 3
    assert detail["sitrep"]["latest"]["situation"] == "Update 3"
    assert detail["sitrep"]["latest"]["number"] == 3
    due = parse_datetime(detail["sitrep"]["due_at"])
    latest_at = parse_datetime(detail["sitrep"]["latest"]["posted_at"])
    assert due is not None
    assert latest_at is not None
    assert due == latest_at + timedelta(minutes=60)
    listed = api.get("/api/v1/incidents", {"crossing_point": "WDH"}).json()["items"]
    assert next(i for i in listed if i["ref"] == incident.ref)["sitrep"] == detail["sitrep"]
    # Write responses carry it too.
    patched = api.patch(url, {"severity": "high"})
    assert patched.json()["sitrep"] == detail["sitrep"]

    # Overdue once the due time has passed (moved into the past here).
    SitrepSubject.objects.filter(stream_name=incident.stream_name).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    assert api.get(url).json()["sitrep"]["overdue"] is True
    # The list: newest first, in pages.
    page = api.get(f"{url}/sitreps", {"limit": 2}).json()
    assert [r["number"] for r in page["items"]] == [3, 2]
    assert page["next_before"] == 2
    assert page["stream"] == incident.stream_name
    assert page["sitrep"]["reports"] == 3
    older = api.get(f"{url}/sitreps", {"limit": 2, "before": 2}).json()
    assert ([r["number"] for r in older["items"]], older["next_before"]) == ([1], None)


@pytest.mark.usefixtures("demo")
def test_the_operation_detail_and_list_show_its_reports() -> None:
    operation = start_operation()
    api = Api(LEAD)
    url = f"/api/v1/operations/{operation.ref}"
    assert api.get(url).json()["sitrep"] is None
    created = api.post(
        f"{url}/sitreps",
        {"situation": "Screening at gate 3.", "client_msg_id": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.content
    assert created.json()["stream"] == operation.stream_name
    cadence_set = api.put(f"{url}/sitrep-cadence", {"every_minutes": 120})
    assert cadence_set.json()["sitrep"]["every_minutes"] == 120
    detail = api.get(url).json()
    assert detail["sitrep"]["latest"]["situation"] == "Screening at gate 3."
    assert detail["sitrep"]["every_minutes"] == 120
    listed = api.get("/api/v1/operations").json()
    assert next(op for op in listed if op["ref"] == operation.ref)["sitrep"] == detail["sitrep"]
    # A task change answers with the operation, sitrep included.
    task_id = detail["tasks"][0]["id"]
    moved = api.patch(f"{url}/tasks/{task_id}", {"status": "in_progress"})
    assert moved.json()["sitrep"] == detail["sitrep"]
    assert (
        Api("na-pol.coord")
        .post(f"{url}/sitreps", {"situation": "x", "client_msg_id": str(uuid.uuid4())})
        .status_code
        == 403
    )  # NA-POL has a task: it reads the operation, but does not lead


@pytest.mark.usefixtures("demo")
def test_the_crossing_points_board_lists_what_is_due_as_each_caller_may_see_it(
    t0: datetime,
) -> None:
    hidden = report(title="Participants only")  # NA-IMM only
    shared = report(title="Whole point", visibility="crossing_point")
    operation = start_operation()  # NA-IMM leads; NA-POL and NA-CUS have tasks, NA-AIR none
    quiet = report(title="No cadence")
    post(quiet.ref, t0)
    cadence(hidden.ref, 30, t0 - timedelta(hours=2))  # overdue
    cadence(shared.ref, 60, t0)
    cadence(operation.ref, 240, t0, kind="operation")

    def board(username: str) -> Any:
        return Api(username).get("/api/v1/crossing-points/WDH/sitreps-due")

    mine = board(LEAD)
    assert mine.status_code == 200
    rows = mine.json()
    assert [r["ref"] for r in rows] == [hidden.ref, shared.ref, operation.ref]
    first = rows[0]
    assert first == {
        "kind": "incident",
        "ref": hidden.ref,
        "title": "Participants only",
        "stream": hidden.stream_name,
        "lead_agency": "NA-IMM",
        "every_minutes": 30,
        "due_at": first["due_at"],
        "overdue": True,
        "reminded_at": None,
        "reports": 0,
        "last_report_at": None,
    }
    assert when(first["due_at"]) == t0 - timedelta(minutes=90)
    assert [r["overdue"] for r in rows] == [True, False, False]
    assert rows[2]["kind"] == "operation"
    assert [r["ref"] for r in board("na-pol.duty").json()] == [shared.ref, operation.ref]
    assert [r["ref"] for r in board("na-air.duty").json()] == [shared.ref]
    assert [r["ref"] for r in board("na-air.senior").json()] == [
        hidden.ref,
        shared.ref,
        operation.ref,
    ]
    assert board("za-imm.coord").status_code == 404
    assert Api(LEAD).get("/api/v1/crossing-points/XXX/sitreps-due").status_code == 404
    # Resolved: off the board.
    incidents.incident_transition(
        actor=officer(LEAD), ref=shared.ref, to_status="resolved", reason="Done"
    )
    assert [r["ref"] for r in board(LEAD).json()] == [hidden.ref, operation.ref]


# --- snapshot + events since its seq = a new snapshot ----------------------------------------


def apply_sitrep_events(state: dict[str, Any] | None, envelopes: list[dict[str, Any]]) -> Any:
    """What a client does with the events after a snapshot's seq (ignoring ``overdue``,
    which depends on the clock, and ``reminded_at``, which it learns from sitrep.overdue)."""
    folded = dict(state) if state is not None else None
    for envelope in envelopes:
        kind, payload = envelope["kind"], envelope["payload"]
        if not kind.startswith("sitrep."):
            continue
        folded = folded or {"reports": 0, "latest": None, "every_minutes": None, "due_at": None}
        if kind == "sitrep.posted":
            folded["reports"] = payload["number"]
            folded["latest"] = payload["number"]
            folded["every_minutes"] = payload["every_minutes"]
            folded["due_at"] = when(payload["due_at"])
        elif kind == "sitrep.cadence_set":
            folded["every_minutes"] = payload["every_minutes"]
            folded["due_at"] = when(payload["due_at"])
    return folded


def comparable(sitrep: dict[str, Any] | None) -> dict[str, Any] | None:
    if sitrep is None:
        return None
    return {
        "reports": sitrep["reports"],
        "latest": sitrep["latest"]["number"] if sitrep["latest"] else None,
        "every_minutes": sitrep["every_minutes"],
        "due_at": when(sitrep["due_at"]),
    }


@pytest.mark.usefixtures("demo")
def test_an_incident_snapshot_plus_the_events_after_its_seq_equals_a_new_snapshot() -> None:
    incident = report()
    api = Api(LEAD)
    url = f"/api/v1/incidents/{incident.ref}"
    steps: list[Callable[[], Any]] = [
        lambda: api.put(f"{url}/sitrep-cadence", {"every_minutes": 30}),
        lambda: api.post(f"{url}/sitreps", {"situation": "A", "client_msg_id": str(uuid.uuid4())}),
        lambda: api.post(f"{url}/messages", {"body": "Noted", "client_msg_id": str(uuid.uuid4())}),
        lambda: api.post(f"{url}/sitreps", {"situation": "B", "client_msg_id": str(uuid.uuid4())}),
        lambda: api.put(f"{url}/sitrep-cadence", {"every_minutes": None}),
    ]
    for step in steps:
        before = api.get(url).json()
        assert step().status_code in (200, 201)
        after = api.get(url).json()
        page = api.get(f"/api/v1/streams/{incident.stream_name}/events", {"after": before["seq"]})
        envelopes = page.json()["events"]
        assert envelopes, "the step appended an event"
        folded = apply_sitrep_events(comparable(before["sitrep"]), envelopes)
        assert folded == comparable(after["sitrep"])


# --- the timeline export -------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_the_timeline_export_has_a_line_for_each_report_cadence_and_reminder(
    t0: datetime,
) -> None:
    incident = report()
    cadence(incident.ref, 30, t0)
    post(incident.ref, t0 + timedelta(minutes=5), needs=[{"agency": "NA-POL", "need": "Escort"}])
    sweep(t0 + timedelta(minutes=40))
    exported = incident_export(actor=officer("na-imm.senior"), ref=incident.ref, fmt="csv")
    text = exported.content.decode()
    assert f"Situation reports on {incident.ref} every 30 minutes" in text
    assert f"Situation report #1 on {incident.ref}: Two adults interviewed" in text
    assert "needs NA-POL: Escort" in text
    assert f"Situation report on {incident.ref} overdue since" in text
    assert Incident.objects.get(pk=incident.pk).status == "reported"


def _mention_notices(published: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        data
        for channel, message in published
        if channel == control_channel()
        and (data := json.loads(message)).get("type") == "mention_notice"
    ]


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize("kind", ["incident", "operation"])
def test_the_agencies_a_report_asks_for_something_are_told(
    kind: str,
    t0: datetime,
    published: list[tuple[str, str]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    parent: Incident | Operation = report() if kind == "incident" else start_operation()
    needs = [
        {"agency": "NA-POL", "need": "An escort to the shelter"},
        {"agency": "NA-POL", "need": "A statement taker"},
        {"agency": "NA-CUS", "need": "The baggage held"},
        {"agency": None, "need": "Shelter"},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        result = post(parent.ref, t0, kind=kind, needs=needs)
    notices = {
        n["notice"]["excerpt"]: (n["recipients"], n["notice"]) for n in _mention_notices(published)
    }
    assert sorted(notices) == [
        "An escort to the shelter; A statement taker",
        "The baggage held",
    ]
    pol, pol_notice = notices["An escort to the shelter; A statement taker"]
    assert pol == sorted(u.pk for u in (officer("na-pol.duty"), officer("na-pol.coord"))), (
        "the duty officers and coordinators of NA-POL at WDH"
    )
    assert pol_notice["stream"] == parent.stream_name
    assert (pol_notice["ref"], pol_notice["seq"]) == (parent.ref, result.seq)
    assert pol_notice["by"] == {
        "user": LEAD,
        "name": officer(LEAD).display_name,
        "agency": "NA-IMM",
    }
    cus, _ = notices["The baggage held"]
    assert officer("na-cus.duty").pk in cus
    assert officer(LEAD).pk not in cus
