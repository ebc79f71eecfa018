"""SOP templates written in the browser: services and REST, versions, diff, the stream.

Administrators (``<agency>.admin``) write templates under ``/api/v1/checklist-templates``;
each version is a ``template.published`` event on ``template:<CODE>``. Refusals are
field by field (422 ``errors``) and write nothing. Who may do what is the matrix in
``test_authorization_matrix_templates.py``; ``load_sops`` beside browser versions is in
``test_sops.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from copy import deepcopy
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from hub.accounts.models import User
from hub.errors import Conflict, FieldProblem, Forbidden, InvalidFields, NotFound
from hub.events.models import Event, Stream, WriteReceipt
from hub.events.types import TemplatePublished, validate_payload
from hub.operations import services, sops
from hub.operations.models import ChecklistTemplate, Operation, Task, TemplateItem
from hub.operations.services import ItemSpec
from hub.operations.sops import SOPS, load_sops
from hub.operations.templates import MAX_ITEMS, ItemDraft
from tests.factories import Api, officer

pytestmark = pytest.mark.usefixtures("demo")

API = "/api/v1/checklist-templates"
ADMIN = "na-imm.admin"
TIP = "tip-screening"
TIP_STREAM = "template:TIP-SCREENING"
NEW_CODE = "flood-response"
NEW_ITEMS: list[dict[str, Any]] = [
    {"position": 1, "title": "Secure the area", "agency_kind": "police", "due_offset_minutes": 30},
    {
        "position": 2,
        "title": "Count arrivals; identify the vulnerable",
        "guidance": "Children first.",
        "agency_kind": "immigration",
        "due_offset_minutes": 60,
        "requires_note": True,
    },
    {
        "position": 3,
        "title": "Search belongings",
        "agency_kind": "customs",
        "due_offset_minutes": 90,
        "requires_cosign": True,
    },
]


@pytest.fixture(autouse=True)
def standard_sops(demo: None) -> None:
    load_sops()


def new_template(**fields: Any) -> dict[str, Any]:
    return {
        "code": NEW_CODE,
        "title": "Flooded crossing",
        "description": "The lanes are under water.",
        "items": deepcopy(NEW_ITEMS),
        **fields,
    }


def current(code: str = TIP, username: str = ADMIN) -> dict[str, Any]:
    response = Api(username).get(f"{API}/{code}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def edited(template: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A new-version body from a template as GET answers it (keys kept)."""
    return {
        "base_version": template["version"],
        "title": template["title"],
        "description": template["description"],
        "items": [{k: v for k, v in item.items()} for item in template["items"]],
        **fields,
    }


def stream_events(name: str) -> list[Event]:
    found = list(
        Event.objects.filter(stream__name=name).select_related("actor_agency").order_by("seq")
    )
    for event in found:
        validate_payload(event.kind, event.payload)
    return found


def written() -> tuple[Any, ...]:
    """Everything a refused write must leave alone."""
    return (
        list(ChecklistTemplate.objects.order_by("id").values()),
        list(TemplateItem.objects.order_by("id").values()),
        list(Event.objects.order_by("id").values_list("id", "stream_id", "seq")),
        list(Stream.objects.order_by("id").values_list("id", "name", "last_seq")),
        WriteReceipt.objects.count(),
    )


def content(body: dict[str, Any]) -> tuple[Any, ...]:
    """A version's content as REST and events both carry it."""
    return (
        body["code"],
        body["version"],
        body["title"],
        body["description"],
        [
            {k: item[k] for k in sorted(item)}
            for item in sorted(body["items"], key=lambda i: i["position"])
        ],
    )


# --- a new template --------------------------------------------------------------------


def test_an_administrator_writes_a_new_template_and_a_coordinator_starts_from_it() -> None:
    response = Api(ADMIN).post(API, new_template())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["code"], body["version"], body["current"], body["source"]) == (
        NEW_CODE,
        1,
        True,
        "browser",
    )
    assert body["published_by"]["username"] == ADMIN
    assert body["publisher_agency"] == "NA-IMM"
    assert (body["stream"], body["seq"]) == ("template:FLOOD-RESPONSE", 1)
    assert [i["title"] for i in body["items"]] == [i["title"] for i in NEW_ITEMS]
    assert [i["requires_note"] for i in body["items"]] == [False, True, False]
    assert [i["requires_cosign"] for i in body["items"]] == [False, False, True]
    assert len({i["key"] for i in body["items"]}) == 3

    [event] = stream_events("template:FLOOD-RESPONSE")
    assert event.kind == "template.published"
    assert (event.seq, event.actor_id) == (1, officer(ADMIN).pk)
    assert event.actor_agency is not None
    assert event.actor_agency.code == "NA-IMM"
    assert event.payload["source"] == "browser"
    assert content(event.payload) == content(body)

    operation = services.operation_start(
        actor=officer("na-imm.coord"), crossing_point="WDH", template=NEW_CODE
    ).operation
    tasks = list(operation.tasks.select_related("assigned_agency").order_by("position"))
    assert [(t.title, t.agency_kind, t.assigned_agency.code if t.assigned_agency else None)
            for t in tasks] == [
        ("Secure the area", "police", "NA-POL"),
        ("Count arrivals; identify the vulnerable", "immigration", "NA-IMM"),
        ("Search belongings", "customs", "NA-CUS"),
    ]  # fmt: skip
    assert [t.due_at for t in tasks] == [
        operation.started_at + timedelta(minutes=minutes) for minutes in (30, 60, 90)
    ]
    assert [(t.requires_note, t.requires_cosign) for t in tasks] == [
        (False, False),
        (True, False),
        (False, True),
    ]


def test_a_taken_code_is_refused_and_nothing_is_written() -> None:
    before = written()
    response = Api(ADMIN).post(API, new_template(code=TIP))
    assert response.status_code == 409
    assert response.json()["code"] == "template_exists"
    assert written() == before


def test_a_superuser_without_a_membership_writes_templates_for_no_agency() -> None:
    User.objects.create_superuser("root", "root@example.org", "root-pass-123")
    response = Api("root").post(API, new_template())
    assert response.status_code == 201, response.content
    assert response.json()["publisher_agency"] is None
    [event] = stream_events("template:FLOOD-RESPONSE")
    assert (event.actor_id, event.actor_agency) == (officer("root").pk, None)


# --- new versions ----------------------------------------------------------------------


def test_a_new_version_keeps_the_old_and_running_operations_keep_theirs() -> None:
    coordinator = Api("na-imm.coord")
    started = coordinator.post("/api/v1/operations", {"crossing_point": "WDH", "template": TIP})
    assert started.status_code == 201, started.content
    on_v1 = started.json()
    v1_rows = (
        list(ChecklistTemplate.objects.filter(code=TIP).values()),
        list(TemplateItem.objects.filter(template__code=TIP).order_by("id").values()),
    )
    v1 = current()
    body = edited(v1, title="Screening of a suspected victim of trafficking (2026)")
    shelter = {
        "position": 4,
        "title": "Call the shelter's duty line",
        "agency_kind": "other",
        "due_offset_minutes": 45,
    }
    body["items"] = [*body["items"][:3], shelter]
    body["items"][1]["due_offset_minutes"] = 90

    response = Api(ADMIN).post(f"{API}/{TIP}/versions", body)
    assert response.status_code == 201, response.content
    v2 = response.json()
    assert (v2["version"], v2["current"], v2["source"], v2["seq"]) == (2, True, "browser", 2)
    assert [i["title"] for i in v2["items"]] == [
        *(i["title"] for i in v1["items"][:3]),
        "Call the shelter's duty line",
    ]
    # Kept items keep their keys; the new one has its own.
    assert [i["key"] for i in v2["items"][:3]] == [i["key"] for i in v1["items"][:3]]
    assert v2["items"][3]["key"] not in {i["key"] for i in v1["items"]}

    # Version 1 is exactly as it was, only no longer current.
    old = Api("na-imm.duty").get(f"{API}/{TIP}", {"version": 1}).json()
    assert old["current"] is False
    assert content(old) == content(v1)
    templates, items = v1_rows
    for row in templates:
        row["is_current"] = False
    assert list(ChecklistTemplate.objects.filter(code=TIP, version=1).values()) == templates
    assert (
        list(TemplateItem.objects.filter(template__code=TIP, template__version=1).order_by("id")
             .values()) == items
    )  # fmt: skip

    # The operation started on v1 still shows v1's tasks.
    again = coordinator.get(f"/api/v1/operations/{on_v1['ref']}").json()
    assert again["template_version"] == 1
    assert [t["title"] for t in again["tasks"]] == [i["title"] for i in v1["items"]]
    assert [t["title"] for t in again["tasks"]] == [t["title"] for t in on_v1["tasks"]]
    # A new operation uses v2; v1 can still be chosen explicitly.
    newer = coordinator.post("/api/v1/operations", {"crossing_point": "WDH", "template": TIP})
    assert newer.json()["template_version"] == 2
    assert [t["title"] for t in newer.json()["tasks"]] == [i["title"] for i in v2["items"]]
    assert newer.json()["tasks"][1]["due_at"] is not None
    older = coordinator.post(
        "/api/v1/operations", {"crossing_point": "WDH", "template": TIP, "template_version": 1}
    )
    assert older.json()["template_version"] == 1
    assert len(older.json()["tasks"]) == len(v1["items"])


def test_a_repeat_returns_the_original_and_a_reused_id_is_refused() -> None:
    api = Api(ADMIN)
    body = edited(current(), title="Revised screening", client_msg_id=str(uuid.uuid4()))
    first = api.post(f"{API}/{TIP}/versions", body)
    assert first.status_code == 201, first.content
    state = written()
    repeat = api.post(f"{API}/{TIP}/versions", body)
    assert repeat.status_code == 200
    assert repeat.json() == first.json()
    assert written() == state
    reused = api.post(f"{API}/{TIP}/versions", {**body, "title": "Something else"})
    assert reused.status_code == 409
    assert reused.json()["code"] == "client_msg_id_reused"
    assert written() == state

    created = api.post(API, new_template(client_msg_id=body["client_msg_id"]))
    assert created.status_code == 409
    assert created.json()["code"] == "client_msg_id_reused"
    cmid = str(uuid.uuid4())
    one = api.post(API, new_template(client_msg_id=cmid))
    two = api.post(API, new_template(client_msg_id=cmid))
    assert (one.status_code, two.status_code) == (201, 200)
    assert one.json() == two.json()
    assert ChecklistTemplate.objects.filter(code=NEW_CODE).count() == 1


def test_an_edit_of_a_version_that_is_no_longer_current_is_refused() -> None:
    base = current()
    first = Api(ADMIN).post(f"{API}/{TIP}/versions", edited(base, title="First edit"))
    assert first.status_code == 201
    before = written()
    second = Api("na-pol.admin").post(f"{API}/{TIP}/versions", edited(base, title="Second edit"))
    assert second.status_code == 409
    assert second.json()["code"] == "template_version_conflict"
    assert "version 2 is current" in second.json()["detail"]
    assert written() == before


def test_publishing_the_same_content_again_is_refused() -> None:
    before = written()
    response = Api(ADMIN).post(f"{API}/{TIP}/versions", edited(current()))
    assert response.status_code == 409
    assert response.json()["code"] == "no_change"
    assert written() == before


def test_an_unknown_template_is_not_found() -> None:
    body = edited(current())
    for code in ("no-such-sop", "Not A Code", "x" * 80):
        response = Api(ADMIN).post(f"{API}/{code}/versions", body)
        assert response.status_code == 404, code
    assert Api(ADMIN).get(f"{API}/no-such-sop/versions").status_code == 404
    assert Api(ADMIN).get(f"{API}/{TIP}", {"version": 9}).status_code == 404


# --- refused field by field ------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[str | int, ...], value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _items(items: list[dict[str, Any]]) -> Mutation:
    return _set(("items",), items)


def _many(count: int) -> list[dict[str, Any]]:
    return [
        {"position": i, "title": f"Step {i}", "agency_kind": "police", "due_offset_minutes": i}
        for i in range(1, count + 1)
    ]


# (mutation of a valid body, the loc after "body", "payload", the error type)
REFUSALS: dict[str, tuple[Mutation, tuple[str, ...], str]] = {
    "no items": (_items([]), ("items",), "too_short"),
    "too many items": (_items(_many(MAX_ITEMS + 1)), ("items",), "too_long"),
    "duplicate positions": (_set(("items", 2, "position"), 1), ("items", "2", "position"),
                            "duplicate_position"),
    "negative due offset": (_set(("items", 1, "due_offset_minutes"), -5),
                            ("items", "1", "due_offset_minutes"), "greater_than_equal"),
    "unknown agency kind": (_set(("items", 0, "agency_kind"), "navy"),
                            ("items", "0", "agency_kind"), "literal_error"),
    "empty title": (_set(("title",), ""), ("title",), "string_too_short"),
    "blank title": (_set(("title",), "   \n "), ("title",), "string_too_short"),
    "over-long title": (_set(("title",), "T" * 201), ("title",), "string_too_long"),
    "blank item title": (_set(("items", 1, "title"), "  "), ("items", "1", "title"),
                         "string_too_short"),
    "over-long item title": (_set(("items", 0, "title"), "T" * 201), ("items", "0", "title"),
                             "string_too_long"),
    "control character": (_set(("items", 0, "guidance"), "bell\x07"),
                          ("items", "0", "guidance"), "invalid_text"),
    "position zero": (_set(("items", 0, "position"), 0), ("items", "0", "position"),
                      "greater_than_equal"),
    "unknown field": (_set(("items", 0, "colour"), "red"), ("items", "0", "colour"),
                      "extra_forbidden"),
}  # fmt: skip
CREATE_ONLY: dict[str, tuple[Mutation, tuple[str, ...], str]] = {
    "bad code": (_set(("code",), "Flood Response"), ("code",), "string_pattern_mismatch"),
    "a key on a new template": (_set(("items", 0, "key"), "abc123"), ("items", "0", "key"),
                                "unknown_key"),
}  # fmt: skip


def refusal(response: Any) -> list[tuple[tuple[str, ...], str]]:
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid_request"
    assert set(body) == {"code", "detail", "errors"}
    found = []
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}
        assert error["msg"]
        assert error["loc"][:2] == ["body", "payload"], error
        found.append((tuple(error["loc"][2:]), error["type"]))
    return found


@pytest.mark.parametrize("case", sorted({**REFUSALS, **CREATE_ONLY}))
def test_a_new_template_is_refused_field_by_field(case: str) -> None:
    mutate, loc, kind = {**REFUSALS, **CREATE_ONLY}[case]
    body = new_template()
    mutate(body)
    before = written()
    response = Api(ADMIN).post(API, body)
    assert (loc, kind) in refusal(response)
    assert written() == before


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_new_version_is_refused_field_by_field(case: str) -> None:
    mutate, loc, kind = REFUSALS[case]
    body = edited(current())
    mutate(body)
    before = written()
    response = Api(ADMIN).post(f"{API}/{TIP}/versions", body)
    assert (loc, kind) in refusal(response)
    assert written() == before


def test_keys_must_name_items_of_the_version_being_edited_once() -> None:
    body = edited(current())
    body["items"][0]["key"] = "not-one-of-them"
    body["items"][2]["key"] = body["items"][1]["key"]
    before = written()
    found = refusal(Api(ADMIN).post(f"{API}/{TIP}/versions", body))
    assert (("items", "0", "key"), "unknown_key") in found
    assert (("items", "2", "key"), "duplicate_key") in found
    assert written() == before


def test_every_problem_the_service_finds_is_reported_at_once() -> None:
    body = edited(current(), title="  ")
    body["items"][3]["position"] = body["items"][0]["position"]
    body["items"][5]["title"] = " "
    found = refusal(Api(ADMIN).post(f"{API}/{TIP}/versions", body))
    assert sorted(found) == [
        (("items", "3", "position"), "duplicate_position"),
        (("items", "5", "title"), "string_too_short"),
        (("title",), "string_too_short"),
    ]


def test_the_service_refuses_field_by_field_without_the_rest_schema() -> None:
    """The service is the rule (REST's schema only documents it): callers other than
    REST get the same refusals."""
    admin = officer(ADMIN)
    good = ItemDraft(position=1, title="Secure the area", agency_kind="police",
                     due_offset_minutes=30)  # fmt: skip
    cases: list[tuple[list[ItemDraft], FieldProblem]] = [
        ([], FieldProblem(("items",), "", "too_short")),
        (
            [good, ItemDraft(position=1, title="Again", agency_kind="police",
                             due_offset_minutes=5)],
            FieldProblem(("items", 1, "position"), "", "duplicate_position"),
        ),
        (
            [ItemDraft(position=1, title="Late", agency_kind="police", due_offset_minutes=-1)],
            FieldProblem(("items", 0, "due_offset_minutes"), "", "greater_than_equal"),
        ),
        (
            [ItemDraft(position=1, title="Navy", agency_kind="navy", due_offset_minutes=1)],
            FieldProblem(("items", 0, "agency_kind"), "", "literal_error"),
        ),
        (
            [ItemDraft(position=1, title="", agency_kind="police", due_offset_minutes=1)],
            FieldProblem(("items", 0, "title"), "", "string_too_short"),
        ),
        (
            [replace_position(good, i) for i in range(1, MAX_ITEMS + 2)],
            FieldProblem(("items",), "", "too_long"),
        ),
    ]  # fmt: skip
    before = written()
    for items, expected in cases:
        with pytest.raises(InvalidFields) as refused:
            services.template_create(actor=admin, code=NEW_CODE, title="Flood", items=items)
        assert (expected.loc, expected.type) in [(p.loc, p.type) for p in refused.value.problems]
        with pytest.raises(InvalidFields):
            services.template_revise(
                actor=admin, code=TIP, base_version=1, title="Flood", items=items
            )
    with pytest.raises(InvalidFields) as refused:
        services.template_publish(code="Bad_Code", title="x", description="", items=[])
    assert {p.loc for p in refused.value.problems} == {("code",), ("items",)}
    assert written() == before


def replace_position(item: ItemDraft, position: int) -> ItemDraft:
    return ItemDraft(
        position=position,
        title=item.title,
        agency_kind=item.agency_kind,
        due_offset_minutes=item.due_offset_minutes,
    )


def test_only_administrators_write_through_the_service() -> None:
    items = [ItemDraft(position=1, title="Step", agency_kind="police", due_offset_minutes=5)]
    before = written()
    with pytest.raises(Forbidden):
        services.template_create(actor=officer("na-imm.coord"), code=NEW_CODE, title="X",
                                 items=items)  # fmt: skip
    with pytest.raises(Forbidden):
        services.template_revise(actor=officer("na-imm.senior"), code=TIP, base_version=1,
                                 title="X", items=items)  # fmt: skip
    with pytest.raises(NotFound):
        services.template_revise(actor=officer(ADMIN), code="nope", base_version=1, title="X",
                                 items=items)  # fmt: skip
    with pytest.raises(Conflict):
        services.template_revise(actor=officer(ADMIN), code=TIP, base_version=7, title="X",
                                 items=items)  # fmt: skip
    assert written() == before


# --- versions and diff ----------------------------------------------------------------


def publish_v2() -> tuple[dict[str, Any], dict[str, Any]]:
    """v2 of tip-screening by na-imm.admin: retitled, item 2 due later and needing a
    co-sign, item 8 removed, a new item at position 9."""
    v1 = current()
    body = edited(v1, title="Screening of a suspected victim (revised)")
    body["items"][1]["due_offset_minutes"] = 75
    body["items"][1]["requires_cosign"] = True
    body["items"] = [
        *body["items"][:7],
        {
            "position": 9,
            "title": "Debrief the team",
            "agency_kind": "police",
            "due_offset_minutes": 300,
        },
    ]
    response = Api(ADMIN).post(f"{API}/{TIP}/versions", body)  # fmt: skip
    assert response.status_code == 201, response.content
    return v1, response.json()


def test_versions_say_who_published_each_when_and_from_where() -> None:
    v1, v2 = publish_v2()
    response = Api("na-pol.duty").get(f"{API}/{TIP}/versions")
    assert response.status_code == 200
    versions = response.json()
    assert [v["version"] for v in versions] == [2, 1]
    newest, oldest = versions
    assert (newest["source"], newest["current"], newest["items"], newest["seq"]) == (
        "browser",
        True,
        8,
        2,
    )
    assert newest["published_by"]["username"] == ADMIN
    assert newest["publisher_agency"] == "NA-IMM"
    assert newest["published_at"] == v2["published_at"]
    assert newest["title"] == v2["title"]
    assert (oldest["source"], oldest["current"], oldest["items"], oldest["seq"]) == (
        "code",
        False,
        8,
        1,
    )
    assert (oldest["published_by"], oldest["publisher_agency"]) == (None, None)
    assert oldest["published_at"] == v1["published_at"]


def test_the_diff_between_two_versions_is_structured() -> None:
    v1, v2 = publish_v2()
    response = Api("na-cus.senior").get(f"{API}/{TIP}/diff", {"from": 1, "to": 2})
    assert response.status_code == 200, response.content
    diff = response.json()
    assert (diff["code"], diff["from_version"], diff["to_version"]) == (TIP, 1, 2)
    assert diff["fields"] == {"title": {"old": v1["title"], "new": v2["title"]}}
    assert [i["title"] for i in diff["items_added"]] == ["Debrief the team"]
    assert diff["items_added"][0]["key"] == v2["items"][7]["key"]
    assert [i["key"] for i in diff["items_removed"]] == [v1["items"][7]["key"]]
    assert diff["items_removed"][0]["title"] == v1["items"][7]["title"]
    assert diff["items_changed"] == [
        {
            "key": v1["items"][1]["key"],
            "position": 2,
            "title": v1["items"][1]["title"],
            "changes": {
                "due_offset_minutes": {"old": 60, "new": 75},
                "requires_cosign": {"old": False, "new": True},
            },
        }
    ]
    assert diff["items_unchanged"] == 6

    back = Api("na-cus.senior").get(f"{API}/{TIP}/diff", {"from": 2, "to": 1}).json()
    assert [i["title"] for i in back["items_removed"]] == ["Debrief the team"]
    assert back["items_changed"][0]["changes"]["requires_cosign"] == {"old": True, "new": False}
    same = Api("na-cus.senior").get(f"{API}/{TIP}/diff", {"from": 2, "to": 2}).json()
    assert (same["fields"], same["items_added"], same["items_removed"], same["items_changed"]) == (
        {},
        [],
        [],
        [],
    )
    assert same["items_unchanged"] == 8


def test_a_diff_needs_two_existing_versions() -> None:
    api = Api("na-imm.duty")
    assert api.get(f"{API}/{TIP}/diff", {"from": 1, "to": 2}).status_code == 404
    assert api.get(f"{API}/nope/diff", {"from": 1, "to": 1}).status_code == 404
    for query in ({"from": 1}, {"to": 1}, {"from": 0, "to": 1}, {"from": "a", "to": 1}):
        assert api.get(f"{API}/{TIP}/diff", query).status_code == 422, query


# --- the stream ---------------------------------------------------------------------------


def test_each_version_is_an_event_on_the_template_stream_readable_by_every_role() -> None:
    publish_v2()
    events = stream_events(TIP_STREAM)
    assert [(e.kind, e.payload["version"], e.payload["source"]) for e in events] == [
        ("template.published", 1, "code"),
        ("template.published", 2, "browser"),
    ]
    assert events[0].actor_id is None
    assert events[1].actor_id == officer(ADMIN).pk
    for username in ("na-imm.duty", "na-pol.coord", "za-imm.senior", "na-cgd.admin"):
        response = Api(username).get(f"/api/v1/streams/{TIP_STREAM}/events")
        assert response.status_code == 200, username
        assert [e["seq"] for e in response.json()["events"]] == [1, 2]
    assert list(
        ChecklistTemplate.objects.filter(code=TIP).order_by("version").values_list("seq", flat=True)
    ) == [1, 2]
    assert Api("na-imm.duty").get("/api/v1/streams/template:NO-SUCH/events").status_code == 404


def test_a_snapshot_and_the_events_after_its_seq_give_the_next_snapshot() -> None:
    """Zulip's verify_action, on a template: fetch, publish, apply the events since
    the fetched seq, compare with a fresh fetch."""
    reader = Api("na-pol.duty")
    before = current(username="na-pol.duty")
    publish_v2()
    page = reader.get(f"/api/v1/streams/{before['stream']}/events", {"after": before["seq"]})
    state = content(before)
    for event in page.json()["events"]:
        assert event["kind"] == "template.published"
        published = TemplatePublished.model_validate(event["payload"])
        state = content(published.model_dump(mode="json"))
    after = current(username="na-pol.duty")
    assert state == content(after)
    assert after["seq"] == page.json()["head"]


def test_load_sops_records_versions_published_before_template_streams_existed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Versions written before template streams existed have no event: the next
    load_sops appends them, oldest first, each at its own time, before anything newer."""
    legacy = ChecklistTemplate.objects.create(
        code="legacy-check",
        version=1,
        title="Legacy checklist",
        is_current=False,
        published_at=timezone.now() - timedelta(days=30),
    )
    TemplateItem.objects.create(template=legacy, key="k1", position=1, title="Old step",
                                agency_kind="police", due_offset_minutes=10)  # fmt: skip
    newer = ChecklistTemplate.objects.create(
        code="legacy-check", version=2, title="Legacy checklist v2",
        published_at=timezone.now() - timedelta(days=3),
    )  # fmt: skip
    TemplateItem.objects.create(template=newer, key="k1", position=1, title="Old step",
                                agency_kind="police", due_offset_minutes=20)  # fmt: skip
    legacy_sop = sops.Sop(
        "legacy-check", "Legacy checklist v2", "", (ItemSpec("Old step", "police", 20),)
    )
    monkeypatch.setattr(sops, "SOPS", (*SOPS, legacy_sop))

    out = StringIO()
    call_command("load_sops", stdout=out)
    assert (
        "legacy-check v2: unchanged; 2 earlier version(s) recorded on template:LEGACY-CHECK"
        in out.getvalue()
    )
    assert "tip-screening v1: unchanged\n" in out.getvalue()
    response = Api(ADMIN).post(
        f"{API}/legacy-check/versions",
        {"base_version": 2, "title": "Legacy checklist v3", "items": [
            {"key": "k1", "position": 1, "title": "Old step", "agency_kind": "police",
             "due_offset_minutes": 25}]},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    events = stream_events("template:LEGACY-CHECK")
    assert [(e.seq, e.payload["version"], e.payload["title"]) for e in events] == [
        (1, 1, "Legacy checklist"),
        (2, 2, "Legacy checklist v2"),
        (3, 3, "Legacy checklist v3"),
    ]
    assert [e.payload["source"] for e in events] == ["code", "code", "browser"]
    assert events[0].at == legacy.published_at
    assert events[1].at == newer.published_at
    assert list(
        ChecklistTemplate.objects.filter(code="legacy-check")
        .order_by("version")
        .values_list("seq", flat=True)
    ) == [1, 2, 3]
    diff = Api(ADMIN).get(f"{API}/legacy-check/diff", {"from": 1, "to": 3}).json()
    assert diff["items_changed"][0]["changes"] == {"due_offset_minutes": {"old": 10, "new": 25}}
    # Recorded once: loading again appends nothing.
    heads = written()
    call_command("load_sops", stdout=StringIO())
    assert written() == heads


def test_operations_list_only_templates_that_exist() -> None:
    codes = sorted(t["code"] for t in Api("na-imm.coord").get(API).json())
    assert codes == sorted(s.code for s in SOPS)
    Api(ADMIN).post(API, new_template())
    codes = sorted(t["code"] for t in Api("na-imm.coord").get(API).json())
    assert codes == sorted([*(s.code for s in SOPS), NEW_CODE])
    assert not Operation.objects.exists()
    assert not Task.objects.exists()
