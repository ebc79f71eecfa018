"""Authorization matrix for SOP checklist templates: caller x action, service and REST.

The rule under test (``hub.operations.permissions``, "SOP checklist templates"):

- read (the list, one version, the versions, a diff, the ``template:<CODE>`` stream):
  any account with an active membership, whatever its role, agency, country or
  crossing point, and superusers;
- write (a new template, a new version): holders of an active ``admin`` membership,
  of any agency, and superusers.

Templates belong to no agency and no crossing point, so the rows are the caller's
agency only to show that it makes no difference: ``immigration`` (NA-IMM, serving
WDH, WEN and WVB), ``police`` (NA-POL), ``foreign`` (ZA-IMM, another country) and
``elsewhere`` (NA-CGD, the port of Walvis Bay only); the columns are the demo roles.
``ACCOUNT_TABLE`` adds the accounts outside that grid: a ``superuser`` with no
membership, ``nobody`` (signed in, no membership) and a ``former_admin`` whose
admin membership has ended.

The world: the demo region, the standard SOPs (``load_sops``: v1 of each, from
code) and a v2 of ``tip-screening`` written in the browser by ``na-imm.admin``.
Each cell runs in a savepoint rolled back after it. An allowed write must append
exactly its ``template.published`` (to ``template:FLOOD-RESPONSE``, a new stream,
for ``create``; to ``template:TIP-SCREENING`` for ``revise``), by the caller for
their admin agency (none for the superuser), and add exactly its rows; a refusal
and every read leave every event, stream, receipt, template and item as it was.
Every refusal is logged once on ``hub.security`` with the user and the action.
Outcomes: OK, 403 ``forbidden`` (the account may not do this), 404 ``not_found``
(the stream of a caller who may not read it: streams never say "forbidden").
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from django.test import Client
from pytest_django import DjangoDbBlocker

from hub.accounts.models import User
from hub.agencies.models import Agency, Membership
from hub.agencies.selectors import access_for
from hub.errors import Forbidden, HubError, NotFound
from hub.events.models import Event, Stream, WriteReceipt
from hub.events.selectors import stream_events_for
from hub.events.types import validate_payload
from hub.operations import services
from hub.operations.models import ChecklistTemplate, TemplateItem
from hub.operations.selectors import (
    template_diff_for,
    template_for,
    template_versions_for,
    templates_for,
)
from hub.operations.sops import SOPS, load_sops
from hub.operations.templates import ItemDraft
from tests.factories import Api, officer, seed
from tests.integration.conftest import MATRIX_PROPERTY

pytestmark = pytest.mark.django_db

OK = "OK"
FORBIDDEN = "403"
NOT_FOUND = "404"
OUTCOMES = (OK, FORBIDDEN, NOT_FOUND)

ROLES = ("duty", "coord", "senior", "admin")
RELATIONS = {"immigration": "NA-IMM", "police": "NA-POL", "foreign": "ZA-IMM",
             "elsewhere": "NA-CGD"}  # fmt: skip
ACCOUNTS = ("superuser", "nobody", "former_admin")
ACCOUNT_USERS = {"superuser": "root", "nobody": "nobody", "former_admin": "former.admin"}
SERVICE = "service"
REST = "rest"
LAYERS = (SERVICE, REST)

# Written out from the rule above, not computed.
ROLE_TABLE: dict[str, str] = {
    "list": """
        immigration  OK   OK   OK   OK
        police       OK   OK   OK   OK
        foreign      OK   OK   OK   OK
        elsewhere    OK   OK   OK   OK
    """,
    "read": """
        immigration  OK   OK   OK   OK
        police       OK   OK   OK   OK
        foreign      OK   OK   OK   OK
        elsewhere    OK   OK   OK   OK
    """,
    "versions": """
        immigration  OK   OK   OK   OK
        police       OK   OK   OK   OK
        foreign      OK   OK   OK   OK
        elsewhere    OK   OK   OK   OK
    """,
    "diff": """
        immigration  OK   OK   OK   OK
        police       OK   OK   OK   OK
        foreign      OK   OK   OK   OK
        elsewhere    OK   OK   OK   OK
    """,
    "read_stream": """
        immigration  OK   OK   OK   OK
        police       OK   OK   OK   OK
        foreign      OK   OK   OK   OK
        elsewhere    OK   OK   OK   OK
    """,
    "create": """
        immigration  403  403  403  OK
        police       403  403  403  OK
        foreign      403  403  403  OK
        elsewhere    403  403  403  OK
    """,
    "revise": """
        immigration  403  403  403  OK
        police       403  403  403  OK
        foreign      403  403  403  OK
        elsewhere    403  403  403  OK
    """,
}
# Columns: superuser, nobody, former_admin.
ACCOUNT_TABLE: dict[str, str] = {
    "list": "OK 403 403",
    "read": "OK 403 403",
    "versions": "OK 403 403",
    "diff": "OK 403 403",
    "read_stream": "OK 404 404",
    "create": "OK 403 403",
    "revise": "OK 403 403",
}
WRITES = {"create": "template.create", "revise": "template.revise"}
LOGGED_ACTIONS = {
    "list": "template.read",
    "read": "template.read",
    "versions": "template.read",
    "diff": "template.read",
    "read_stream": "stream.read",
    **WRITES,
}
# Every template endpoint, and the actions its cells check.
ENDPOINT_ACTIONS = {
    ("GET", "/api/v1/checklist-templates"): "list",
    ("POST", "/api/v1/checklist-templates"): "create",
    ("GET", "/api/v1/checklist-templates/{code}"): "read",
    ("GET", "/api/v1/checklist-templates/{code}/versions"): "versions",
    ("POST", "/api/v1/checklist-templates/{code}/versions"): "revise",
    ("GET", "/api/v1/checklist-templates/{code}/diff"): "diff",
}


@dataclass(frozen=True)
class Cell:
    layer: str
    action: str
    row: str  # a relation (agency) or an account
    role: str  # a role, or "" for an account row
    expected: str

    @property
    def username(self) -> str:
        if self.row in ACCOUNTS:
            return ACCOUNT_USERS[self.row]
        return f"{RELATIONS[self.row].lower()}.{self.role}"

    @property
    def id(self) -> str:
        return f"{self.layer}-{self.action}-{self.row}-{self.username}"


def parse() -> list[Cell]:
    cells: list[Cell] = []
    assert set(ROLE_TABLE) == set(ACCOUNT_TABLE) == set(LOGGED_ACTIONS)
    for action, block in ROLE_TABLE.items():
        rows = [line.split() for line in textwrap.dedent(block).strip().splitlines()]
        assert [r[0] for r in rows] == list(RELATIONS), action
        for relation, *outcomes in rows:
            assert len(outcomes) == len(ROLES), relation
            assert set(outcomes) <= set(OUTCOMES), relation
            for layer in LAYERS:
                for role, expected in zip(ROLES, outcomes, strict=True):
                    cells.append(Cell(layer, action, relation, role, expected))
    for action, line in ACCOUNT_TABLE.items():
        outcomes = line.split()
        assert len(outcomes) == len(ACCOUNTS), action
        assert set(outcomes) <= set(OUTCOMES), action
        for layer in LAYERS:
            for account, expected in zip(ACCOUNTS, outcomes, strict=True):
                cells.append(Cell(layer, action, account, "", expected))
    return cells


CELLS = parse()
# 7 actions x 2 layers x (4 relations x 4 roles + 3 accounts).
EXPECTED_CELL_COUNT = 7 * 2 * (4 * 4 + 3)
CHECKED: set[str] = set()

CODE = "tip-screening"
STREAM = "template:TIP-SCREENING"
NEW_CODE = "flood-response"
NEW_STREAM = "template:FLOOD-RESPONSE"
NEW_ITEMS = [
    {"position": 1, "title": "Secure the area", "agency_kind": "police", "due_offset_minutes": 30},
    {"position": 2, "title": "Count arrivals", "agency_kind": "immigration",
     "due_offset_minutes": 60, "requires_note": True},
]  # fmt: skip
V2_TITLE = "Screening of a suspected victim of trafficking (2026)"
REVISED_TITLE = "Screening of a suspected victim of trafficking (matrix edit)"


# --- the world ------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    v2_items: list[dict[str, Any]]  # tip-screening v2 as REST shows its items (with keys)
    clients: dict[str, Api]


def callers() -> list[str]:
    return sorted({cell.username for cell in CELLS})


def build_world() -> World:
    load_sops()
    base = ChecklistTemplate.objects.get(code=CODE, is_current=True)
    services.template_revise(
        actor=officer("na-imm.admin"),
        code=CODE,
        base_version=base.version,
        title=V2_TITLE,
        description=base.description,
        items=[
            ItemDraft(key=i.key, position=i.position, title=i.title, guidance=i.guidance,
                      agency_kind=i.agency_kind, due_offset_minutes=i.due_offset_minutes,
                      requires_note=i.requires_note, requires_cosign=i.requires_cosign)
            for i in base.items.order_by("position")
        ],
    )  # fmt: skip
    User.objects.create_superuser("root", "root@example.org", "root-pass-123")
    User.objects.create_user("nobody", "nobody@example.org", "nobody-pass-123")
    former = User.objects.create_user("former.admin", "former@example.org", "former-pass-123")
    ended = Membership.objects.create(
        user=former, agency=Agency.objects.get(code="NA-IMM"), role="admin", is_active=False
    )
    assert not ended.is_active
    v2 = ChecklistTemplate.objects.get(code=CODE, version=2)
    items = [
        {"key": i.key, "position": i.position, "title": i.title, "guidance": i.guidance,
         "agency_kind": i.agency_kind, "due_offset_minutes": i.due_offset_minutes,
         "requires_note": i.requires_note, "requires_cosign": i.requires_cosign}
        for i in v2.items.order_by("position")
    ]  # fmt: skip
    return World(v2_items=items, clients={u: Api(u) for u in callers()})


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[World]:
    """The demo region, the SOPs and a browser v2, in a transaction rolled back afterwards."""
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
        "templates": _rows(ChecklistTemplate.objects.all(), "code", "version", "title",
                           "is_current", "source", "published_by_id", "seq"),
        "items": _rows(TemplateItem.objects.all(), "template_id", "key", "position", "title"),
    }  # fmt: skip


def changes(before: dict[str, Rows], after: dict[str, Rows]) -> dict[str, tuple[int, int]]:
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
    if (response.status_code, body.get("code")) == (404, "not_found"):
        return NOT_FOUND
    if (response.status_code, body.get("code")) == (403, "forbidden"):
        return FORBIDDEN
    return f"unexpected {response.status_code}: {body}"


def new_template() -> dict[str, Any]:
    return {"code": NEW_CODE, "title": "Flooded crossing", "items": NEW_ITEMS}


def revision(world: World) -> dict[str, Any]:
    return {"base_version": 2, "title": REVISED_TITLE, "items": world.v2_items}


def drafts(items: list[dict[str, Any]]) -> list[ItemDraft]:
    return [ItemDraft(**item) for item in items]


def check_read(action: str, answer: Any) -> None:
    """What an allowed read returned (REST JSON or the service's objects)."""
    if action == "list":
        codes = [t["code"] if isinstance(t, dict) else t.code for t in answer]
        assert sorted(codes) == sorted(s.code for s in SOPS)
    elif action == "read":
        version = answer["version"] if isinstance(answer, dict) else answer.version
        assert version == 2
    elif action == "versions":
        versions = [v["version"] if isinstance(v, dict) else v.version for v in answer]
        assert versions == [2, 1]
    elif action == "diff":
        diff = answer if isinstance(answer, dict) else answer.model_dump(mode="json")
        assert (
            diff["fields"]["title"]["new"]
            == "Screening of a suspected victim of trafficking (2026)"
        )
    else:
        assert action == "read_stream", action
        seqs = [e["seq"] if isinstance(e, dict) else e.seq for e in answer]
        assert seqs == [1, 2]


def perform(cell: Cell, world: World) -> str:
    user = officer(cell.username)
    if cell.layer == SERVICE:
        reads: dict[str, Callable[[], object]] = {
            "list": lambda: templates_for(user),
            "read": lambda: template_for(user, CODE),
            "versions": lambda: template_versions_for(user, CODE),
            "diff": lambda: template_diff_for(user, CODE, 1, 2),
            "read_stream": lambda: stream_events_for(access_for(user), STREAM, after=0,
                                                     limit=100)[0],
            "create": lambda: services.template_create(
                actor=user, code=NEW_CODE, title="Flooded crossing", items=drafts(NEW_ITEMS)
            ),
            "revise": lambda: services.template_revise(
                actor=user, code=CODE, base_version=2, title=REVISED_TITLE,
                items=drafts(world.v2_items),
            ),
        }  # fmt: skip
        results: list[object] = []

        def run() -> None:
            results.append(reads[cell.action]())

        outcome = from_service(run)
        if outcome == OK and cell.action not in WRITES:
            check_read(cell.action, results[0])
        return outcome
    api = world.clients[cell.username]
    base = f"/api/v1/checklist-templates/{CODE}"
    if cell.action == "create":
        return from_response(api.post("/api/v1/checklist-templates", new_template()), 201)
    if cell.action == "revise":
        return from_response(api.post(f"{base}/versions", revision(world)), 201)
    response = {
        "list": lambda: api.get("/api/v1/checklist-templates"),
        "read": lambda: api.get(base),
        "versions": lambda: api.get(f"{base}/versions"),
        "diff": lambda: api.get(f"{base}/diff", {"from": 1, "to": 2}),
        "read_stream": lambda: api.get(f"/api/v1/streams/{STREAM}/events"),
    }[cell.action]()
    outcome = from_response(response)
    if outcome == OK:
        body = response.json()
        check_read(cell.action, body["events"] if cell.action == "read_stream" else body)
    return outcome


def check_written(cell: Cell, before: dict[str, Rows], world: World) -> None:
    after = snapshot()
    [added] = set(after["events"]) - set(before["events"])
    event = Event.objects.select_related("stream", "actor_agency").get(pk=added)
    validate_payload(event.kind, event.payload)
    user = officer(cell.username)
    assert event.kind == "template.published"
    assert event.actor_id == user.pk
    if cell.row == "superuser":
        assert event.actor_agency is None
    else:
        assert event.actor_agency is not None
        assert event.actor_agency.code == RELATIONS[cell.row]
    assert event.payload["source"] == "browser"
    if cell.action == "create":
        assert (event.stream.name, event.seq, event.payload["version"]) == (NEW_STREAM, 1, 1)
        assert changes(before, after) == {
            "events": (0, 1),
            "streams": (0, 1),
            "receipts": (0, 1),
            "templates": (0, 1),
            "items": (0, len(NEW_ITEMS)),
        }
    else:
        assert (event.stream.name, event.seq, event.payload["version"]) == (STREAM, 3, 3)
        assert event.payload["title"] == REVISED_TITLE
        assert changes(before, after) == {
            "events": (0, 1),
            "streams": (1, 0),
            "receipts": (0, 1),
            "templates": (1, 1),  # v2 is no longer current; v3 is new
            "items": (0, len(world.v2_items)),
        }


# --- the matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_authorization_cell(
    cell: Cell,
    world: World,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
) -> None:
    record_property(MATRIX_PROPERTY, "templates")
    before = snapshot()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        outcome = perform(cell, world)

    assert outcome == cell.expected, f"{cell.id}: expected {cell.expected}, got {outcome}"
    if outcome == OK and cell.action in WRITES:
        check_written(cell, before, world)
    else:
        assert changes(before, snapshot()) == {}
    denials = [r for r in caplog.records if r.name == "hub.security"]
    if outcome == OK:
        assert denials == [], [r.getMessage() for r in denials]
    else:
        assert len(denials) == 1, [r.getMessage() for r in denials]
        record = denials[0]
        assert record.__dict__["denied_user_id"] == officer(cell.username).pk
        assert record.__dict__["denied_action"] == LOGGED_ACTIONS[cell.action]
        assert record.__dict__["denied_reason"]
    CHECKED.add(cell.id)


def test_writes_are_refused_with_the_reason_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        response = world.clients["na-imm.coord"].post(
            f"/api/v1/checklist-templates/{CODE}/versions", revision(world)
        )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only administrators write SOP templates."
    [record] = [r for r in caplog.records if r.name == "hub.security"]
    assert record.getMessage() == (
        f"denied user=na-imm.coord action=template.revise target={CODE} "
        "reason=only administrators write SOP templates"
    )


def test_every_template_endpoint_needs_a_signed_in_user(world: World) -> None:
    anonymous = Client()
    for (method, path), action in ENDPOINT_ACTIONS.items():
        url = path.replace("{code}", CODE)
        if method == "GET":
            response = anonymous.get(url, {"from": 1, "to": 2} if action == "diff" else {})
        else:
            response = anonymous.post(url, "{}", content_type="application/json")
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "unauthenticated"


def test_the_matrix_covers_every_template_endpoint() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    endpoints = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if path.startswith("/api/v1/checklist-templates")
    }
    assert endpoints == set(ENDPOINT_ACTIONS)
    assert set(ENDPOINT_ACTIONS.values()) | {"read_stream"} == set(ROLE_TABLE)


def test_every_cell_of_the_matrix_was_checked() -> None:
    assert len(CELLS) == EXPECTED_CELL_COUNT == len({cell.id for cell in CELLS})
    missing = {cell.id for cell in CELLS} - CHECKED
    assert not missing, (
        f"{len(missing)} cells not checked (run the whole module): {sorted(missing)[:5]}"
    )
