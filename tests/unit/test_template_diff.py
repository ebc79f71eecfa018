"""The diff of two template versions (a pure function) and the template checks (pure too).

No database: versions are ``TemplatePublished`` payloads built here, drafts are
``ItemDraft`` values.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import InvalidFields
from hub.events.types import TemplateItemSnapshot, TemplatePublished
from hub.operations.template_diff import template_diff
from hub.operations.templates import MAX_ITEMS, ItemDraft, check_code, check_template


def item(key: str, position: int, title: str, **fields: Any) -> TemplateItemSnapshot:
    values: dict[str, Any] = {
        "guidance": "",
        "agency_kind": "police",
        "due_offset_minutes": 30,
        "requires_note": False,
        "requires_cosign": False,
        **fields,
    }
    return TemplateItemSnapshot(key=key, position=position, title=title, **values)


def version(number: int, *items: TemplateItemSnapshot, **fields: Any) -> TemplatePublished:
    values: dict[str, Any] = {"title": "Mass arrival", "description": "", **fields}
    return TemplatePublished(
        code="mass-arrival", version=number, items=list(items), source="code", **values
    )


SECURE = item("a", 1, "Secure the area")
COUNT = item("b", 2, "Count arrivals", agency_kind="immigration", due_offset_minutes=60)
SEARCH = item("c", 3, "Search belongings", agency_kind="customs", due_offset_minutes=240)
V1 = version(1, SECURE, COUNT, SEARCH)


def test_the_same_content_has_an_empty_diff() -> None:
    diff = template_diff(V1, version(2, SECURE, COUNT, SEARCH))
    assert (diff.code, diff.from_version, diff.to_version) == ("mass-arrival", 1, 2)
    assert (diff.fields, diff.items_added, diff.items_removed, diff.items_changed) == (
        {},
        [],
        [],
        [],
    )
    assert diff.items_unchanged == 3


def test_template_fields_changed_with_old_and_new_values() -> None:
    v2 = version(2, SECURE, COUNT, SEARCH, title="Mass arrival at a land crossing",
                 description="Both countries act together.")  # fmt: skip
    diff = template_diff(V1, v2)
    assert diff.model_dump()["fields"] == {
        "title": {"old": "Mass arrival", "new": "Mass arrival at a land crossing"},
        "description": {"old": "", "new": "Both countries act together."},
    }
    assert diff.items_unchanged == 3


def test_an_inserted_item_is_added_and_the_items_after_it_only_moved() -> None:
    """Matched by key, an insertion near the top is one addition and position moves:
    matched by position, every later item would look rewritten."""
    health = item("d", 2, "Health screening", agency_kind="health", due_offset_minutes=45)
    moved_count = item("b", 3, "Count arrivals", agency_kind="immigration", due_offset_minutes=60)
    moved_search = item("c", 4, "Search belongings", agency_kind="customs",
                        due_offset_minutes=240)  # fmt: skip
    diff = template_diff(V1, version(2, SECURE, health, moved_count, moved_search))
    assert diff.items_added == [health]
    assert diff.items_removed == []
    assert [(c.key, c.position, c.title) for c in diff.items_changed] == [
        ("b", 3, "Count arrivals"),
        ("c", 4, "Search belongings"),
    ]
    for change in diff.items_changed:
        assert set(change.changes) == {"position"}
    assert diff.items_changed[0].model_dump()["changes"] == {"position": {"old": 2, "new": 3}}
    assert diff.items_unchanged == 1


def test_a_retitled_item_is_changed_not_removed_and_added() -> None:
    renamed = item("b", 2, "Count and register arrivals", agency_kind="immigration",
                   due_offset_minutes=90, requires_note=True)  # fmt: skip
    diff = template_diff(V1, version(2, SECURE, renamed, SEARCH))
    assert (diff.items_added, diff.items_removed) == ([], [])
    [change] = diff.items_changed
    assert (change.key, change.position, change.title) == ("b", 2, "Count and register arrivals")
    assert change.model_dump()["changes"] == {
        "title": {"old": "Count arrivals", "new": "Count and register arrivals"},
        "due_offset_minutes": {"old": 60, "new": 90},
        "requires_note": {"old": False, "new": True},
    }


def test_every_item_field_is_compared_with_its_type_kept() -> None:
    changed = item("a", 1, "Secure the area", guidance="Cordon first.", agency_kind="coastguard",
                   due_offset_minutes=0, requires_note=True, requires_cosign=True)  # fmt: skip
    [change] = template_diff(V1, version(2, changed, COUNT, SEARCH)).items_changed
    assert change.model_dump()["changes"] == {
        "guidance": {"old": "", "new": "Cordon first."},
        "agency_kind": {"old": "police", "new": "coastguard"},
        "due_offset_minutes": {"old": 30, "new": 0},
        "requires_note": {"old": False, "new": True},
        "requires_cosign": {"old": False, "new": True},
    }
    # Booleans stay booleans and numbers numbers on the wire.
    dumped = change.model_dump(mode="json")["changes"]
    assert dumped["requires_cosign"]["new"] is True
    assert dumped["due_offset_minutes"]["new"] == 0
    assert dumped["due_offset_minutes"]["new"] is not False


def test_removed_items_in_their_old_order_added_in_their_new_one() -> None:
    late = item("e", 9, "Debrief", due_offset_minutes=600)
    early = item("f", 5, "Call the neighbouring post")
    diff = template_diff(V1, version(2, SECURE, late, early))
    assert [i.key for i in diff.items_added] == ["f", "e"]
    assert [i.key for i in diff.items_removed] == ["b", "c"]
    assert diff.items_unchanged == 1


def test_the_reverse_diff_swaps_added_and_removed_and_old_and_new() -> None:
    v2 = version(2, SECURE, item("b", 2, "Count arrivals", agency_kind="immigration",
                                 due_offset_minutes=75), item("g", 3, "New step"))  # fmt: skip
    forward = template_diff(V1, v2)
    backward = template_diff(v2, V1)
    assert (backward.from_version, backward.to_version) == (2, 1)
    assert backward.items_added == forward.items_removed
    assert backward.items_removed == forward.items_added
    [f], [b] = forward.items_changed, backward.items_changed
    assert {k: (c.old, c.new) for k, c in f.changes.items()} == {
        k: (c.new, c.old) for k, c in b.changes.items()
    }


# --- the checks ---------------------------------------------------------------------------


def draft(position: int = 1, **fields: Any) -> ItemDraft:
    values: dict[str, Any] = {
        "title": f"Step {position}",
        "agency_kind": "police",
        "due_offset_minutes": 10,
        **fields,
    }
    return ItemDraft(position=position, **values)


def problems(**kwargs: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(InvalidFields) as refused:
        check_template(**{"title": "Checklist", "description": "", **kwargs})
    return [(p.loc, p.type) for p in refused.value.problems]


def test_a_good_draft_is_trimmed_and_put_in_position_order() -> None:
    checked = check_template(
        title="  Checklist \r\n",
        description="Line one\r\nline two",
        items=[draft(3, title=" Third "), draft(1), draft(2, guidance="  Why  ")],
    )
    assert checked.title == "Checklist"
    assert checked.description == "Line one\nline two"
    assert [(i.position, i.title, i.guidance) for i in checked.items] == [
        (1, "Step 1", ""),
        (2, "Step 2", "Why"),
        (3, "Third", ""),
    ]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], [(("items",), "too_short")]),
        ([draft(i) for i in range(1, MAX_ITEMS + 2)], [(("items",), "too_long")]),
        ([draft(1), draft(2), draft(1)], [(("items", 2, "position"), "duplicate_position")]),
        ([draft(1, due_offset_minutes=-1)],
         [(("items", 0, "due_offset_minutes"), "greater_than_equal")]),
        ([draft(1, due_offset_minutes=60 * 24 * 31)],
         [(("items", 0, "due_offset_minutes"), "less_than_equal")]),
        ([draft(1, agency_kind="navy")], [(("items", 0, "agency_kind"), "literal_error")]),
        ([draft(0)], [(("items", 0, "position"), "greater_than_equal")]),
        ([draft(1, title=" ")], [(("items", 0, "title"), "string_too_short")]),
        ([draft(1, title="x" * 201)], [(("items", 0, "title"), "string_too_long")]),
        ([draft(1, guidance="tab\tok, bell\x07 not")],
         [(("items", 0, "guidance"), "invalid_text")]),
        ([draft(1, due_offset_minutes=True)], [(("items", 0, "due_offset_minutes"), "int_type")]),
        ([draft(1, requires_note="yes")], [(("items", 0, "requires_note"), "bool_type")]),
        ([draft(1, key="k1")], [(("items", 0, "key"), "unknown_key")]),
        ([draft(1, key="no spaces")], [(("items", 0, "key"), "string_pattern_mismatch")]),
    ],
)  # fmt: skip
def test_each_problem_names_its_field(
    items: list[ItemDraft], expected: list[tuple[tuple[str | int, ...], str]]
) -> None:
    assert problems(items=items) == expected


def test_keys_must_be_known_and_used_once() -> None:
    found = problems(
        items=[draft(1, key="k1"), draft(2, key="k1"), draft(3, key="zz")],
        known_keys={"k1", "k2"},
    )
    assert found == [
        (("items", 2, "key"), "unknown_key"),
        (("items", 1, "key"), "duplicate_key"),
    ]
    checked = check_template(title="T", description="", items=[draft(1, key="k2")],
                             known_keys={"k1", "k2"})  # fmt: skip
    assert checked.items[0].key == "k2"


def test_all_problems_are_reported_together_with_earlier_ones() -> None:
    found = problems(
        title="",
        description="d" * 5_001,
        items=[draft(1), draft(1, agency_kind="army", due_offset_minutes=-3)],
        problems=check_code("Not A Code"),
    )
    assert found == [
        (("code",), "string_pattern_mismatch"),
        (("title",), "string_too_short"),
        (("description",), "string_too_long"),
        (("items", 1, "agency_kind"), "literal_error"),
        (("items", 1, "due_offset_minutes"), "greater_than_equal"),
        (("items", 1, "position"), "duplicate_position"),
    ]


@pytest.mark.parametrize(
    ("code", "ok"),
    [("tip-screening", True), ("a1", True), ("x" * 60, True), ("x" * 61, False), ("a", False),
     ("-lead", False), ("Upper", False), ("under_score", False), ("sp ace", False), (7, False)],
)  # fmt: skip
def test_codes_are_lower_case_slugs_that_map_to_a_stream_key(code: Any, ok: bool) -> None:
    assert (check_code(code) == []) is ok
