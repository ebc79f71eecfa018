"""Evidence files of tasks: files of the operation's incident added to a task.

Through ``hub.operations.services.task_update`` and ``PATCH
/api/v1/operations/{ref}/tasks/{id}``: the links, the event's ``attachments``,
``requires_note``, refusals that write nothing, idempotency, who may add files and
who sees their names (``TaskOut.attachments``). Files are uploaded through the real
upload service onto a temporary filesystem storage.

The operation is ``tip-screening`` at WDH, started by ``na-imm.coord`` for an
incident ``na-imm.duty`` reported (visible to its participants: NA-IMM only). Task 1
is NA-IMM's, task 3 NA-IMM's and needs a note, task 4 NA-POL's: NA-POL works it and
reads the operation, but cannot read the incident.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from hub.attachments.models import Attachment
from hub.errors import Conflict, Forbidden, IdempotencyConflict, InvalidInput
from hub.events.models import Event, WriteReceipt
from hub.events.types import TaskStatusChanged, validate_payload
from hub.incidents.models import Incident
from hub.operations import services
from hub.operations.models import Operation, Task, TaskAttachment
from hub.operations.sops import seed_templates
from tests.evidence import upload_evidence, use_temporary_storage, withdraw_evidence
from tests.factories import Api, officer, report

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture(autouse=True)
def _world(demo: None, settings: Any, tmp_path: Path) -> None:
    seed_templates()
    use_temporary_storage(settings, tmp_path / "attachments")


@pytest.fixture
def incident() -> Incident:
    return report("na-imm.duty", "WDH")


@pytest.fixture
def op(incident: Incident) -> Operation:
    return services.operation_start(
        actor=officer("na-imm.coord"),
        crossing_point="WDH",
        template="tip-screening",
        incident=incident.ref,
    ).operation


def task(op: Operation, position: int) -> Task:
    return Task.objects.get(operation=op, position=position)


def links(t: Task) -> list[int]:
    return list(t.evidence_links.order_by("position").values_list("attachment_id", flat=True))


def last_event(op: Operation) -> Event:
    event = Event.objects.filter(stream__name=op.stream_name).order_by("-seq").first()
    assert event is not None
    validate_payload(event.kind, event.payload)
    return event


def state() -> tuple[Any, ...]:
    """Everything a refused change must leave as it was."""
    return (
        Event.objects.count(),
        WriteReceipt.objects.count(),
        TaskAttachment.objects.count(),
        sorted(Task.objects.values_list("pk", "status", "note", "evidence")),
        sorted(Attachment.objects.values_list("pk", "referenced_at")),
    )


def update(username: str, op: Operation, position: int, **kwargs: Any) -> Any:
    return services.task_update(
        actor=officer(username), ref=op.ref, task_id=task(op, position).pk, **kwargs
    )


# --- adding files ------------------------------------------------------------------------


def test_files_added_with_a_status_change_are_linked_and_in_the_event(
    incident: Incident, op: Operation
) -> None:
    first = upload_evidence("na-imm.duty", incident.ref, shade=1, filename="seal.png")
    second = upload_evidence("na-imm.duty", incident.ref, shade=2)
    result = update("na-imm.duty", op, 1, status="in_progress", attachments=[second, first, second])
    event = last_event(op)
    assert (event.seq, event.kind) == (result.seq, "task.status_changed")
    assert event.payload["attachments"] == [second, first]
    assert validate_payload(event.kind, event.payload).model_dump()["attachments"] == [
        second,
        first,
    ]
    t = task(op, 1)
    assert t.status == "in_progress"
    assert links(t) == [second, first]
    assert set(t.evidence_links.values_list("added_by__username", flat=True)) == {"na-imm.duty"}
    assert all(a.referenced_at is not None for a in Attachment.objects.all())


def test_files_alone_are_a_task_noted_event_and_are_never_linked_twice(
    incident: Incident, op: Operation
) -> None:
    first = upload_evidence("na-imm.duty", incident.ref, shade=1)
    second = upload_evidence("na-imm.duty", incident.ref, shade=2)
    update("na-imm.duty", op, 1, attachments=[first])
    noted = last_event(op)
    assert noted.kind == "task.noted"
    assert noted.payload["attachments"] == [first]
    # A later change lists only the files it added; the task keeps every earlier one.
    update("na-imm.coord", op, 1, attachments=[first, second])
    again = last_event(op)
    assert again.seq == noted.seq + 1
    assert again.payload["attachments"] == [second]
    assert links(task(op, 1)) == [first, second]
    assert list(task(op, 1).evidence_links.values_list("position", flat=True)) == [0, 1]
    # Nothing new at all: refused, nothing written.
    before = state()
    with pytest.raises(Conflict) as refused:
        update("na-imm.duty", op, 1, attachments=[second])
    assert refused.value.code == "no_change"
    assert state() == before


def test_a_change_without_files_keeps_the_payload_it_always_had(op: Operation) -> None:
    update("na-imm.duty", op, 1, status="in_progress", note="Escort kept apart.")
    event = last_event(op)
    assert "attachments" not in event.payload
    payload = validate_payload(event.kind, event.payload)
    assert isinstance(payload, TaskStatusChanged)
    assert payload.attachments == []


# --- requires_note -----------------------------------------------------------------------


def test_a_file_satisfies_a_task_that_needs_a_note(incident: Incident, op: Operation) -> None:
    update("na-imm.duty", op, 3, status="in_progress")
    with pytest.raises(Conflict) as refused:
        update("na-imm.duty", op, 3, status="done")
    assert refused.value.code == "note_required"
    scan = upload_evidence("na-imm.duty", incident.ref, filename="passport-scan.png")
    update("na-imm.duty", op, 3, status="done", attachments=[scan])
    t = task(op, 3)
    assert (t.status, t.note, t.evidence) == ("done", "", "")
    assert links(t) == [scan]
    assert last_event(op).payload["attachments"] == [scan]


def test_a_withdrawn_file_no_longer_satisfies_it(incident: Incident, op: Operation) -> None:
    scan = upload_evidence("na-imm.duty", incident.ref)
    update("na-imm.duty", op, 3, status="in_progress", attachments=[scan])
    withdraw_evidence("na-imm.duty", incident.ref, scan)
    with pytest.raises(Conflict) as refused:
        update("na-imm.duty", op, 3, status="done")
    assert refused.value.code == "note_required"
    assert links(task(op, 3)) == [scan]  # withdrawn on the file; the link stays


# --- refusals ----------------------------------------------------------------------------


def test_files_of_another_incident_or_none_are_unknown(incident: Incident, op: Operation) -> None:
    own = upload_evidence("na-imm.duty", incident.ref, shade=1)
    other = report("na-imm.duty", "WDH")
    foreign = upload_evidence("na-imm.duty", other.ref, shade=2)
    before = state()
    details = []
    for ids in ([own, foreign], [foreign], [foreign + 1000]):
        with pytest.raises(InvalidInput) as refused:
            update("na-imm.duty", op, 1, status="in_progress", attachments=ids)
        assert (refused.value.code, refused.value.status) == ("attachment_unknown", 422)
        details.append(refused.value.detail.replace(str(ids[-1]), "N"))
    assert details[1] == details[2]  # another incident's file, or none: the same answer
    assert state() == before


def test_an_operation_without_an_incident_has_no_files(incident: Incident) -> None:
    file = upload_evidence("na-imm.duty", incident.ref)
    bare = services.operation_start(
        actor=officer("na-imm.coord"), crossing_point="WDH", template="tip-screening"
    ).operation
    before = state()
    with pytest.raises(InvalidInput) as refused:
        update("na-imm.duty", bare, 1, attachments=[file])
    assert refused.value.code == "attachment_unknown"
    assert state() == before


def test_a_withdrawn_file_is_refused(incident: Incident, op: Operation) -> None:
    kept = upload_evidence("na-imm.duty", incident.ref, shade=1)
    gone = upload_evidence("na-imm.duty", incident.ref, shade=2)
    withdraw_evidence("na-imm.duty", incident.ref, gone)
    before = state()
    with pytest.raises(Conflict) as refused:
        update("na-imm.duty", op, 1, note="Photos.", attachments=[kept, gone])
    assert (refused.value.code, refused.value.status) == ("attachment_withdrawn", 409)
    assert state() == before


@pytest.mark.parametrize("ids", [["1"], [True], [0], [-3], [1.0], "1", 3])
def test_ids_that_are_not_positive_integers_are_refused(op: Operation, ids: Any) -> None:
    before = state()
    with pytest.raises(InvalidInput):
        update("na-imm.duty", op, 1, attachments=ids)
    assert state() == before


def test_officers_who_cannot_read_the_incident_add_no_files(
    incident: Incident, op: Operation
) -> None:
    file = upload_evidence("na-imm.duty", incident.ref)
    before = state()
    with pytest.raises(Forbidden):
        update("na-pol.duty", op, 4, status="in_progress", attachments=[file])
    assert state() == before
    update("na-pol.duty", op, 4, status="in_progress")  # working the task is theirs
    assert task(op, 4).status == "in_progress"


# --- idempotency -------------------------------------------------------------------------


def test_a_replay_links_nothing_twice(incident: Incident, op: Operation) -> None:
    first = upload_evidence("na-imm.duty", incident.ref, shade=1)
    second = upload_evidence("na-imm.duty", incident.ref, shade=2)
    cmid = uuid.uuid4()
    original = update(
        "na-imm.duty", op, 1, status="in_progress", attachments=[first], client_msg_id=cmid
    )
    events = Event.objects.count()
    replay = update(
        "na-imm.duty", op, 1, status="in_progress", attachments=[first], client_msg_id=cmid
    )
    assert (replay.seq, replay.duplicate) == (original.seq, True)
    assert Event.objects.count() == events
    assert links(task(op, 1)) == [first]
    with pytest.raises(IdempotencyConflict):
        update(
            "na-imm.duty",
            op,
            1,
            status="in_progress",
            attachments=[first, second],
            client_msg_id=cmid,
        )
    assert links(task(op, 1)) == [first]


# --- REST --------------------------------------------------------------------------------


def path(op: Operation, position: int) -> str:
    return f"/api/v1/operations/{op.ref}/tasks/{task(op, position).pk}"


def task_out(body: dict[str, Any], task_id: int) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in body["tasks"] if t["id"] == task_id)
    return found


def test_rest_patch_adds_files_and_task_out_lists_them(incident: Incident, op: Operation) -> None:
    scan = upload_evidence("na-imm.duty", incident.ref, shade=1, filename="crew list.png")
    photo = upload_evidence("na-imm.duty", incident.ref, shade=2)
    api = Api("na-imm.duty")
    cmid = str(uuid.uuid4())
    body = {"status": "in_progress", "attachments": [scan, photo], "client_msg_id": cmid}
    response = api.patch(path(op, 1), body)
    assert response.status_code == 200, response.content
    shown = task_out(response.json(), task(op, 1).pk)["attachments"]
    stored = {a.pk: a for a in Attachment.objects.all()}
    assert shown == [
        {
            "id": pk,
            "filename": stored[pk].filename,
            "content_type": "image/png",
            "sha256": stored[pk].sha256,
            "withdrawn": False,
        }
        for pk in (scan, photo)
    ]
    assert shown[0]["filename"] == "crew list.png"
    # The same request again: the same answer, no second link.
    again = api.patch(path(op, 1), body)
    assert again.status_code == 200
    assert task_out(again.json(), task(op, 1).pk)["attachments"] == shown
    assert TaskAttachment.objects.count() == 2
    # A withdrawn file stays listed, marked.
    withdraw_evidence("na-imm.duty", incident.ref, photo)
    read = api.get(f"/api/v1/operations/{op.ref}").json()
    assert [f["withdrawn"] for f in task_out(read, task(op, 1).pk)["attachments"]] == [False, True]
    # Other tasks have none.
    assert task_out(read, task(op, 2).pk)["attachments"] == []


def test_task_out_names_files_only_for_readers_of_the_incident(
    incident: Incident, op: Operation
) -> None:
    file = upload_evidence("na-imm.duty", incident.ref, filename="victim statement.png")
    update("na-imm.duty", op, 1, attachments=[file])
    police = Api("na-pol.duty").get(f"/api/v1/operations/{op.ref}")
    assert police.status_code == 200  # NA-POL has a task: it reads the operation...
    assert task_out(police.json(), task(op, 1).pk)["attachments"] == [
        {"id": file, "filename": None, "content_type": None, "sha256": None, "withdrawn": False}
    ]  # ...but not the incident, so not what the file is
    listed = Api("na-pol.duty").get("/api/v1/operations")
    assert task_out(listed.json()[0], task(op, 1).pk)["attachments"][0]["filename"] is None
    own = Api("na-imm.duty").get("/api/v1/operations").json()
    assert task_out(own[0], task(op, 1).pk)["attachments"][0]["filename"] == "victim statement.png"


@pytest.mark.parametrize(
    "attachments",
    [["1"], [True], [0], [1.5], list(range(1, 12)), "1", None],
    ids=["string", "boolean", "zero", "float", "eleven", "not-a-list", "null"],
)
def test_rest_bad_file_ids_are_422(op: Operation, attachments: Any) -> None:
    before = state()
    response = Api("na-imm.duty").patch(path(op, 1), {"attachments": attachments})
    assert response.status_code == 422, response.content
    assert state() == before


def test_rest_refusals_keep_their_codes(incident: Incident, op: Operation) -> None:
    other = report("na-imm.duty", "WDH")
    foreign = upload_evidence("na-imm.duty", other.ref)
    api = Api("na-imm.duty")
    response = api.patch(path(op, 1), {"attachments": [foreign]})
    assert (response.status_code, response.json()["code"]) == (422, "attachment_unknown")
    gone = upload_evidence("na-imm.duty", incident.ref, shade=3)
    withdraw_evidence("na-imm.duty", incident.ref, gone)
    response = api.patch(path(op, 1), {"attachments": [gone]})
    assert (response.status_code, response.json()["code"]) == (409, "attachment_withdrawn")
    mixed = api.patch(path(op, 1), {"attachments": [foreign], "assignees": ["na-imm.duty"]})
    assert mixed.status_code == 422  # assigning and working are separate requests
    assert TaskAttachment.objects.count() == 0
