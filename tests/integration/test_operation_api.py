"""Joint operations over REST: every task transition, every refusal, the co-sign rules.

The state machine is written out here by hand (not read from
``hub.operations.permissions``) and every (from, to) pair is driven through
``PATCH /api/v1/operations/{ref}/tasks/{id}``: an allowed move answers 200 and
appends one ``task.status_changed``; a refused one answers its documented
``{code, detail}`` and writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.events.models import Event, WriteReceipt
from hub.operations.models import Operation, Task
from hub.operations.sops import seed_templates
from tests.factories import Api

pytestmark = pytest.mark.usefixtures("demo")

STATES = ("open", "in_progress", "done", "blocked", "not_applicable")
# Allowed moves, by hand: open → in_progress → done, blocked and not_applicable (with a
# reason) on the way; a done task can be reopened, a not_applicable one reconsidered.
ALLOWED = {
    ("open", "in_progress"),
    ("open", "blocked"),
    ("open", "not_applicable"),
    ("in_progress", "done"),
    ("in_progress", "blocked"),
    ("in_progress", "not_applicable"),
    ("in_progress", "open"),
    ("blocked", "in_progress"),
    ("blocked", "not_applicable"),
    ("not_applicable", "open"),
    ("done", "in_progress"),
}
# How a fresh customs task (no note, no co-sign needed) reaches each state.
PATH_TO = {
    "open": [],
    "in_progress": [{"status": "in_progress"}],
    "done": [{"status": "in_progress"}, {"status": "done"}],
    "blocked": [{"status": "blocked", "reason": "Scanner down"}],
    "not_applicable": [{"status": "not_applicable", "reason": "No baggage"}],
}


@pytest.fixture(autouse=True)
def templates(demo: None) -> None:
    seed_templates()


def start(api: Api | None = None) -> dict[str, Any]:
    response = (api or Api("na-imm.coord")).post(
        "/api/v1/operations", {"crossing_point": "WDH", "template": "tip-screening"}
    )
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()
    return data


def task_id(op: dict[str, Any], position: int) -> int:
    [found] = [t["id"] for t in op["tasks"] if t["position"] == position]
    return int(found)


def task_url(op: dict[str, Any], tid: int) -> str:
    return f"/api/v1/operations/{op['ref']}/tasks/{tid}"


def written(ref: str) -> tuple[Any, ...]:
    """Everything a refused write must leave alone."""
    return (
        list(Event.objects.order_by("id").values_list("id", flat=True)),
        WriteReceipt.objects.count(),
        list(Task.objects.filter(operation__ref=ref).order_by("id").values()),
        list(Operation.objects.filter(ref=ref).values()),
    )


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def last_event(ref: str) -> Event:
    event = Event.objects.filter(stream__name=f"operation:{ref}").order_by("-seq").first()
    assert event is not None
    return event


# --- every transition ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [(a, b) for a in STATES for b in STATES if a != b],
)
def test_every_task_transition_over_rest(from_status: str, to_status: str) -> None:
    op = start()
    customs = Api("na-cus.duty")
    tid = task_id(op, 6)
    url = task_url(op, tid)
    for step in PATH_TO[from_status]:
        assert customs.patch(url, step).status_code == 200
    assert Task.objects.get(pk=tid).status == from_status
    body: dict[str, Any] = {"status": to_status}
    if to_status in ("blocked", "not_applicable"):
        body["reason"] = "Waiting for the scanner engineer"
    before = written(op["ref"])
    response = customs.patch(url, body)
    if (from_status, to_status) in ALLOWED:
        assert response.status_code == 200, response.content
        [shown] = [t for t in response.json()["tasks"] if t["id"] == tid]
        assert shown["status"] == to_status
        event = last_event(op["ref"])
        assert event.kind == "task.status_changed"
        assert (event.payload["from_status"], event.payload["to_status"]) == (
            from_status,
            to_status,
        )
        if to_status == "done":
            assert shown["completed_by"] == "na-cus.duty"
    else:
        body = refused(response, 409, "illegal_transition")
        assert f"A {from_status} task cannot become {to_status}" in body["detail"]
        assert written(op["ref"]) == before


@pytest.mark.parametrize("status", STATES)
def test_the_same_status_again_is_no_change(status: str) -> None:
    op = start()
    customs = Api("na-cus.duty")
    url = task_url(op, task_id(op, 6))
    for step in PATH_TO[status]:
        assert customs.patch(url, step).status_code == 200
    before = written(op["ref"])
    body: dict[str, Any] = {"status": status}
    if status in ("blocked", "not_applicable"):
        body["reason"] = "Still"
    refused(customs.patch(url, body), 409, "no_change")
    assert written(op["ref"]) == before


# --- refusals -----------------------------------------------------------------------------


def test_done_without_the_note_it_needs_is_note_required() -> None:
    op = start()
    duty = Api("na-imm.duty")
    url = task_url(op, task_id(op, 2))  # the screening interview needs a note
    assert duty.patch(url, {"status": "in_progress"}).status_code == 200
    before = written(op["ref"])
    refused(duty.patch(url, {"status": "done"}), 409, "note_required")
    assert written(op["ref"]) == before
    # Note and status in one request: the note counts.
    response = duty.patch(url, {"status": "done", "note": "Indicators: debt bondage."})
    assert response.status_code == 200, response.content


def test_done_before_the_cosign_then_cosigned_by_another_agency() -> None:
    op = start()
    police = Api("na-pol.duty")
    url = task_url(op, task_id(op, 5))
    assert police.patch(url, {"status": "in_progress", "note": "Bag A-114"}).status_code == 200
    response = police.patch(url, {"status": "done"})
    assert response.status_code == 200, response.content
    task = shown_task(response, url)
    assert (task["status"], task["completed_by"], task["cosigned_by"]) == (
        "done",
        "na-pol.duty",
        None,
    )
    before = written(op["ref"])
    refused(Api("na-pol.coord").post(f"{url}/cosign", {}), 403, "same_agency_cosign")
    assert written(op["ref"]) == before
    response = Api("na-cus.duty").post(f"{url}/cosign", {})
    assert response.status_code == 200, response.content
    assert shown_task(response, url)["cosigned_agency"] == "NA-CUS"


@pytest.mark.parametrize("status", ["blocked", "not_applicable"])
def test_blocked_or_not_applicable_without_a_reason_is_reason_required(status: str) -> None:
    op = start()
    customs = Api("na-cus.duty")
    url = task_url(op, task_id(op, 6))
    before = written(op["ref"])
    refused(customs.patch(url, {"status": status}), 422, "reason_required")
    refused(customs.patch(url, {"status": status, "reason": "   "}), 422, "reason_required")
    assert written(op["ref"]) == before


def test_removing_a_checklist_task_is_not_adhoc() -> None:
    op = start()
    coord = Api("na-imm.coord")
    before = written(op["ref"])
    response = coord.post(f"{task_url(op, task_id(op, 1))}/remove", {"reason": "Not needed"})
    refused(response, 409, "not_adhoc")
    assert written(op["ref"]) == before


def test_assigning_and_working_in_one_patch_is_refused() -> None:
    op = start()
    coord = Api("na-imm.coord")
    url = task_url(op, task_id(op, 6))
    before = written(op["ref"])
    for body in (
        {"assigned_agency": "NA-POL", "status": "in_progress"},
        {"assignees": ["na-cus.duty"], "note": "Take this one."},
    ):
        refused(coord.patch(url, body), 422, "invalid_request")
    assert written(op["ref"]) == before


def test_a_closed_operation_refuses_every_change() -> None:
    op = start()
    coord = Api("na-imm.coord")
    added = coord.post(
        f"/api/v1/operations/{op['ref']}/tasks",
        {"title": "Call the airline", "agency_kind": "customs"},
    )
    assert added.status_code == 201
    [adhoc] = [t["id"] for t in added.json()["tasks"] if t["adhoc"]]
    closed = coord.post(f"/api/v1/operations/{op['ref']}/close", {"note": "Referred"})
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    before = written(op["ref"])
    base = f"/api/v1/operations/{op['ref']}"
    attempts = [
        (Api("na-cus.duty").patch, task_url(op, task_id(op, 6)), {"status": "in_progress"}),
        (coord.patch, task_url(op, task_id(op, 6)), {"assigned_agency": "NA-POL"}),
        (coord.post, f"{base}/tasks", {"title": "One more", "agency_kind": "police"}),
        (coord.post, f"{task_url(op, adhoc)}/remove", {"reason": "Done"}),
        (Api("na-pol.duty").post, f"{task_url(op, task_id(op, 7))}/cosign", {}),
        (coord.post, f"{base}/close", {}),
    ]
    for send, url, body in attempts:
        refused(send(url, body), 409, "operation_closed")
    assert written(op["ref"]) == before


# --- co-signs -----------------------------------------------------------------------------


def police_task_ready(op: dict[str, Any]) -> str:
    url = task_url(op, task_id(op, 5))
    response = Api("na-pol.duty").patch(url, {"status": "in_progress", "note": "Bag A-114"})
    assert response.status_code == 200
    return url


def shown_task(response: Any, url: str) -> dict[str, Any]:
    tid = int(url.rsplit("/", 1)[-1])
    [found] = [t for t in response.json()["tasks"] if t["id"] == tid]
    return dict(found)


def test_rest_the_cosigner_may_not_complete() -> None:
    op = start()
    url = police_task_ready(op)
    coord = Api("na-imm.coord")
    assert coord.post(f"{url}/cosign", {}).status_code == 200
    before = written(op["ref"])
    body = refused(coord.patch(url, {"status": "done"}), 403, "self_cosign")
    assert "co-sign" in body["detail"]
    assert written(op["ref"]) == before
    done = Api("na-pol.duty").patch(url, {"status": "done"})
    assert done.status_code == 200
    task = shown_task(done, url)
    assert (task["status"], task["completed_by"], task["cosigned_by"]) == (
        "done",
        "na-pol.duty",
        "na-imm.coord",
    )


def test_rest_a_cosign_from_the_completers_agency_does_not_count() -> None:
    op = start()
    url = police_task_ready(op)
    assert Api("na-imm.duty").post(f"{url}/cosign", {}).status_code == 200
    before = written(op["ref"])
    refused(Api("na-imm.coord").patch(url, {"status": "done"}), 403, "same_agency_cosign")
    assert written(op["ref"]) == before
    assert Api("na-pol.coord").patch(url, {"status": "done"}).status_code == 200


def test_rest_a_task_without_agency() -> None:
    op = start()
    coord = Api("na-imm.coord")
    response = coord.post(
        f"/api/v1/operations/{op['ref']}/tasks",
        {"title": "Call the civil registry", "agency_kind": "other", "requires_cosign": True},
    )
    assert response.status_code == 201
    [added] = [t for t in response.json()["tasks"] if t["adhoc"]]
    assert added["assigned_agency"] is None
    url = task_url(op, added["id"])
    assert coord.patch(url, {"status": "in_progress"}).status_code == 200
    # Anyone else at the point may co-sign it, even of the coordinator's own agency...
    assert Api("na-imm.duty").post(f"{url}/cosign", {}).status_code == 200
    # ...but that co-sign does not let the coordinator complete it.
    before = written(op["ref"])
    refused(coord.patch(url, {"status": "done"}), 403, "same_agency_cosign")
    assert written(op["ref"]) == before


def test_rest_reassignment_clears_the_cosign() -> None:
    op = start()
    url = police_task_ready(op)
    assert Api("na-imm.duty").post(f"{url}/cosign", {}).status_code == 200
    coord = Api("na-imm.coord")
    response = coord.patch(url, {"assigned_agency": "NA-CUS"})
    assert response.status_code == 200
    task = shown_task(response, url)
    assert (task["assigned_agency"], task["cosigned_by"], task["cosigned_agency"]) == (
        "NA-CUS",
        None,
        None,
    )
    event = last_event(op["ref"])
    assert (event.kind, event.payload["agency"]) == ("task.assigned", "NA-CUS")
    # The new owner may complete it; its co-sign must now come from another agency.
    assert Api("na-cus.duty").patch(url, {"status": "done"}).status_code == 200
    refused(Api("na-cus.coord").post(f"{url}/cosign", {}), 403, "same_agency_cosign")


def test_start_with_per_task_agencies_chosen_in_the_dialog() -> None:
    coord = Api("na-imm.coord")
    body = {
        "crossing_point": "WDH",
        "template": "tip-screening",
        "assignments": [{"position": 5, "agency": "NA-CUS"}, {"position": 1, "agency": None}],
    }
    response = coord.post("/api/v1/operations", body)
    assert response.status_code == 201, response.content
    tasks = {t["position"]: t["assigned_agency"] for t in response.json()["tasks"]}
    default = {t["position"]: t["assigned_agency"] for t in start()["tasks"]}
    assert tasks[5] == "NA-CUS" != default[5]
    assert tasks[1] is None
    assert default[1] is not None
    assert {p: a for p, a in tasks.items() if p not in (1, 5)} == {
        p: a for p, a in default.items() if p not in (1, 5)
    }
    started = last_event(response.json()["ref"])
    assert {t["position"]: t["assigned_agency"] for t in started.payload["tasks"]} == tasks


@pytest.mark.parametrize(
    ("assignments", "status", "code"),
    [
        ([{"position": 5, "agency": "ZA-IMM"}], 422, "agency_not_deployed"),
        ([{"position": 99, "agency": "NA-CUS"}], 422, "unknown_task"),
        (
            [{"position": 5, "agency": "NA-CUS"}, {"position": 5, "agency": None}],
            422,
            "duplicate_position",
        ),
        ([{"position": 0, "agency": "NA-CUS"}], 422, "invalid_request"),
    ],
)
def test_start_with_a_bad_assignment_is_refused_and_starts_nothing(
    assignments: list[dict[str, Any]], status: int, code: str
) -> None:
    before = (Operation.objects.count(), Event.objects.count(), WriteReceipt.objects.count())
    body = {"crossing_point": "WDH", "template": "tip-screening", "assignments": assignments}
    refused(Api("na-imm.coord").post("/api/v1/operations", body), status, code)
    assert (Operation.objects.count(), Event.objects.count(), WriteReceipt.objects.count()) == (
        before
    )
