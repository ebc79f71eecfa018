"""Joint operations: templates, start, tasks, co-signs, closing — rows, events, refusals."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.errors import Conflict, Forbidden, IdempotencyConflict, InvalidInput, NotFound
from hub.events.bus import control_channel
from hub.events.models import Event
from hub.events.types import validate_payload
from hub.operations import services
from hub.operations.models import ChecklistTemplate, Operation, Task
from hub.operations.services import ItemSpec
from hub.operations.sops import seed_templates
from tests.factories import officer, report

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture(autouse=True)
def templates(demo: None) -> None:
    seed_templates()


def events(stream: str) -> list[Event]:
    found = list(Event.objects.filter(stream__name=stream).order_by("seq"))
    for e in found:
        validate_payload(e.kind, e.payload)
    return found


def start(username: str = "na-imm.coord", **kwargs: object) -> Operation:
    params: dict[str, object] = {"crossing_point": "WDH", "template": "tip-screening"}
    params.update(kwargs)
    return services.operation_start(actor=officer(username), **params).operation  # type: ignore[arg-type]


def task(op: Operation, position: int) -> Task:
    return Task.objects.get(operation=op, position=position)


def test_start_makes_tasks_with_due_times_and_agencies() -> None:
    now = timezone.now()
    op = services.operation_start(
        actor=officer("na-imm.coord"), crossing_point="WDH", template="tip-screening", now=now
    ).operation
    assert op.ref == f"OP-WDH-{now.year}-0001"
    assert op.lead_agency.code == "NA-IMM"
    tasks = list(op.tasks.order_by("position"))
    template = ChecklistTemplate.objects.get(code="tip-screening", is_current=True)
    items = list(template.items.order_by("position"))
    assert len(tasks) == len(items) == 8
    for t, item in zip(tasks, items, strict=True):
        assert t.due_at == now + timedelta(minutes=item.due_offset_minutes)
        assert (t.requires_note, t.requires_cosign) == (item.requires_note, item.requires_cosign)
    assert [t.assigned_agency.code if t.assigned_agency else None for t in tasks] == [
        "NA-IMM",
        "NA-IMM",
        "NA-IMM",
        "NA-POL",
        "NA-POL",
        "NA-CUS",
        "NA-IMM",
        "NA-POL",
    ]
    [started] = events(op.stream_name)
    assert started.kind == "operation.started"
    assert started.payload["template"] == "tip-screening"
    assert started.payload["progress"]["total"] == 8
    assert len(started.payload["tasks"]) == 8


def test_progress_is_pushed_to_the_linked_incident() -> None:
    incident = report()
    op = start(incident=incident.ref)
    services.task_update(
        actor=officer("na-imm.duty"), ref=op.ref, task_id=task(op, 1).pk, status="in_progress"
    )
    services.task_update(
        actor=officer("na-imm.duty"), ref=op.ref, task_id=task(op, 1).pk, status="done"
    )
    progress = [e.payload for e in events(incident.stream_name) if e.kind == "operation.progress"]
    assert len(progress) == 3
    assert progress[-1]["ref"] == op.ref
    assert progress[-1]["progress"]["done"] == 1
    assert progress[-1]["progress"]["total"] == 8


def test_editing_a_template_never_changes_a_running_operation() -> None:
    op = start()
    before = [(t.title, t.due_at) for t in op.tasks.order_by("position")]
    v2 = services.template_publish(
        code="tip-screening",
        title="TIP screening (revised)",
        description="",
        items=[ItemSpec("Only one step now", "immigration", 5)],
    )
    assert v2.version == 2
    assert not ChecklistTemplate.objects.get(code="tip-screening", version=1).is_current
    assert [(t.title, t.due_at) for t in op.tasks.order_by("position")] == before
    op.refresh_from_db()
    assert op.template.version == 1
    newer = start()
    assert newer.tasks.count() == 1
    older = start(template_version_number=1)
    assert older.tasks.count() == 8


def test_only_coordinators_start() -> None:
    with pytest.raises(Forbidden):
        start("na-imm.duty")
    with pytest.raises(NotFound):
        start("za-imm.coord")
    with pytest.raises(NotFound):
        start(template="no-such-sop")
    assert not Operation.objects.exists()


def test_status_machine_and_reasons() -> None:
    op = start()
    t = task(op, 6)  # customs, no note needed
    customs = officer("na-cus.duty")
    with pytest.raises(Conflict) as info:
        services.task_update(actor=customs, ref=op.ref, task_id=t.pk, status="done")
    assert info.value.code == "illegal_transition"
    with pytest.raises(InvalidInput) as reason:
        services.task_update(actor=customs, ref=op.ref, task_id=t.pk, status="blocked")
    assert reason.value.code == "reason_required"
    services.task_update(
        actor=customs, ref=op.ref, task_id=t.pk, status="blocked", reason="Scanner down"
    )
    services.task_update(actor=customs, ref=op.ref, task_id=t.pk, status="in_progress")
    services.task_update(actor=customs, ref=op.ref, task_id=t.pk, status="done")
    t.refresh_from_db()
    assert (t.status, t.completed_by) == ("done", customs)
    kinds = [
        (e.payload["from_status"], e.payload["to_status"])
        for e in events(op.stream_name)
        if e.kind == "task.status_changed"
    ]
    assert kinds == [("open", "blocked"), ("blocked", "in_progress"), ("in_progress", "done")]
    assert events(op.stream_name)[-1].payload["progress"]["done"] == 1


def test_not_applicable_needs_a_reason_and_counts_in_progress() -> None:
    op = start()
    t = task(op, 6)
    services.task_update(
        actor=officer("na-cus.duty"),
        ref=op.ref,
        task_id=t.pk,
        status="not_applicable",
        reason="No baggage",
    )
    last = events(op.stream_name)[-1].payload
    assert last["reason"] == "No baggage"
    assert last["progress"]["not_applicable"] == 1


def test_completion_needs_note_and_cosign_from_another_agency() -> None:
    op = start()
    t = task(op, 5)  # police, note + co-sign
    police = officer("na-pol.duty")
    services.task_update(actor=police, ref=op.ref, task_id=t.pk, status="in_progress")
    with pytest.raises(Conflict) as missing_note:
        services.task_update(actor=police, ref=op.ref, task_id=t.pk, status="done")
    assert missing_note.value.code == "note_required"
    services.task_update(actor=police, ref=op.ref, task_id=t.pk, note="Phone sealed in bag A-114")
    with pytest.raises(Forbidden) as same:
        services.task_cosign(actor=officer("na-pol.coord"), ref=op.ref, task_id=t.pk)
    assert same.value.code == "same_agency_cosign"
    services.task_cosign(
        actor=officer("na-imm.duty"), ref=op.ref, task_id=t.pk, note="Witnessed sealing"
    )
    with pytest.raises(Conflict, match="already co-signed"):
        services.task_cosign(actor=officer("na-cus.duty"), ref=op.ref, task_id=t.pk)
    services.task_update(actor=police, ref=op.ref, task_id=t.pk, status="done")
    t.refresh_from_db()
    assert (t.status, t.cosigned_by, t.cosigned_agency.code if t.cosigned_agency else None) == (
        "done",
        officer("na-imm.duty"),
        "NA-IMM",
    )
    cosigned = [e for e in events(op.stream_name) if e.kind == "task.cosigned"]
    assert cosigned[0].payload == {
        "ref": op.ref,
        "task_id": t.pk,
        "agency": "NA-IMM",
        "note": "Witnessed sealing",
    }
    assert cosigned[0].actor == officer("na-imm.duty")


def test_other_agencies_cannot_work_a_task() -> None:
    op = start()
    t = task(op, 6)  # customs
    with pytest.raises(Forbidden):
        services.task_update(
            actor=officer("na-pol.duty"), ref=op.ref, task_id=t.pk, status="in_progress"
        )
    with pytest.raises(NotFound):
        services.task_update(
            actor=officer("na-air.duty"), ref=op.ref, task_id=t.pk, status="in_progress"
        )
    assert task(op, 6).status == "open"


def test_assign_to_agency_and_officers() -> None:
    op = start()
    t = task(op, 6)
    coord = officer("na-imm.coord")
    services.task_assign(
        actor=coord, ref=op.ref, task_id=t.pk, agency="NA-POL", assignees=["na-pol.duty"]
    )
    t.refresh_from_db()
    assert t.assigned_agency is not None
    assert t.assigned_agency.code == "NA-POL"
    assert [u.username for u in t.assignees.all()] == ["na-pol.duty"]
    payload = dict(events(op.stream_name)[-1].payload)
    assert payload.pop("cosign_cleared") is None  # no co-sign to clear
    assert payload == {
        "ref": op.ref,
        "task_id": t.pk,
        "agency": "NA-POL",
        "assignees": ["na-pol.duty"],
    }
    with pytest.raises(InvalidInput) as not_here:
        services.task_assign(actor=coord, ref=op.ref, task_id=t.pk, agency="NA-CGD")
    assert not_here.value.code == "agency_not_deployed"
    with pytest.raises(InvalidInput, match="Not serving"):
        services.task_assign(actor=coord, ref=op.ref, task_id=t.pk, assignees=["za-imm.duty"])
    with pytest.raises(Forbidden):
        services.task_assign(
            actor=officer("na-imm.duty"), ref=op.ref, task_id=t.pk, agency="NA-IMM"
        )


def test_assignee_may_work_the_task() -> None:
    op = start()
    t = task(op, 6)
    services.task_assign(
        actor=officer("na-imm.coord"), ref=op.ref, task_id=t.pk, assignees=["na-air.duty"]
    )
    services.task_update(
        actor=officer("na-air.duty"), ref=op.ref, task_id=t.pk, status="in_progress"
    )
    assert task(op, 6).status == "in_progress"


def test_adhoc_tasks_are_added_and_removed_sop_tasks_are_not() -> None:
    op = start()
    coord = officer("na-imm.coord")
    services.task_add(
        actor=coord,
        ref=op.ref,
        title="Call the embassy",
        agency_kind="immigration",
        due_in_minutes=30,
    )
    added = Task.objects.get(operation=op, is_adhoc=True)
    assert added.position == 9
    assert added.assigned_agency is not None
    assert added.assigned_agency.code == "NA-IMM"
    services.task_remove(
        actor=coord, ref=op.ref, task_id=added.pk, reason="Embassy called us first"
    )
    added.refresh_from_db()
    assert added.removed_at is not None
    with pytest.raises(Conflict) as sop:
        services.task_remove(actor=coord, ref=op.ref, task_id=task(op, 1).pk, reason="x")
    assert sop.value.code == "not_adhoc"
    kinds = [e.kind for e in events(op.stream_name)]
    assert kinds[-2:] == ["task.added", "task.removed"]
    assert events(op.stream_name)[-1].payload["progress"]["total"] == 8


def test_closed_operation_refuses_edits() -> None:
    op = start()
    coord = officer("na-imm.coord")
    services.operation_close(actor=coord, ref=op.ref, note="Victim referred; case with police")
    before = len(events(op.stream_name))
    for attempt in (
        lambda: services.task_update(
            actor=officer("na-imm.duty"), ref=op.ref, task_id=task(op, 1).pk, status="in_progress"
        ),
        lambda: services.task_assign(
            actor=coord, ref=op.ref, task_id=task(op, 1).pk, agency="NA-POL"
        ),
        lambda: services.task_add(actor=coord, ref=op.ref, title="x", agency_kind="police"),
        lambda: services.task_cosign(
            actor=officer("na-pol.duty"), ref=op.ref, task_id=task(op, 1).pk
        ),
        lambda: services.operation_close(actor=coord, ref=op.ref),
    ):
        with pytest.raises(Conflict) as info:
            attempt()
        assert info.value.code == "operation_closed"
    assert len(events(op.stream_name)) == before
    assert events(op.stream_name)[-1].kind == "operation.closed"


def test_task_writes_are_idempotent() -> None:
    op = start()
    cmid = uuid.uuid4()
    duty = officer("na-imm.duty")
    first = services.task_update(
        actor=duty, ref=op.ref, task_id=task(op, 1).pk, status="in_progress", client_msg_id=cmid
    )
    again = services.task_update(
        actor=duty, ref=op.ref, task_id=task(op, 1).pk, status="in_progress", client_msg_id=cmid
    )
    assert again.duplicate
    assert again.seq == first.seq
    with pytest.raises(IdempotencyConflict):
        services.task_update(
            actor=duty,
            ref=op.ref,
            task_id=task(op, 1).pk,
            status="blocked",
            reason="x",
            client_msg_id=cmid,
        )
    assert len([e for e in events(op.stream_name) if e.kind == "task.status_changed"]) == 1


def test_overdue_tasks_counted_in_progress() -> None:
    now = timezone.now()
    op = services.operation_start(
        actor=officer("na-imm.coord"),
        crossing_point="WDH",
        template="tip-screening",
        now=now - timedelta(hours=3),
    ).operation
    from hub.operations.selectors import operation_progress

    progress = operation_progress(op, now)
    assert progress.overdue == 7  # every task but the 240-minute report
    assert progress.open == 8


# --- co-signs: four eyes, and an agency other than the one doing the work ------------------


def ready_police_evidence_task(op: Operation) -> Task:
    """Task 5 (police, note + co-sign), in progress with its note, not yet co-signed."""
    t = task(op, 5)
    police = officer("na-pol.duty")
    services.task_update(
        actor=police, ref=op.ref, task_id=t.pk, status="in_progress", note="Phones in bag A-114"
    )
    return t


def status_of(t: Task) -> str:
    t.refresh_from_db()
    return t.status


def test_the_cosigner_may_not_complete_the_task() -> None:
    """The lead coordinator co-signs the police task: they may not then complete it alone."""
    op = start()
    t = ready_police_evidence_task(op)
    coord = officer("na-imm.coord")
    services.task_cosign(actor=coord, ref=op.ref, task_id=t.pk)
    before = len(events(op.stream_name))
    with pytest.raises(Forbidden) as same_person:
        services.task_update(actor=coord, ref=op.ref, task_id=t.pk, status="done")
    assert same_person.value.code == "self_cosign"
    assert status_of(t) == "in_progress"
    assert len(events(op.stream_name)) == before
    # The police officer doing the work completes it with the lead's co-sign.
    services.task_update(actor=officer("na-pol.duty"), ref=op.ref, task_id=t.pk, status="done")
    t.refresh_from_db()
    assert (t.status, t.completed_by, t.cosigned_by) == ("done", officer("na-pol.duty"), coord)


def test_a_cosign_from_the_completers_own_agency_does_not_count() -> None:
    op = start()
    t = ready_police_evidence_task(op)
    services.task_cosign(actor=officer("na-imm.duty"), ref=op.ref, task_id=t.pk)
    with pytest.raises(Forbidden) as same_agency:
        services.task_update(actor=officer("na-imm.coord"), ref=op.ref, task_id=t.pk, status="done")
    assert same_agency.value.code == "same_agency_cosign"
    assert status_of(t) == "in_progress"
    services.task_update(actor=officer("na-pol.coord"), ref=op.ref, task_id=t.pk, status="done")
    assert status_of(t) == "done"


def test_a_task_without_agency_needs_a_cosign_from_another_agency_than_the_completers() -> None:
    op = start()
    coord = officer("na-imm.coord")

    def agencyless_task(title: str) -> Task:
        # Nobody of kind "other" is deployed at WDH: the task has no agency.
        services.task_add(
            actor=coord, ref=op.ref, title=title, agency_kind="other", requires_cosign=True
        )
        added = Task.objects.get(operation=op, title=title)
        assert added.assigned_agency is None
        services.task_update(actor=coord, ref=op.ref, task_id=added.pk, status="in_progress")
        return added

    own = agencyless_task("Call the civil registry")
    services.task_cosign(actor=officer("na-imm.duty"), ref=op.ref, task_id=own.pk)
    with pytest.raises(Forbidden) as same_agency:
        services.task_update(actor=coord, ref=op.ref, task_id=own.pk, status="done")
    assert same_agency.value.code == "same_agency_cosign"

    self_signed = agencyless_task("Call the embassy")
    services.task_cosign(actor=coord, ref=op.ref, task_id=self_signed.pk)
    with pytest.raises(Forbidden) as same_person:
        services.task_update(actor=coord, ref=op.ref, task_id=self_signed.pk, status="done")
    assert same_person.value.code == "self_cosign"

    third = agencyless_task("Call the airline")
    services.task_cosign(actor=officer("na-pol.duty"), ref=op.ref, task_id=third.pk)
    services.task_update(actor=coord, ref=op.ref, task_id=third.pk, status="done")
    assert [status_of(t) for t in (own, self_signed, third)] == [
        "in_progress",
        "in_progress",
        "done",
    ]


def test_cosigning_a_done_task_follows_the_same_rule() -> None:
    op = start()
    t = task(op, 6)  # customs, no co-sign needed: a managing coordinator completes it
    coord = officer("na-imm.coord")
    for status in ("in_progress", "done"):
        services.task_update(actor=coord, ref=op.ref, task_id=t.pk, status=status)
    with pytest.raises(Forbidden) as same_person:
        services.task_cosign(actor=coord, ref=op.ref, task_id=t.pk)
    assert same_person.value.code == "self_cosign"
    with pytest.raises(Forbidden) as same_agency:
        services.task_cosign(actor=officer("na-imm.duty"), ref=op.ref, task_id=t.pk)
    assert same_agency.value.code == "same_agency_cosign"
    services.task_cosign(actor=officer("na-pol.duty"), ref=op.ref, task_id=t.pk)
    t.refresh_from_db()
    assert t.cosigned_agency is not None
    assert t.cosigned_agency.code == "NA-POL"


def test_reassigning_to_another_agency_clears_the_cosign() -> None:
    op = start()
    t = ready_police_evidence_task(op)
    coord = officer("na-imm.coord")
    services.task_cosign(actor=officer("na-imm.duty"), ref=op.ref, task_id=t.pk, note="Seen")
    # Same agency again: the co-sign stays.
    services.task_assign(actor=coord, ref=op.ref, task_id=t.pk, agency="NA-POL")
    t.refresh_from_db()
    assert t.cosigned_agency is not None
    assert t.cosigned_agency.code == "NA-IMM"
    # Another agency: it goes, and the event says so.
    services.task_assign(actor=coord, ref=op.ref, task_id=t.pk, agency="NA-IMM")
    t.refresh_from_db()
    assert (t.cosigned_by, t.cosigned_agency, t.cosigned_at) == (None, None, None)
    assigned = [e for e in events(op.stream_name) if e.kind == "task.assigned"]
    assert [e.payload["agency"] for e in assigned] == ["NA-POL", "NA-IMM"]
    assert [e.payload["cosign_cleared"] for e in assigned] == [None, "NA-IMM"]
    # NA-IMM now owns the task: its own old co-sign is gone, and it cannot co-sign itself.
    with pytest.raises(Forbidden) as own:
        services.task_cosign(actor=officer("na-imm.coord"), ref=op.ref, task_id=t.pk)
    assert own.value.code == "same_agency_cosign"
    services.task_cosign(actor=officer("na-pol.duty"), ref=op.ref, task_id=t.pk)
    services.task_update(actor=officer("na-imm.duty"), ref=op.ref, task_id=t.pk, status="done")
    assert status_of(t) == "done"


def test_done_first_then_cosigned_by_another_agency() -> None:
    """The order the operation page shows: "done by NA-POL (…), awaiting co-sign"."""
    op = start()
    t = task(op, 5)  # police, note + co-sign
    police = officer("na-pol.duty")
    services.task_update(actor=police, ref=op.ref, task_id=t.pk, status="in_progress")
    services.task_update(
        actor=police, ref=op.ref, task_id=t.pk, status="done", note="Phone sealed in bag A-114"
    )
    t.refresh_from_db()
    assert (t.status, t.completed_by, t.cosigned_by) == ("done", police, None)
    # The completing agency cannot co-sign its own work, whoever of it asks.
    with pytest.raises(Forbidden) as same:
        services.task_cosign(actor=officer("na-pol.coord"), ref=op.ref, task_id=t.pk)
    assert same.value.code == "same_agency_cosign"
    services.task_cosign(actor=officer("na-cus.duty"), ref=op.ref, task_id=t.pk, note="Seen")
    t.refresh_from_db()
    assert t.cosigned_agency is not None
    assert t.cosigned_agency.code == "NA-CUS"
    kinds = [e.kind for e in events(op.stream_name)][-2:]
    assert kinds == ["task.status_changed", "task.cosigned"]


def test_reopening_a_done_task_withdraws_its_completion_and_cosign() -> None:
    op = start()
    t = task(op, 5)
    police = officer("na-pol.duty")
    services.task_update(actor=police, ref=op.ref, task_id=t.pk, status="in_progress")
    services.task_update(actor=police, ref=op.ref, task_id=t.pk, status="done", note="Bag A-114")
    services.task_cosign(actor=officer("na-cus.duty"), ref=op.ref, task_id=t.pk)
    services.task_update(actor=police, ref=op.ref, task_id=t.pk, status="in_progress")
    t.refresh_from_db()
    assert (t.status, t.completed_by, t.completed_at) == ("in_progress", None, None)
    assert (t.cosigned_by, t.cosigned_agency, t.cosigned_at) == (None, None, None)


# --- who may read follows the tasks: sockets are re-checked ------------------------------------


def control_messages(published: list[tuple[str, str]]) -> list[dict[str, object]]:
    return [json.loads(m) for channel, m in published if channel == control_channel()]


def test_assigning_and_removing_tasks_re_checks_the_operation_stream(
    published: list[tuple[str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    op = start()
    coord = officer("na-imm.coord")
    services.task_add(actor=coord, ref=op.ref, title="Ask the airline", agency_kind="customs")
    added = Task.objects.get(operation=op, is_adhoc=True)
    published.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.task_assign(
            actor=coord, ref=op.ref, task_id=task(op, 6).pk, agency="NA-AIR", assignees=[]
        )
    assert control_messages(published) == [], "published before commit"
    for callback in callbacks:
        callback()
    assert control_messages(published) == [
        {"type": "stream_access_changed", "stream": op.stream_name, "reason": "task.assigned"}
    ]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.task_remove(actor=coord, ref=op.ref, task_id=added.pk, reason="Not needed")
    assert control_messages(published) == [
        {"type": "stream_access_changed", "stream": op.stream_name, "reason": "task.removed"}
    ]
    # A refused reassignment changes nothing and publishes nothing.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidInput):
        services.task_assign(actor=coord, ref=op.ref, task_id=task(op, 6).pk, agency="NA-CGD")
    assert control_messages(published) == []
