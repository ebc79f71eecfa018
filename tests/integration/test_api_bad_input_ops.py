"""Property tests: the alert and joint-operation endpoints survive arbitrary and hostile input.

The same harness as ``test_api_bad_input`` (imported from it: ``exchange``, the
strategies, ``bodies``), thrown at every JSON write endpoint of alerts (issue,
update, cancel, acknowledge) and joint operations (start, patch a task, add,
co-sign, remove, close), at their paths (odd alert ids, refs and task ids), at
the list query strings, and at the CAP import endpoint with arbitrary bytes.

Properties checked on every example:

- never a 5xx; every 4xx is a JSON object with string ``code`` and ``detail``;
- a 4xx wrote nothing: besides what ``exchange`` compares (events, receipts,
  streams, incidents...), every alert, alert target, operation, task, task
  assignee and operation counter row is exactly as before;
- a 2xx is a valid write: its events are of the endpoint's kinds and validate
  against their models, at most one receipt, and the answer has the documented
  shape (``AlertOut``, ``AckOut``, ``OperationOut``).

As in the base module the world is set up once per test, and each example
snapshots the database just before and after its own request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.db.models import Model
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from hub.accounts.services import token_issue
from hub.alerts import services as alert_services
from hub.alerts.api import AckOut, AlertOut
from hub.alerts.models import Alert, AlertTarget
from hub.events.models import Event
from hub.events.types import validate_payload
from hub.operations import services as op_services
from hub.operations.api import OperationOut
from hub.operations.models import Operation, OperationCounter, Task
from hub.operations.sops import SOPS, seed_templates
from tests.factories import officer, report
from tests.integration.test_api_bad_input import (
    ANY_JSON,
    AUTH_MODES,
    CLIENT_MSG_IDS,
    CMID,
    CONTENT_LENGTHS,
    CONTENT_TYPES,
    GOOD_TEXT,
    LIMIT,
    MESSAGE_ID_LITERALS,
    NASTY_STRINGS,
    ODD_DATES,
    ODD_FLOATS,
    ODD_INTS,
    ODD_TEXT,
    ODD_VALUE,
    PROFILE,
    RAW_SAMPLES,
    Field,
    Outcome,
    _query,
    as_received,
    bodies,
    codes,
    encode,
    exchange,
    fresh_address,
    perturbed,
    text,
)

API = "/api/v1"
ACTOR = "na-imm.coord"  # coordinator of NA-IMM at WDH, WEN and WVB
AUTHS = st.sampled_from(["session", "bearer"])
ALERT_KINDS = frozenset({"alert.issued", "alert.updated", "alert.cancelled", "alert.acknowledged"})
OPERATION_KINDS = frozenset(
    {
        "operation.started",
        "operation.closed",
        "operation.progress",
        "task.added",
        "task.removed",
        "task.assigned",
        "task.status_changed",
        "task.noted",
        "task.cosigned",
    }
)


# --- the world ----------------------------------------------------------------------


@dataclass
class World:
    alert_id: int  # ACTOR's alert at WDH, targeting NA-IMM (ACTOR's agency) and NA-POL
    foreign_alert_id: int  # ZA-IMM's at JNB: invisible to ACTOR
    ref: str  # ACTOR's operation at WDH (tip-screening)
    task_ids: tuple[int, ...]  # its checklist tasks
    foreign_ref: str  # ZA-IMM's operation at JNB
    foreign_task_id: int
    session: Client
    bearer: Client

    def client(self, auth: str) -> Client:
        if auth == "session":
            return self.session
        if auth == "bearer":
            return self.bearer
        if auth == "csrf":
            enforcing = Client(enforce_csrf_checks=True, raise_request_exception=False)
            enforcing.force_login(officer(ACTOR))
            return enforcing
        if auth.startswith("bad-bearer:"):
            return Client(
                headers={"Authorization": auth.removeprefix("bad-bearer:")},
                raise_request_exception=False,
            )
        return Client(raise_request_exception=False)


def issue_alert(username: str = ACTOR, point: str = "WDH", **fields: Any) -> int:
    params: dict[str, Any] = {
        "category": "document_fraud",
        "severity": "high",
        "title": "Forged visas, series K",
    }
    params.update(fields)
    return alert_services.alert_issue(
        actor=officer(username), crossing_point=point, **params
    ).alert.pk


def start_operation(username: str = ACTOR, point: str = "WDH") -> Operation:
    return op_services.operation_start(
        actor=officer(username), crossing_point=point, template="tip-screening"
    ).operation


@pytest.fixture
def world(demo: None) -> World:
    seed_templates()
    alert_id = issue_alert(targets=["NA-IMM", "NA-POL"])
    foreign_alert_id = issue_alert("za-imm.duty", "JNB")
    operation = start_operation()
    foreign = start_operation("za-imm.coord", "JNB")
    session = Client(raise_request_exception=False)
    session.force_login(officer(ACTOR))
    raw_token = token_issue(user=officer(ACTOR), name="bad-input ops tests").raw
    bearer = Client(headers={"Authorization": f"Bearer {raw_token}"}, raise_request_exception=False)
    return World(
        alert_id=alert_id,
        foreign_alert_id=foreign_alert_id,
        ref=operation.ref,
        task_ids=tuple(operation.tasks.order_by("position").values_list("pk", flat=True)),
        foreign_ref=foreign.ref,
        foreign_task_id=foreign.tasks.order_by("position").values_list("pk", flat=True)[0],
        session=session,
        bearer=bearer,
    )


# --- snapshots of the alert and operation rows --------------------------------------

ROWS: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "alerts": (
        Alert,
        (
            "status", "version", "severity", "urgency", "certainty", "category", "title",
            "body", "expires_at", "is_exercise", "ack_required", "incident_id",
            "cancel_reason", "source_identifier", "updated_at",
        ),
    ),
    "alert_targets": (
        AlertTarget,
        ("alert_id", "agency_id", "due_at", "acknowledged_at", "acknowledged_by_id", "ack_seq"),
    ),
    "operations": (
        Operation,
        ("ref", "status", "title", "lead_agency_id", "incident_id", "closed_at", "close_note"),
    ),
    "tasks": (
        Task,
        (
            "operation_id", "status", "title", "assigned_agency_id", "note", "evidence",
            "reason", "completed_by_id", "cosigned_by_id", "cosigned_agency_id", "removed_at",
            "due_at", "requires_note", "requires_cosign",
        ),
    ),
    "task_assignees": (Task.assignees.through, ("task_id", "user_id")),
    "operation_counters": (OperationCounter, ("crossing_point_id", "year", "last_number")),
}  # fmt: skip

Rows = dict[str, dict[Any, tuple[Any, ...]]]


def rows() -> Rows:
    return {
        name: {
            row[0]: row for row in model._default_manager.order_by("pk").values_list("pk", *fields)
        }
        for name, (model, fields) in ROWS.items()
    }


def row_differences(before: Rows, after: Rows) -> list[str]:
    diffs: list[str] = []
    for name, old in before.items():
        new = after[name]
        for pk in sorted(set(old) | set(new), key=str):
            if old.get(pk) != new.get(pk):
                diffs.append(f"{name} {pk}: {old.get(pk)!r} -> {new.get(pk)!r}")
    return diffs


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    before: Rows
    after: Rows

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def data(self) -> Any:
        return self.outcome.data


def send(
    client: Client,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
    json_success: bool = True,
) -> Answer:
    """``exchange`` (never 5xx, JSON errors, nothing written on 4xx) plus the ops rows."""
    before = rows()
    outcome = exchange(
        client,
        method,
        path,
        body,
        content_type=content_type,
        extra=extra,
        json_success=json_success,
    )
    after = rows()
    if outcome.status >= 400:
        diffs = row_differences(before, after)
        assert not diffs, f"{outcome.where}\n-> {outcome.status} {outcome.data!r}: {diffs}"
    return Answer(outcome, before, after)


def assert_valid_write(answer: Answer, kinds: frozenset[str], max_events: int = 2) -> list[Event]:
    """A 2xx wrote at most ``max_events`` events (an alert on a linked incident's stream
    too), each of an allowed kind and valid, and at most one receipt."""
    outcome = answer.outcome
    new_events = list(
        Event.objects.filter(pk__gt=outcome.before.last_event_id)
        .select_related("stream")
        .order_by("pk")
    )
    assert len(new_events) <= max_events, (outcome.where, new_events)
    for event in new_events:
        assert event.kind in kinds, (outcome.where, event.kind)
        validate_payload(event.kind, event.payload)
    receipts = outcome.before.delta(outcome.after, "receipts")
    assert receipts <= 1, (outcome.where, receipts)
    if new_events:
        assert receipts == 1, outcome.where
    for alert in Alert.objects.filter(pk__in=changed(answer, "alerts")):
        alert.full_clean(validate_unique=False, validate_constraints=False)
        assert alert.title
        assert "\x00" not in alert.title + alert.body
        assert alert.target_rows.exists()
    for task in Task.objects.filter(pk__in=changed(answer, "tasks")):
        task.full_clean(validate_unique=False, validate_constraints=False)
        assert "\x00" not in task.title + task.note + task.evidence + task.reason
        if task.status == "done" and task.requires_cosign:
            assert task.cosigned_by_id not in (None, task.completed_by_id)
    return new_events


def changed(answer: Answer, table: str) -> list[Any]:
    old, new = answer.before[table], answer.after[table]
    return [pk for pk, row in new.items() if old.get(pk) != row]


# --- strategies ---------------------------------------------------------------------

ALERT_CATEGORIES = [
    "wanted_person",
    "trafficking_risk",
    "smuggling",
    "document_fraud",
    "vessel_of_interest",
    "security_threat",
    "health",
    "weather",
    "systems",
    "other",
]
SEVERITIES = ["low", "medium", "high", "critical"]
URGENCIES = ["Immediate", "Expected", "Future", "Past", "Unknown"]
CERTAINTIES = ["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
WDH_AGENCIES = ["NA-AIR", "NA-CUS", "NA-IMM", "NA-POL"]
OTHER_AGENCIES = ["NA-CGD", "ZA-IMM", "ZA-DHA", "XX-NONE", "na-pol", "NA-POL "]
_NOW = datetime.now(UTC).replace(tzinfo=None)
FUTURE_DATETIMES = st.datetimes(
    min_value=_NOW + timedelta(days=1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.isoformat())
EXPIRES = Field(
    st.one_of(st.none(), FUTURE_DATETIMES),
    st.one_of(
        ODD_DATES,
        st.sampled_from(["2001-01-01T00:00:00Z", "2026-01-01T00:00:00", "9999-12-31T23:59:59Z"]),
        ODD_INTS,
        ODD_VALUE,
    ),
)
BOOL = Field(st.booleans(), st.one_of(st.sampled_from(["true", "1", 1, 0, "yes"]), ODD_VALUE))
AGENCY_LISTS = Field(
    st.lists(st.sampled_from(WDH_AGENCIES), min_size=1, max_size=4, unique=True),
    st.one_of(
        st.just([]),
        st.lists(st.sampled_from(WDH_AGENCIES + OTHER_AGENCIES), max_size=60),
        st.lists(ODD_TEXT, max_size=4),
        st.lists(ODD_VALUE, max_size=3),
        ODD_VALUE,
    ),
)
AS_AGENCY = Field(
    st.sampled_from(["NA-IMM", None]),
    st.one_of(perturbed(st.just("NA-IMM")), st.sampled_from(OTHER_AGENCIES), ODD_VALUE),
)
INCIDENT_REF = Field(
    st.none(),
    st.one_of(st.sampled_from(["WDH-2026-9999", "", "x" * 33, "\x00"]), ODD_TEXT, ODD_VALUE),
)
ALERT_FIELDS = {
    "category": codes(ALERT_CATEGORIES, required=True),
    "severity": codes(SEVERITIES, required=True),
    "title": text(GOOD_TEXT, required=True),
    "body": text(GOOD_TEXT),
    "urgency": codes(URGENCIES),
    "certainty": codes(CERTAINTIES),
    "expires_at": EXPIRES,
    "targets": AGENCY_LISTS,
    "ack_required": BOOL,
    "incident": INCIDENT_REF,
    "exercise": BOOL,
    "agency": AS_AGENCY,
    "client_msg_id": CMID,
}
ISSUE_BODIES = bodies(ALERT_FIELDS)
UPDATE_BODIES = bodies(
    {
        name: Field(f.valid, f.odd)
        for name, f in ALERT_FIELDS.items()
        if name
        in {
            "category",
            "severity",
            "urgency",
            "certainty",
            "title",
            "body",
            "expires_at",
            "client_msg_id",
        }
    }
)
CANCEL_BODIES = bodies({"reason": text(GOOD_TEXT, required=True), "client_msg_id": CMID})
ACK_BODIES = bodies({"client_msg_id": Field(CMID.valid, CMID.odd, True), "agency": AS_AGENCY})

TEMPLATES = [sop.code for sop in SOPS]
START_BODIES = bodies(
    {
        "crossing_point": codes(["WDH", "WEN", "WVB"], required=True, odd=["JNB", "XXXXXXX"]),
        "template": codes(TEMPLATES, required=True, odd=["no-such-sop", "TIP-SCREENING"]),
        "template_version": Field(
            st.one_of(st.none(), st.just(1)),
            st.one_of(ODD_INTS, ODD_FLOATS, st.sampled_from(["1", 0, -1, 2]), ODD_VALUE),
        ),
        "incident": INCIDENT_REF,
        "title": text(GOOD_TEXT),
        "agency": AS_AGENCY,
        "client_msg_id": CMID,
    }
)
TASK_STATUSES = ["open", "in_progress", "done", "blocked", "not_applicable"]
USERNAMES = ["na-imm.duty", "na-pol.duty", "na-cus.coord", "na-air.senior"]
TASK_PATCHES = bodies(
    {
        "status": codes(TASK_STATUSES),
        "note": text(GOOD_TEXT),
        "evidence": text(GOOD_TEXT),
        "reason": text(GOOD_TEXT),
        "assigned_agency": codes(WDH_AGENCIES, odd=OTHER_AGENCIES + NASTY_STRINGS),
        "assignees": Field(
            st.lists(st.sampled_from(USERNAMES), max_size=3, unique=True),
            st.one_of(
                st.lists(
                    st.sampled_from([*USERNAMES, "za-imm.duty", "nobody", "NA-IMM.DUTY"]),
                    max_size=25,
                ),
                st.lists(ODD_VALUE, max_size=3),
                ODD_VALUE,
            ),
        ),
        "client_msg_id": CMID,
    }
)
AGENCY_KINDS = [
    "immigration",
    "customs",
    "coastguard",
    "airport_authority",
    "port_authority",
    "police",
    "health",
    "other",
]
ADD_BODIES = bodies(
    {
        "title": text(GOOD_TEXT, required=True),
        "agency_kind": codes(AGENCY_KINDS, required=True),
        "guidance": text(GOOD_TEXT),
        "agency": codes(WDH_AGENCIES, odd=OTHER_AGENCIES),
        "due_in_minutes": Field(
            st.integers(0, 60 * 24 * 30),
            st.one_of(ODD_INTS, ODD_FLOATS, st.sampled_from(["60", 43201, -1]), ODD_VALUE),
        ),
        "requires_note": BOOL,
        "requires_cosign": BOOL,
        "client_msg_id": CMID,
    }
)
COSIGN_BODIES = bodies({"note": text(GOOD_TEXT), "client_msg_id": CMID})
REMOVE_BODIES = bodies({"reason": text(GOOD_TEXT, required=True), "client_msg_id": CMID})
CLOSE_BODIES = bodies({"note": text(GOOD_TEXT), "client_msg_id": CMID})


# --- alert writes, body by body -----------------------------------------------------


def assert_alert_answer(answer: Answer) -> AlertOut:
    shown = AlertOut.model_validate(answer.data)
    assert Alert.objects.filter(pk=shown.id).exists()
    assert shown.crossing_point == "WDH"
    return shown


@settings(PROFILE, max_examples=150)
@given(body=ISSUE_BODIES, auth=AUTHS)
def test_issue_alert_with_any_body(world: World, body: Any, auth: str) -> None:
    answer = send(world.client(auth), "POST", f"{API}/crossing-points/WDH/alerts", encode(body))
    if answer.ok:
        shown = assert_alert_answer(answer)
        new_events = assert_valid_write(answer, frozenset({"alert.issued"}))
        if answer.outcome.status == 201:
            assert len(new_events) == 1
            assert new_events[0].payload["alert_id"] == shown.id
            assert shown.title == as_received(body["title"]).strip()
            assert shown.targets
        else:
            assert answer.outcome.status == 200  # a repeat of an earlier client_msg_id
            assert not new_events


@settings(PROFILE, max_examples=120)
@given(body=UPDATE_BODIES, auth=AUTHS)
def test_update_alert_with_any_body(world: World, body: Any, auth: str) -> None:
    answer = send(world.client(auth), "PATCH", f"{API}/alerts/{world.alert_id}", encode(body))
    if answer.ok:
        shown = assert_alert_answer(answer)
        assert shown.id == world.alert_id
        for event in assert_valid_write(answer, frozenset({"alert.updated"})):
            assert event.payload["version"] == shown.version


@settings(PROFILE, max_examples=80)
@given(body=CANCEL_BODIES, auth=AUTHS)
def test_cancel_alert_with_any_body(world: World, body: Any, auth: str) -> None:
    alert_id = issue_alert()  # a fresh, active alert each time
    answer = send(world.client(auth), "POST", f"{API}/alerts/{alert_id}/cancel", encode(body))
    if answer.ok:
        shown = assert_alert_answer(answer)
        assert (shown.id, shown.status) == (alert_id, "cancelled")
        assert_valid_write(answer, frozenset({"alert.cancelled"}))


@settings(PROFILE, max_examples=100)
@given(body=ACK_BODIES, auth=AUTHS)
def test_acknowledge_alert_with_any_body(world: World, body: Any, auth: str) -> None:
    answer = send(world.client(auth), "POST", f"{API}/alerts/{world.alert_id}/ack", encode(body))
    if answer.ok:
        shown = AckOut.model_validate(answer.data)
        assert shown.alert.id == world.alert_id
        assert "NA-IMM" not in shown.alert.pending
        assert_valid_write(answer, frozenset({"alert.acknowledged"}))


# --- operation writes, body by body -------------------------------------------------


def assert_operation_answer(answer: Answer, ref: str | None = None) -> OperationOut:
    shown = OperationOut.model_validate(answer.data)
    if ref is not None:
        assert shown.ref == ref
    assert shown.progress.total == len(shown.tasks)
    return shown


@settings(PROFILE, max_examples=100)
@given(body=START_BODIES, auth=AUTHS)
def test_start_operation_with_any_body(world: World, body: Any, auth: str) -> None:
    answer = send(world.client(auth), "POST", f"{API}/operations", encode(body))
    if answer.ok:
        shown = assert_operation_answer(answer)
        new_events = assert_valid_write(answer, frozenset({"operation.started"}))
        if answer.outcome.status == 201:
            assert [e.stream.name for e in new_events] == [f"operation:{shown.ref}"]
            assert shown.crossing_point == body["crossing_point"]
            assert shown.tasks


@settings(PROFILE, max_examples=200)
@given(body=TASK_PATCHES, position=st.integers(0, 7), auth=AUTHS)
def test_patch_task_with_any_body(world: World, body: Any, position: int, auth: str) -> None:
    path = f"{API}/operations/{world.ref}/tasks/{world.task_ids[position]}"
    answer = send(world.client(auth), "PATCH", path, encode(body))
    if answer.ok:
        assert_operation_answer(answer, world.ref)
        assert_valid_write(answer, OPERATION_KINDS, max_events=1)
        assert isinstance(body, dict)
        working = {"status", "note", "evidence", "reason"} & set(body)
        assigning = {"assigned_agency", "assignees"} & set(body)
        assert not (working and assigning), "assigning and working at once must be refused"


@settings(PROFILE, max_examples=120)
@given(body=ADD_BODIES, auth=AUTHS)
def test_add_task_with_any_body(world: World, body: Any, auth: str) -> None:
    answer = send(world.client(auth), "POST", f"{API}/operations/{world.ref}/tasks", encode(body))
    if answer.ok:
        shown = assert_operation_answer(answer, world.ref)
        new_events = assert_valid_write(answer, frozenset({"task.added"}), max_events=1)
        if answer.outcome.status == 201:
            [event] = new_events
            added = [t for t in shown.tasks if t.id == event.payload["task"]["id"]]
            assert [(t.title, t.adhoc) for t in added] == [(body["title"].strip(), True)]
        else:
            assert answer.outcome.status == 200  # a repeat of an earlier client_msg_id
            assert not new_events


@settings(PROFILE, max_examples=100)
@given(body=COSIGN_BODIES, position=st.integers(0, 7), auth=AUTHS)
def test_cosign_task_with_any_body(world: World, body: Any, position: int, auth: str) -> None:
    path = f"{API}/operations/{world.ref}/tasks/{world.task_ids[position]}/cosign"
    answer = send(world.client(auth), "POST", path, encode(body))
    if answer.ok:
        assert_operation_answer(answer, world.ref)
        for event in assert_valid_write(answer, frozenset({"task.cosigned"}), max_events=1):
            assert event.payload["agency"] == "NA-IMM"
            assert event.payload["task_id"] == world.task_ids[position]


@settings(PROFILE, max_examples=80)
@given(body=REMOVE_BODIES, auth=AUTHS)
def test_remove_task_with_any_body(world: World, body: Any, auth: str) -> None:
    added = op_services.task_add(
        actor=officer(ACTOR), ref=world.ref, title="Check the manifest", agency_kind="customs"
    )
    task_id = Task.objects.filter(operation=added.operation, is_adhoc=True).latest("id").pk
    path = f"{API}/operations/{world.ref}/tasks/{task_id}/remove"
    answer = send(world.client(auth), "POST", path, encode(body))
    if answer.ok:
        shown = assert_operation_answer(answer, world.ref)
        assert task_id not in [t.id for t in shown.tasks]
        assert_valid_write(answer, frozenset({"task.removed"}), max_events=1)


@settings(PROFILE, max_examples=60)
@given(body=CLOSE_BODIES, auth=AUTHS)
def test_close_operation_with_any_body(world: World, body: Any, auth: str) -> None:
    ref = start_operation().ref  # a fresh, active operation each time
    answer = send(world.client(auth), "POST", f"{API}/operations/{ref}/close", encode(body))
    if answer.ok:
        shown = assert_operation_answer(answer, ref)
        assert shown.status == "closed"
        assert_valid_write(answer, frozenset({"operation.closed"}), max_events=1)


# --- raw bytes, every endpoint ------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable[[World], str]
    valid_body: SearchStrategy[Any]


def truncated(endpoint: Endpoint) -> SearchStrategy[bytes]:
    return endpoint.valid_body.map(encode).flatmap(
        lambda raw: st.integers(0, len(raw) - 1).map(lambda cut: raw[:cut])
    )


def _fixed(**values: Any) -> SearchStrategy[Any]:
    return st.fixed_dictionaries({k: st.just(v) for k, v in values.items()})


ENDPOINTS = {
    e.name: e
    for e in [
        Endpoint(
            "issue",
            "POST",
            lambda w: f"{API}/crossing-points/WDH/alerts",
            _fixed(category="health", severity="low", title="Fever screening"),
        ),
        Endpoint("update", "PATCH", lambda w: f"{API}/alerts/{w.alert_id}", _fixed(title="New")),
        Endpoint(
            "cancel", "POST", lambda w: f"{API}/alerts/{w.alert_id}/cancel", _fixed(reason="Over")
        ),
        Endpoint(
            "ack",
            "POST",
            lambda w: f"{API}/alerts/{w.alert_id}/ack",
            st.fixed_dictionaries({"client_msg_id": CLIENT_MSG_IDS}),
        ),
        Endpoint(
            "start",
            "POST",
            lambda w: f"{API}/operations",
            _fixed(crossing_point="WDH", template="tip-screening"),
        ),
        Endpoint(
            "patch_task",
            "PATCH",
            lambda w: f"{API}/operations/{w.ref}/tasks/{w.task_ids[5]}",
            _fixed(status="in_progress"),
        ),
        Endpoint(
            "add_task",
            "POST",
            lambda w: f"{API}/operations/{w.ref}/tasks",
            _fixed(title="Call the airline", agency_kind="customs"),
        ),
        Endpoint(
            "cosign",
            "POST",
            lambda w: f"{API}/operations/{w.ref}/tasks/{w.task_ids[4]}/cosign",
            _fixed(note="Witnessed"),
        ),
        Endpoint(
            "remove",
            "POST",
            lambda w: f"{API}/operations/{w.ref}/tasks/{w.task_ids[0]}/remove",
            _fixed(reason="Not needed"),
        ),
        Endpoint("close", "POST", lambda w: f"{API}/operations/{w.ref}/close", _fixed(note="Done")),
    ]
}


def raw_bodies(endpoint: Endpoint) -> SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=64),
        st.sampled_from(RAW_SAMPLES),
        truncated(endpoint),
        st.sampled_from(
            [
                b'{"targets": "NA-POL"}',
                b'{"targets": [null]}',
                b'{"assignees": {"a": 1}}',
                b'{"due_in_minutes": 1e999}',
                b'{"template_version": 1.5}',
                b'{"expires_at": "2026-02-30T00:00:00Z"}',
                b'{"status": "done", "assigned_agency": "NA-POL"}',
            ]
        ),
    )


@settings(PROFILE, max_examples=200)
@given(
    case=st.sampled_from(sorted(ENDPOINTS)).flatmap(
        lambda name: st.tuples(st.just(name), raw_bodies(ENDPOINTS[name]))
    ),
    content_type=CONTENT_TYPES,
    content_length=CONTENT_LENGTHS,
    auth=AUTH_MODES,
)
def test_raw_bodies_on_every_alert_and_operation_endpoint(
    world: World, case: tuple[str, bytes], content_type: str, content_length: str | None, auth: str
) -> None:
    name, raw = case
    endpoint = ENDPOINTS[name]
    extra = {"REMOTE_ADDR": fresh_address()}
    if content_length is not None:
        extra["CONTENT_LENGTH"] = content_length
    answer = send(
        world.client(auth),
        endpoint.method,
        endpoint.path(world),
        raw,
        content_type=content_type,
        extra=extra,
    )
    status, data = answer.outcome.status, answer.data
    try:
        declared = int(content_length or "0")
    except ValueError:
        declared = None
    if declared is None:
        assert (status, data["code"]) == (400, "bad_request"), answer.outcome.where
    elif declared > LIMIT:
        assert (status, data["code"]) == (413, "payload_too_large"), answer.outcome.where
    elif auth == "anonymous" or auth.startswith("bad-bearer:"):
        assert (status, data["code"]) == (401, "unauthenticated"), answer.outcome.where
    elif auth == "csrf":
        assert (status, data["code"]) == (403, "csrf_failed"), answer.outcome.where
    if answer.ok:
        assert_valid_write(answer, ALERT_KINDS | OPERATION_KINDS)


# --- odd ids and refs in the path ---------------------------------------------------

ODD_IDS = st.one_of(
    st.sampled_from(["own", "foreign"]),
    MESSAGE_ID_LITERALS,
)
REF_LITERALS = st.one_of(
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "%00",
            "\x00",
            "\n",
            "OP-WDH-2026-9999",
            "op-wdh-2026-0001",
            "OP-" + "W" * 60,
            "W" * 1000,
            "*",
            "OP-WDH-2026-0001'--",
        ]
    ),
    st.text(min_size=1, max_size=40),
)
REF_CHOICES = st.one_of(
    st.sampled_from(["own", "foreign", "own-lower", "own-space", "own-newline", "own-nul"]),
    REF_LITERALS.map(lambda literal: f"literal:{literal}"),
)


def resolve_ref(world: World, choice: str) -> str:
    if choice.startswith("literal:"):
        return choice.removeprefix("literal:")
    return {
        "own": world.ref,
        "foreign": world.foreign_ref,
        "own-lower": world.ref.lower(),
        "own-space": world.ref + " ",
        "own-newline": world.ref + "\n",
        "own-nul": world.ref + "\x00",
    }[choice]


ALERT_PATHS: dict[str, tuple[str, str, Callable[[], Any]]] = {
    "detail": ("GET", "", lambda: None),
    "cap": ("GET", "/cap", lambda: None),
    "update": ("PATCH", "", lambda: {"title": "Renamed"}),
    "cancel": ("POST", "/cancel", lambda: {"reason": "Over"}),
    "ack": ("POST", "/ack", lambda: {"client_msg_id": str(uuid.uuid4())}),
}


@settings(PROFILE, max_examples=150)
@given(action=st.sampled_from(sorted(ALERT_PATHS)), which=ODD_IDS, auth=AUTHS)
def test_odd_alert_ids_in_the_path(world: World, action: str, which: str, auth: str) -> None:
    alert_id = {"own": str(world.alert_id), "foreign": str(world.foreign_alert_id)}.get(
        which, which
    )
    method, suffix, body = ALERT_PATHS[action]
    path = f"{API}/alerts/{quote(alert_id, safe='')}{suffix}"
    payload = body()
    answer = send(
        world.client(auth),
        method,
        path,
        b"" if payload is None else encode(payload),
        json_success=action != "cap",
    )
    if which == "foreign":
        assert 400 <= answer.outcome.status < 500, answer.outcome.where
    if answer.ok and action != "cap":
        # A literal may still name the own alert ("1.0" is read as 1): never another.
        shown = answer.data["alert"] if action == "ack" else answer.data
        assert shown["id"] == world.alert_id, answer.outcome.where
    if answer.ok and method != "GET":
        assert_valid_write(answer, ALERT_KINDS)
    if method == "GET":
        assert answer.outcome.before.differences(answer.outcome.after) == []
        assert row_differences(answer.before, answer.after) == []


OPERATION_PATHS: dict[str, tuple[str, str, Callable[[], Any]]] = {
    "detail": ("GET", "", lambda: None),
    "patch_task": ("PATCH", "/tasks/{task}", lambda: {"note": "Checked."}),
    "add_task": ("POST", "/tasks", lambda: {"title": "Call", "agency_kind": "police"}),
    "cosign": ("POST", "/tasks/{task}/cosign", lambda: {}),
    "remove": ("POST", "/tasks/{task}/remove", lambda: {"reason": "Not needed"}),
    "close": ("POST", "/close", lambda: {}),
}


@settings(PROFILE, max_examples=200)
@given(
    action=st.sampled_from(sorted(OPERATION_PATHS)),
    ref_choice=REF_CHOICES,
    task_choice=ODD_IDS,
    auth=AUTHS,
)
def test_odd_refs_and_task_ids_in_the_path(
    world: World, action: str, ref_choice: str, task_choice: str, auth: str
) -> None:
    ref = resolve_ref(world, ref_choice)
    task = {"own": str(world.task_ids[1]), "foreign": str(world.foreign_task_id)}.get(
        task_choice, task_choice
    )
    method, suffix, body = OPERATION_PATHS[action]
    path = f"{API}/operations/{quote(ref, safe='')}" + suffix.format(task=quote(task, safe=""))
    payload = body()
    answer = send(world.client(auth), method, path, b"" if payload is None else encode(payload))
    uses_task = "{task}" in suffix
    if ref != world.ref or (uses_task and task_choice == "foreign"):
        assert 400 <= answer.outcome.status < 500, answer.outcome.where
    if answer.ok:
        assert answer.data["ref"] == world.ref, answer.outcome.where
    if answer.ok and method != "GET":
        assert_valid_write(answer, OPERATION_KINDS, max_events=1)
    if method == "GET":
        assert row_differences(answer.before, answer.after) == []


# --- list and read query strings ----------------------------------------------------

QUERY_VALUES = st.one_of(
    st.sampled_from(["WDH", "active", "closed", "true", "false", "1", "200", "501", "0", "-1"]),
    MESSAGE_ID_LITERALS,
    ODD_TEXT,
)
READS = {
    "operations": (f"{API}/operations", ["crossing_point", "status", "limit"]),
    "alerts": (f"{API}/crossing-points/WDH/alerts", ["current", "limit"]),
    "atom": (f"{API}/crossing-points/WDH/alerts.atom", ["current"]),
    "templates": (f"{API}/checklist-templates/tip-screening", ["version"]),
    "point-alerts": (f"{API}/crossing-points/{{code}}/alerts", ["limit"]),
}


@settings(PROFILE, max_examples=150)
@given(
    target=st.sampled_from(sorted(READS)),
    keys=st.lists(st.one_of(st.sampled_from(["limit", "x"]), st.text(max_size=6)), max_size=2),
    values=st.lists(QUERY_VALUES, min_size=3, max_size=3),
    code=st.one_of(st.sampled_from(["WDH", "JNB", "WVB", "wdh", "WDH\x00", ""]), ODD_TEXT),
    auth=AUTHS,
)
def test_list_and_read_query_strings(
    world: World, target: str, keys: list[str], values: list[Any], code: str, auth: str
) -> None:
    path, known = READS[target]
    path = path.format(code=quote(code, safe="", errors="surrogatepass"))
    params = dict(zip([*known, *keys], values, strict=False))
    answer = send(
        world.client(auth),
        "GET",
        path + _query({str(k): str(v) for k, v in params.items()}),
        json_success=target != "atom",
    )
    assert answer.outcome.before.differences(answer.outcome.after) == []
    assert row_differences(answer.before, answer.after) == []


# --- CAP import: any bytes ----------------------------------------------------------

XML_SAMPLES = [
    b"<alert/>",
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
    b'<?xml version="1.0"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
    b"<identifier>x</identifier></alert>",
    b"<!DOCTYPE a [<!ENTITY b 'c'>]><a>&b;</a>",
    b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
    b"<?xml version='1.0' encoding='utf-16'?><a/>",
    b"<a>" * 5000,
    b"\xef\xbb\xbf<a/>",
    b"<a>\x00</a>",
]


@settings(PROFILE, max_examples=120)
@given(
    raw=st.one_of(st.binary(max_size=200), st.sampled_from(XML_SAMPLES), ANY_JSON.map(encode)),
    content_type=st.sampled_from(
        ["application/cap+xml", "application/xml", "text/xml", "application/json", ""]
    ),
    code=st.sampled_from(["WDH", "JNB", "XXX"]),
    auth=AUTHS,
)
def test_cap_import_with_any_bytes(
    world: World, raw: bytes, content_type: str, code: str, auth: str
) -> None:
    answer = send(
        world.client(auth),
        "POST",
        f"{API}/crossing-points/{code}/alerts/cap",
        raw,
        content_type=content_type,
    )
    if answer.ok:
        assert_alert_answer(answer)
        assert_valid_write(answer, frozenset({"alert.issued"}))


def test_incident_refs_of_other_points_are_refused_without_writes(world: World) -> None:
    """An alert or operation linked to an incident elsewhere, or unknown: 4xx, nothing written."""
    elsewhere = report("za-imm.duty", "JNB").ref
    for ref in (elsewhere, "WDH-1999-0001", elsewhere.lower()):
        answer = send(
            world.session,
            "POST",
            f"{API}/crossing-points/WDH/alerts",
            encode({"category": "health", "severity": "low", "title": "x", "incident": ref}),
        )
        assert 400 <= answer.outcome.status < 500
        answer = send(
            world.session,
            "POST",
            f"{API}/operations",
            encode({"crossing_point": "WDH", "template": "tip-screening", "incident": ref}),
        )
        assert 400 <= answer.outcome.status < 500
