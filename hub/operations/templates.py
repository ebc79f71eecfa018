"""What an SOP checklist template version may contain: pure checks, no database.

``check_template`` is the one rule for every writer (the browser through
``template_create`` / ``template_revise``, and code through ``template_publish``).
It refuses field by field: every problem is a ``FieldProblem`` whose ``loc`` is
the field's path in the request (``("items", 2, "position")``) and whose ``type``
is pydantic's name where pydantic checks the same thing at the REST edge, so a
form shows each reason next to its field whichever layer caught it. Nothing is
written before these checks pass.

Limits: at most ``MAX_ITEMS`` items; titles 1-200 characters after trimming;
description and guidance up to 5,000; due offsets 0 to 30 days in minutes;
positions 1-10,000 and distinct; agency kinds from ``AgencyKind``; an item's
``key`` (optional) must name an item of the version being edited, once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.agencies.models import AgencyKind
from hub.errors import FieldProblem, InvalidFields, InvalidInput
from hub.text import clean_text

MAX_ITEMS = 100
MAX_TITLE = 200
MAX_TEXT = 5_000
MAX_POSITION = 10_000
MAX_DUE_OFFSET_MINUTES = 60 * 24 * 30
# Lower-case letters, digits and hyphens: the stream key is the code upper-cased
# (``template:TIP-SCREENING``), and this makes that mapping one-to-one.
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{1,59}$"
CODE_RE = re.compile(CODE_PATTERN)
KEY_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
KEY_RE = re.compile(KEY_PATTERN)
AGENCY_KINDS = tuple(k.value for k in AgencyKind)


@dataclass(frozen=True)
class ItemDraft:
    """One item as a writer submits it (``key`` None: a new item)."""

    position: int
    title: str
    agency_kind: str
    due_offset_minutes: int
    guidance: str = ""
    requires_note: bool = False
    requires_cosign: bool = False
    key: str | None = None


@dataclass(frozen=True)
class TemplateDraft:
    """A checked version: text trimmed and normalised, items in position order."""

    title: str
    description: str
    items: tuple[ItemDraft, ...]


def new_item_key(taken: Collection[str]) -> str:
    """A fresh item key, not in ``taken``."""
    while True:
        key = uuid.uuid4().hex[:12]
        if key not in taken:
            return key


def check_code(code: Any) -> list[FieldProblem]:
    if not isinstance(code, str):
        return [FieldProblem(("code",), "Must be text.", "string_type")]
    if not CODE_RE.fullmatch(code):
        return [
            FieldProblem(
                ("code",),
                "Use 2-60 lower-case letters, digits or hyphens, starting with a letter or digit.",
                "string_pattern_mismatch",
            )
        ]
    return []


def _text(
    value: Any,
    loc: tuple[str | int, ...],
    problems: list[FieldProblem],
    *,
    max_length: int,
    required: bool,
) -> str:
    if not isinstance(value, str):
        problems.append(FieldProblem(loc, "Must be text.", "string_type"))
        return ""
    trimmed = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not trimmed:
        problems.append(FieldProblem(loc, "Must not be empty.", "string_too_short"))
        return ""
    if len(trimmed) > max_length:
        problems.append(FieldProblem(loc, f"At most {max_length} characters.", "string_too_long"))
        return ""
    try:
        return clean_text(trimmed, field=str(loc[-1]), max_length=max_length, required=required)
    except InvalidInput as refused:
        problems.append(FieldProblem(loc, refused.detail, "invalid_text"))
        return ""


def _int(
    value: Any,
    loc: tuple[str | int, ...],
    problems: list[FieldProblem],
    *,
    low: int,
    high: int,
    below: str,
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(FieldProblem(loc, "Must be a whole number.", "int_type"))
        return low
    if value < low:
        problems.append(FieldProblem(loc, below, "greater_than_equal"))
    elif value > high:
        problems.append(FieldProblem(loc, f"At most {high}.", "less_than_equal"))
    return value


def _check_item(
    index: int, item: ItemDraft, known_keys: Collection[str], problems: list[FieldProblem]
) -> ItemDraft:
    at: tuple[str | int, ...] = ("items", index)
    position = _int(
        item.position,
        (*at, "position"),
        problems,
        low=1,
        high=MAX_POSITION,
        below="Positions start at 1.",
    )
    title = _text(item.title, (*at, "title"), problems, max_length=MAX_TITLE, required=True)
    guidance = _text(
        item.guidance, (*at, "guidance"), problems, max_length=MAX_TEXT, required=False
    )
    if item.agency_kind not in AGENCY_KINDS:
        problems.append(
            FieldProblem(
                (*at, "agency_kind"),
                f"Unknown agency kind {item.agency_kind!r}; use one of: {', '.join(AGENCY_KINDS)}.",
                "literal_error",
            )
        )
    due = _int(
        item.due_offset_minutes,
        (*at, "due_offset_minutes"),
        problems,
        low=0,
        high=MAX_DUE_OFFSET_MINUTES,
        below="A due offset cannot be negative.",
    )
    for name in ("requires_note", "requires_cosign"):
        if not isinstance(getattr(item, name), bool):
            problems.append(FieldProblem((*at, name), "Must be true or false.", "bool_type"))
    if item.key is not None:
        if not isinstance(item.key, str) or not KEY_RE.fullmatch(item.key):
            problems.append(
                FieldProblem(
                    (*at, "key"),
                    "Keys are 1-40 letters, digits, hyphens or underscores.",
                    "string_pattern_mismatch",
                )
            )
        elif item.key not in known_keys:
            problems.append(
                FieldProblem(
                    (*at, "key"),
                    "No item of the version being edited has this key; leave it out "
                    "for a new item.",
                    "unknown_key",
                )
            )
    return ItemDraft(
        position=position,
        title=title,
        agency_kind=item.agency_kind,
        due_offset_minutes=due,
        guidance=guidance,
        requires_note=item.requires_note,
        requires_cosign=item.requires_cosign,
        key=item.key,
    )


def _duplicates(
    values: Iterable[tuple[int, Any]], field: str, what: str, kind: str
) -> list[FieldProblem]:
    """Every occurrence after the first of a value, naming where it first appeared."""
    first: dict[Any, int] = {}
    problems: list[FieldProblem] = []
    for index, value in values:
        if value in first:
            problems.append(
                FieldProblem(
                    ("items", index, field),
                    f"Item {first[value] + 1} already has {what} {value}.",
                    kind,
                )
            )
        else:
            first[value] = index
    return problems


def check_template(
    *,
    title: Any,
    description: Any,
    items: Sequence[ItemDraft],
    known_keys: Collection[str] = (),
    problems: list[FieldProblem] | None = None,
) -> TemplateDraft:
    """The checked draft, or ``InvalidFields`` naming every problem at once.

    ``known_keys``: the item keys of the version being edited (none for a new
    template). ``problems`` found earlier (the code, say) are reported together.
    """
    found = list(problems or [])
    clean_title = _text(title, ("title",), found, max_length=MAX_TITLE, required=True)
    clean_description = _text(
        description, ("description",), found, max_length=MAX_TEXT, required=False
    )
    if not items:
        found.append(FieldProblem(("items",), "A checklist needs at least one item.", "too_short"))
    elif len(items) > MAX_ITEMS:
        found.append(
            FieldProblem(("items",), f"A checklist has at most {MAX_ITEMS} items.", "too_long")
        )
    checked = [_check_item(i, item, known_keys, found) for i, item in enumerate(items)]
    found += _duplicates(
        ((i, item.position) for i, item in enumerate(items) if isinstance(item.position, int)),
        "position",
        "position",
        "duplicate_position",
    )
    found += _duplicates(
        ((i, item.key) for i, item in enumerate(items) if isinstance(item.key, str)),
        "key",
        "key",
        "duplicate_key",
    )
    if found:
        raise InvalidFields(found)
    return TemplateDraft(
        title=clean_title,
        description=clean_description,
        items=tuple(sorted(checked, key=lambda item: item.position)),
    )
