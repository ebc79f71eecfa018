"""Snapshots that carry a seq are consistent with it, even while changes commit.

``GET /incidents/{ref}`` (and the list, the messages page, write responses and
exports) return state together with "the incident stream's seq this reflects".
A client resumes after that seq, so the state must contain exactly the events up
to it: the status in a snapshot must equal the status obtained by replaying the
stream's events up to the snapshot's seq. Runs on SQLite and PostgreSQL; writers
run in threads with their own connections.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from hub.events.models import Event
from hub.incidents import selectors, services
from hub.incidents.models import Incident
from tests.factories import Api, officer, report, seed

pytestmark = pytest.mark.django_db(transaction=True)

COORD = "na-imm.coord"


def replayed(ref: str) -> dict[int, dict[str, Any]]:
    """{seq: state after replaying events 1..seq}: status and message ids."""
    states: dict[int, dict[str, Any]] = {}
    status = ""
    messages: list[int] = []
    for event in Event.objects.filter(stream__name=f"incident:{ref}").order_by("seq"):
        if event.kind == "incident.reported":
            status = event.payload["status"]
        elif event.kind == "incident.transitioned":
            status = event.payload["to_status"]
        elif event.kind == "message.posted":
            messages = [*messages, event.payload["message_id"]]
        states[event.seq] = {"status": status, "messages": messages}
    return states


def flip(ref: str, i: int) -> None:
    """One change that commits: active <-> resolved, or a message."""
    coord = officer(COORD)
    if i % 3 == 2:
        services.message_post(actor=coord, ref=ref, body=f"update {i}", client_msg_id=uuid.uuid4())
        return
    current = Incident.objects.values_list("status", flat=True).get(ref=ref)
    target = "resolved" if current == "active" else "active"
    services.incident_transition(actor=coord, ref=ref, to_status=target, reason=f"flip {i}")


def active_incident() -> str:
    seed()
    incident = report("na-imm.duty", "WDH")
    services.incident_transition(actor=officer(COORD), ref=incident.ref, to_status="active")
    return incident.ref


def in_thread(fn: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        try:
            fn()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class MidRead:
    """Arranges for a change to be committed by another thread in the middle of a read.

    ``arm(module, name, change)`` wraps ``module.name``: its first call in this
    thread starts ``change`` in another thread and waits for it (up to 3 s: with
    the snapshot held, the change cannot commit before the read ends, and that is
    the point). ``settle()`` waits until every change has committed.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.threads: list[threading.Thread] = []
        self.me = threading.get_ident()

    def arm(self, module: Any, name: str, change: Callable[[], object]) -> None:
        real = getattr(module, name)
        fired: list[bool] = []

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if not fired and threading.get_ident() == self.me:
                fired.append(True)
                thread = in_thread(change)
                self.threads.append(thread)
                thread.join(timeout=3)
            return result

        self.monkeypatch.setattr(module, name, wrapper)

    def settle(self) -> None:
        self.monkeypatch.undo()
        for thread in self.threads:
            thread.join(timeout=60)
            assert not thread.is_alive()


@pytest.fixture
def mid_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[MidRead]:
    arranged = MidRead(monkeypatch)
    yield arranged
    arranged.settle()


def test_detail_snapshot_is_consistent_when_a_transition_commits_mid_read(
    mid_read: MidRead,
) -> None:
    ref = active_incident()
    # incident_facts runs right after the incident row is read: the old window.
    mid_read.arm(
        selectors,
        "incident_facts",
        lambda: services.incident_transition(
            actor=officer(COORD), ref=ref, to_status="resolved", reason="mid-read"
        ),
    )
    body = Api("na-imm.duty").get(f"/api/v1/incidents/{ref}").json()
    assert body["status"] == replayed(ref)[body["seq"]]["status"], body
    assert (body["status"], body["seq"]) == ("active", 2)
    mid_read.settle()
    after = Api("na-imm.duty").get(f"/api/v1/incidents/{ref}").json()
    assert (after["status"], after["seq"]) == ("resolved", 3)  # the change did commit


def test_list_snapshot_is_consistent_when_a_transition_commits_mid_read(
    mid_read: MidRead,
) -> None:
    ref = active_incident()
    # Right after the page of incidents is chosen, before the heads are read.
    mid_read.arm(
        selectors,
        "incidents_visible_to",
        lambda: services.incident_transition(
            actor=officer(COORD), ref=ref, to_status="resolved", reason="mid-list"
        ),
    )
    items = Api("na-imm.duty").get("/api/v1/incidents").json()["items"]
    (item,) = [i for i in items if i["ref"] == ref]
    assert item["status"] == replayed(ref)[item["seq"]]["status"], item
    mid_read.settle()
    final = Api("na-imm.duty").get("/api/v1/incidents").json()["items"]
    assert [(i["status"], i["seq"]) for i in final if i["ref"] == ref] == [("resolved", 3)]


def test_messages_page_is_consistent_when_a_post_commits_mid_read(
    mid_read: MidRead,
) -> None:
    ref = active_incident()
    mid_read.arm(
        selectors,
        "incident_facts",
        lambda: services.message_post(
            actor=officer(COORD), ref=ref, body="mid-read", client_msg_id=uuid.uuid4()
        ),
    )
    page = Api("na-imm.duty").get(f"/api/v1/incidents/{ref}/messages").json()
    assert [m["id"] for m in page["items"]] == replayed(ref)[page["head"]]["messages"]
    mid_read.settle()
    assert len(replayed(ref)[3]["messages"]) == 1  # the post did commit


def test_snapshots_taken_while_changes_keep_committing_are_always_consistent() -> None:
    ref = active_incident()
    stop = threading.Event()
    done: list[int] = []
    failure: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            while not stop.is_set():
                flip(ref, i)
                done.append(i)
                i += 1
        except BaseException as exc:  # surfaced below
            failure.append(exc)

    thread = in_thread(writer)
    api = Api("na-imm.duty")
    snapshots: list[tuple[str, int]] = []
    pages: list[tuple[list[int], int]] = []
    try:
        while (len(snapshots) < 30 or len(done) < 15) and not failure and len(snapshots) < 3000:
            detail = api.get(f"/api/v1/incidents/{ref}").json()
            snapshots.append((detail["status"], detail["seq"]))
            (item,) = [i for i in api.get("/api/v1/incidents").json()["items"] if i["ref"] == ref]
            snapshots.append((item["status"], item["seq"]))
            page = api.get(f"/api/v1/incidents/{ref}/messages").json()
            pages.append(([m["id"] for m in page["items"]], page["head"]))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failure, failure
    assert len(done) >= 15
    states = replayed(ref)
    wrong = [(status, seq) for status, seq in snapshots if states[seq]["status"] != status]
    assert not wrong, wrong[:5]
    wrong_pages = [(ids, head) for ids, head in pages if states[head]["messages"] != ids]
    assert not wrong_pages, wrong_pages[:3]
    assert len({seq for _, seq in snapshots}) > 1, "the snapshots saw the writer's changes"


def test_operation_snapshot_is_consistent_when_a_task_change_commits_mid_read(
    mid_read: MidRead,
) -> None:
    from hub.operations import selectors as op_selectors
    from hub.operations import services as op_services
    from hub.operations.sops import seed_templates

    seed()
    seed_templates()
    started = op_services.operation_start(
        actor=officer(COORD), crossing_point="WDH", template="tip-screening"
    )
    ref = started.operation.ref
    task = started.operation.tasks.order_by("position").first()
    assert task is not None
    before = Api("na-imm.duty").get(f"/api/v1/operations/{ref}").json()
    # operation_facts runs right after the operation and its tasks are read.
    mid_read.arm(
        op_selectors,
        "operation_facts",
        lambda: op_services.task_update(
            actor=officer(COORD), ref=ref, task_id=task.pk, status="in_progress"
        ),
    )
    body = Api("na-imm.duty").get(f"/api/v1/operations/{ref}").json()
    status = {t["id"]: t["status"] for t in body["tasks"]}[task.pk]
    assert (status, body["seq"]) == ("open", before["seq"]), body
    mid_read.settle()
    after = Api("na-imm.duty").get(f"/api/v1/operations/{ref}").json()
    assert {t["id"]: t["status"] for t in after["tasks"]}[task.pk] == "in_progress"
    assert after["seq"] > body["seq"]  # the change did commit, after the snapshot's seq
