"""Authorization matrix for situation reports: role x relation x action, service and REST.

Everything happens at WDH (Hosea Kutako airport, Namibia), where NA-IMM, NA-CUS,
NA-POL and NA-AIR are deployed. Callers are the demo officers
``<agency>.<duty|coord|senior|admin>`` of one agency per relation, in the four roles.

Incidents. ``na-imm.duty`` reports one (visible to participants only), so NA-IMM
reports and leads it; NA-CUS is invited. Relations: ``own`` (NA-IMM, the lead),
``participant`` (NA-CUS), ``point`` (NA-POL, at WDH but not participating) and
``foreign`` (ZA-IMM, serving JNB, BBR and DUR only).

Joint operations. ``na-imm.coord`` starts one from the ``tip-screening`` SOP, so
NA-IMM leads and NA-POL and NA-CUS have tasks. Relations: ``lead`` (NA-IMM),
``tasked`` (NA-POL), ``untasked`` (NA-AIR), ``foreign`` (ZA-IMM).

Both subjects have a report (number 1) and a cadence, set by ``na-imm.coord``.
Actions: ``read`` (the reports and cadence: ``GET .../sitreps``), ``post`` (a
report), ``cadence`` (set it to 30 minutes), ``board`` (the crossing point's
reports due: ``GET /crossing-points/WDH/sitreps-due``, where the subject is listed,
``absent``, or the point is hidden, 404).

Every action runs through the service layer (``hub.sitreps.services`` and, for
reads, the access-checked selectors the API calls) and through the REST endpoints.
``TABLES`` spell out the expected outcome of each cell, derived by hand from
``hub.sitreps.permissions`` (which defers reading to the incident's and the
operation's rules) and the order of checks in the services: allowed, 404
``not_found`` (the caller may not see the subject), 403 ``forbidden`` (they see it
but do not coordinate for its lead agency). An allowed write appends exactly its
event to the subject's stream and changes exactly its rows; a refused one, and every
read, leaves every event, stream, receipt and row as it was; every refusal is
logged on ``hub.security`` with the user and the action.

The demo region and both subjects are built once per module inside a transaction
rolled back at the end; each cell runs in a savepoint rolled back after it.
"""

from __future__ import annotations

import logging
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from django.test import Client
from pytest_django import DjangoDbBlocker

from hub.accounts.models import User
from hub.agencies.selectors import access_for
from hub.errors import Forbidden, HubError, NotFound
from hub.events.models import Event, Stream, WriteReceipt
from hub.incidents import services as incident_services
from hub.operations import services as op_services
from hub.operations.sops import seed_templates
from hub.sitreps import services
from hub.sitreps.models import SitrepSubject, SituationReport
from hub.sitreps.selectors import sitreps_due_at, sitreps_page
from tests.factories import Api, officer, report, seed
from tests.integration.conftest import MATRIX_PROPERTY

pytestmark = pytest.mark.django_db

# --- the tables -----------------------------------------------------------------------

OK = "OK"
NOT_FOUND = "404"
FORBIDDEN = "403"
ABSENT = "absent"  # the board answers 200, without this subject
OUTCOMES = (OK, NOT_FOUND, FORBIDDEN, ABSENT)
REFUSALS = (NOT_FOUND, FORBIDDEN)

ROLES = ("duty", "coord", "senior", "admin")
INCIDENT = "incident"
OPERATION = "operation"
RELATIONS: dict[str, dict[str, str]] = {
    INCIDENT: {"own": "NA-IMM", "participant": "NA-CUS", "point": "NA-POL", "foreign": "ZA-IMM"},
    OPERATION: {"lead": "NA-IMM", "tasked": "NA-POL", "untasked": "NA-AIR", "foreign": "ZA-IMM"},
}
SERVICE = "service"
REST = "rest"
LAYERS = (SERVICE, REST)

# Incident (participants only): who reads it reads its reports — officers of a
# participating agency and senior officials serving WDH (NA-POL's senior official
# too), never admins by that role; posting and the cadence are for coordinators of
# the lead agency (NA-IMM) only: 403 for every other reader, 404 for the rest. The
# board: officers serving WDH (admins do not read anything there: 404), listing the
# incident only to its readers.
INCIDENT_TABLE: dict[str, str] = {
    "read": """
        own          OK   OK   OK   404
        participant  OK   OK   OK   404
        point        404  404  OK   404
        foreign      404  404  404  404
    """,
    "post": """
        own          403  OK   403  404
        participant  403  403  403  404
        point        404  404  403  404
        foreign      404  404  404  404
    """,
    "cadence": """
        own          403  OK   403  404
        participant  403  403  403  404
        point        404  404  403  404
        foreign      404  404  404  404
    """,
    "board": """
        own          OK      OK      OK   404
        participant  OK      OK      OK   404
        point        absent  absent  OK   404
        foreign      404     404     404  404
    """,
}
# Operation: readers are the lead agency's and tasked agencies' officers and senior
# officials serving WDH (NA-AIR's too); posting and the cadence are for NA-IMM's
# coordinators (NA-POL's coordinator manages the operation, but does not lead it).
OPERATION_TABLE: dict[str, str] = {
    "read": """
        lead      OK   OK   OK   404
        tasked    OK   OK   OK   404
        untasked  404  404  OK   404
        foreign   404  404  404  404
    """,
    "post": """
        lead      403  OK   403  404
        tasked    403  403  403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "cadence": """
        lead      403  OK   403  404
        tasked    403  403  403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "board": """
        lead      OK      OK      OK   404
        tasked    OK      OK      OK   404
        untasked  absent  absent  OK   404
        foreign   404     404     404  404
    """,
}
TABLES = {INCIDENT: INCIDENT_TABLE, OPERATION: OPERATION_TABLE}
WRITE_KINDS = {"post": "sitrep.posted", "cadence": "sitrep.cadence_set"}
LOGGED_ACTIONS = {
    "read": "sitrep.read",
    "board": "sitrep.read",
    "post": "sitrep.post",
    "cadence": "sitrep.cadence",
}


@dataclass(frozen=True)
class Cell:
    domain: str
    layer: str
    action: str
    relation: str
    role: str
    expected: str

    @property
    def username(self) -> str:
        return f"{RELATIONS[self.domain][self.relation].lower()}.{self.role}"

    @property
    def id(self) -> str:
        return f"{self.layer}-{self.domain}-{self.action}-{self.relation}-{self.username}"


def parse_tables() -> list[Cell]:
    cells: list[Cell] = []
    for domain, table in TABLES.items():
        for action, block in table.items():
            seen: list[str] = []
            for line in textwrap.dedent(block).strip().splitlines():
                relation, *outcomes = line.split()
                assert relation in RELATIONS[domain], line
                assert relation not in seen, line
                assert len(outcomes) == len(ROLES), line
                assert all(o in OUTCOMES for o in outcomes), line
                seen.append(relation)
                for layer in LAYERS:
                    for role, expected in zip(ROLES, outcomes, strict=True):
                        cells.append(Cell(domain, layer, action, relation, role, expected))
            assert seen == list(RELATIONS[domain]), (domain, action)
    return cells


CELLS = parse_tables()
# 2 subjects x 4 actions x 2 layers x 4 relations x 4 roles.
EXPECTED_CELL_COUNT = 2 * 4 * 2 * 4 * 4

# --- the world ------------------------------------------------------------------------

POINT = "WDH"
LEAD = "na-imm.coord"
CALLERS = sorted(
    {
        f"{agency.lower()}.{role}"
        for relations in RELATIONS.values()
        for agency in relations.values()
        for role in ROLES
    }
)


@dataclass(frozen=True)
class World:
    refs: dict[str, str]  # domain -> the incident's or operation's ref
    clients: dict[str, Api]


def build_world() -> World:
    incident = report("na-imm.duty", POINT)
    incident_services.incident_invite_agency(actor=officer(LEAD), ref=incident.ref, agency="NA-CUS")
    seed_templates()
    operation = op_services.operation_start(
        actor=officer(LEAD), crossing_point=POINT, template="tip-screening"
    ).operation
    tasked = set(operation.tasks.values_list("assigned_agency__code", flat=True))
    # The relations the tables assume.
    assert operation.lead_agency.code == "NA-IMM"
    assert {"NA-IMM", "NA-POL", "NA-CUS"} <= tasked
    assert "NA-AIR" not in tasked
    refs = {INCIDENT: incident.ref, OPERATION: operation.ref}
    for kind, ref in refs.items():
        services.sitrep_cadence_set(actor=officer(LEAD), kind=kind, ref=ref, every_minutes=60)
        services.sitrep_post(
            actor=officer(LEAD),
            kind=kind,
            ref=ref,
            situation="Screening under way.",
            client_msg_id=uuid.uuid4(),
        )
    clients = {username: Api(username) for username in CALLERS}
    return World(refs=refs, clients=clients)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        assert "test" in str(connection.settings_dict["NAME"]), connection.settings_dict["NAME"]
        seed()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)


# --- observing the database -----------------------------------------------------------

Rows = dict[Any, tuple[Any, ...]]


def _rows(qs: QuerySet[Any], *fields: str) -> Rows:
    return {row[0]: row for row in qs.order_by("pk").values_list("pk", *fields)}


def snapshot() -> dict[str, Rows]:
    return {
        "events": _rows(Event.objects.all(), "stream_id", "seq", "hash"),
        "streams": _rows(Stream.objects.all(), "name", "last_seq", "last_hash"),
        "receipts": _rows(WriteReceipt.objects.all(), "actor_id", "action"),
        "subjects": _rows(
            SitrepSubject.objects.all(),
            "stream_name", "reports", "last_report_at", "every_minutes", "cadence_set_at",
            "cadence_set_by_id", "due_at", "reminded_at",
        ),
        "reports": _rows(SituationReport.objects.all(), "subject_id", "number", "seq"),
    }  # fmt: skip


def changed_tables(before: dict[str, Rows], after: dict[str, Rows]) -> dict[str, tuple[int, int]]:
    """Per table with a change: (rows changed, rows added); none may be removed."""
    out: dict[str, tuple[int, int]] = {}
    for table, old in before.items():
        new = after[table]
        assert set(old) <= set(new), f"rows removed from {table}"
        changed = sum(1 for pk in old if old[pk] != new[pk])
        added = len(set(new) - set(old))
        if changed or added:
            out[table] = (changed, added)
    return out


# --- performing an action -------------------------------------------------------------


def from_service(call: Callable[[], object]) -> str:
    try:
        call()
    except HubError as exc:
        if isinstance(exc, NotFound) and exc.code == "not_found":
            return NOT_FOUND
        if isinstance(exc, Forbidden) and exc.code == "forbidden":
            return FORBIDDEN
        return f"unexpected {type(exc).__name__} {exc.code}: {exc.detail}"
    return OK


def from_response(response: Any, ok_status: int = 200) -> str:
    if response.status_code == ok_status:
        return OK
    body = response.json()
    if response.status_code == 404 and body.get("code") == "not_found":
        return NOT_FOUND
    if response.status_code == 403 and body.get("code") == "forbidden":
        return FORBIDDEN
    return f"unexpected {response.status_code}: {body}"


@dataclass(frozen=True)
class Call:
    world: World
    cell: Cell

    @property
    def actor(self) -> User:
        return officer(self.cell.username)

    @property
    def ref(self) -> str:
        return self.world.refs[self.cell.domain]

    @property
    def stream(self) -> str:
        return f"{self.cell.domain}:{self.ref}"

    @property
    def api(self) -> Api:
        return self.world.clients[self.cell.username]


def service_call(c: Call) -> str:
    kind, action = c.cell.domain, c.cell.action
    if action == "read":
        page = sitreps_page(access_for(c.actor), kind, c.ref)
        if page is None:
            return NOT_FOUND
        assert [r.number for r in page.reports] == [1]
        return OK
    if action == "board":
        views = sitreps_due_at(access_for(c.actor), POINT)
        if views is None:
            return NOT_FOUND
        return OK if c.stream in [v.subject.stream_name for v in views] else ABSENT
    if action == "post":
        return from_service(
            lambda: services.sitrep_post(
                actor=c.actor,
                kind=kind,
                ref=c.ref,
                situation="Four interviewed.",
                client_msg_id=uuid.uuid4(),
            )
        )
    assert action == "cadence", action
    return from_service(
        lambda: services.sitrep_cadence_set(actor=c.actor, kind=kind, ref=c.ref, every_minutes=30)
    )


def rest_call(c: Call) -> str:
    base = f"/api/v1/{c.cell.domain}s/{c.ref}"
    action = c.cell.action
    if action == "read":
        response = c.api.get(f"{base}/sitreps")
        if response.status_code == 200:
            assert [r["number"] for r in response.json()["items"]] == [1]
        return from_response(response)
    if action == "board":
        response = c.api.get(f"/api/v1/crossing-points/{POINT}/sitreps-due")
        if response.status_code == 200:
            return OK if c.stream in [r["stream"] for r in response.json()] else ABSENT
        return from_response(response)
    if action == "post":
        response = c.api.post(
            f"{base}/sitreps",
            {"situation": "Four interviewed.", "client_msg_id": str(uuid.uuid4())},
        )
        return from_response(response, 201)
    assert action == "cadence", action
    return from_response(c.api.put(f"{base}/sitrep-cadence", {"every_minutes": 30}))


def perform(c: Call) -> str:
    return service_call(c) if c.cell.layer == SERVICE else rest_call(c)


def check_written(c: Call, before: dict[str, Rows]) -> None:
    """An allowed write appended exactly its event, by the caller, and changed its rows."""
    after = snapshot()
    added = set(after["events"]) - set(before["events"])
    assert len(added) == 1, added
    event = Event.objects.select_related("stream", "actor_agency").get(pk=added.pop())
    assert event.kind == WRITE_KINDS[c.cell.action]
    assert event.stream.name == c.stream
    assert event.actor_id == c.actor.pk
    assert event.actor_agency is not None
    assert event.actor_agency.code == "NA-IMM"
    head = next(r[2] for r in before["streams"].values() if r[1] == c.stream)
    assert event.seq == head + 1
    expected = {"events": (0, 1), "streams": (1, 0), "receipts": (0, 1), "subjects": (1, 0)}
    if c.cell.action == "post":
        expected["reports"] = (0, 1)
        report = SituationReport.objects.get(seq=event.seq, subject__stream_name=c.stream)
        assert (report.number, report.author_id) == (2, c.actor.pk)
        assert event.payload["number"] == 2
    else:
        assert event.payload["every_minutes"] == 30
        assert SitrepSubject.objects.get(stream_name=c.stream).every_minutes == 30
    assert changed_tables(before, after) == expected


# --- the matrix -----------------------------------------------------------------------


def security_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hub.security"]


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_authorization_cell(
    cell: Cell,
    world: World,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
) -> None:
    record_property(MATRIX_PROPERTY, "sitreps")
    call = Call(world, cell)
    before = snapshot()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        outcome = perform(call)

    assert outcome == cell.expected, f"{cell.id}: expected {cell.expected}, got {outcome}"
    if cell.expected == OK and cell.action in WRITE_KINDS:
        check_written(call, before)
    else:
        assert changed_tables(before, snapshot()) == {}
    denials = security_records(caplog)
    if cell.expected in REFUSALS:
        assert len(denials) == 1, [r.getMessage() for r in denials]
        record = denials[0]
        assert record.__dict__["denied_user_id"] == officer(cell.username).pk
        assert record.__dict__["denied_action"] == LOGGED_ACTIONS[cell.action]
        target = POINT if cell.action == "board" else call.ref
        assert record.__dict__["denied_target"] == target
        assert record.__dict__["denied_reason"]
    else:
        assert denials == [], [r.getMessage() for r in denials]


# --- relations that change ------------------------------------------------------------


def test_posting_follows_the_lead(world: World) -> None:
    """Handing the incident's lead to NA-CUS hands its reports over too."""
    ref = world.refs[INCIDENT]
    incident_services.incident_set_lead(actor=officer(LEAD), ref=ref, agency="NA-CUS")
    url = f"/api/v1/incidents/{ref}/sitreps"

    def attempt(username: str) -> str:
        body = {"situation": "Handover done.", "client_msg_id": str(uuid.uuid4())}
        return from_response(world.clients[username].post(url, body), 201)

    assert attempt(LEAD) == FORBIDDEN
    assert attempt("na-cus.coord") == OK
    cadence = world.clients["na-cus.coord"].put(
        f"/api/v1/incidents/{ref}/sitrep-cadence", {"every_minutes": 15}
    )
    assert cadence.status_code == 200


# --- complete, and every endpoint covered ---------------------------------------------

ENDPOINT_ACTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/api/v1/incidents/{ref}/sitreps"): (INCIDENT, "read"),
    ("POST", "/api/v1/incidents/{ref}/sitreps"): (INCIDENT, "post"),
    ("PUT", "/api/v1/incidents/{ref}/sitrep-cadence"): (INCIDENT, "cadence"),
    ("GET", "/api/v1/operations/{ref}/sitreps"): (OPERATION, "read"),
    ("POST", "/api/v1/operations/{ref}/sitreps"): (OPERATION, "post"),
    ("PUT", "/api/v1/operations/{ref}/sitrep-cadence"): (OPERATION, "cadence"),
    ("GET", "/api/v1/crossing-points/{code}/sitreps-due"): (INCIDENT, "board"),
}


def test_the_matrix_is_complete_and_covers_every_situation_report_endpoint() -> None:
    expected = {
        (domain, layer, action, relation, role)
        for domain, table in TABLES.items()
        for action in table
        for layer in LAYERS
        for relation in RELATIONS[domain]
        for role in ROLES
    }
    cells = {(c.domain, c.layer, c.action, c.relation, c.role) for c in CELLS}
    assert cells == expected
    assert len(CELLS) == len(expected) == EXPECTED_CELL_COUNT
    assert len({cell.id for cell in CELLS}) == len(CELLS)
    for domain, action in ENDPOINT_ACTIONS.values():
        assert action in TABLES[domain]
    schema = Client().get("/api/v1/openapi.json").json()
    sitrep_operations = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if "/sitrep" in path
    }
    assert sitrep_operations == set(ENDPOINT_ACTIONS)
