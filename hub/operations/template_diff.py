"""What changed between two versions of an SOP checklist template: a pure function.

Both sides are ``TemplatePublished`` payloads (a version as its event records it,
or as ``hub.operations.selectors.template_publication`` reads it from its rows),
so a diff can be computed from the stream alone.

Items are matched by their stable ``key``, not by position. A key is given to an
item when it is first written and carried into every later version that keeps
the item (the browser's editor sends back the key it loaded; ``load_sops`` keeps
the key of the item with the same title). Matched by position, inserting one step
near the top would show every later step as "changed" in every field, and a
reordering could not be told from a rewrite; matched by title, fixing a typo in a
title would show as one item removed and another added. With keys the diff says
what the author did: this step was added, that one removed, this one's due
offset went from 60 to 90 minutes, that one moved from position 3 to 4.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.events.types import TemplateItemSnapshot, TemplatePublished

DiffValue = bool | int | str | None
TEMPLATE_FIELDS = ("title", "description")
ITEM_FIELDS = (
    "position",
    "title",
    "guidance",
    "agency_kind",
    "due_offset_minutes",
    "requires_note",
    "requires_cosign",
)


class TemplateFieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    old: DiffValue
    new: DiffValue


class TemplateItemChange(BaseModel):
    """An item kept in both versions whose fields differ (by key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    position: int = Field(description="Its position in the newer (`to`) version.")
    title: str = Field(description="Its title in the newer (`to`) version.")
    changes: dict[str, TemplateFieldChange] = Field(
        description="Only the fields that differ: position, title, guidance, agency_kind, "
        "due_offset_minutes, requires_note, requires_cosign."
    )


class TemplateDiff(BaseModel):
    """``to`` compared with ``from``: each list in position order (removed items in
    their old order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str
    from_version: int
    to_version: int
    fields: dict[str, TemplateFieldChange] = Field(
        description="The template's own fields that differ (title, description)."
    )
    items_added: list[TemplateItemSnapshot]
    items_removed: list[TemplateItemSnapshot]
    items_changed: list[TemplateItemChange]
    items_unchanged: int = Field(description="How many items are the same in both.")


def _changes(old: object, new: object, names: tuple[str, ...]) -> dict[str, TemplateFieldChange]:
    return {
        name: TemplateFieldChange(old=getattr(old, name), new=getattr(new, name))
        for name in names
        if getattr(old, name) != getattr(new, name)
    }


def template_diff(old: TemplatePublished, new: TemplatePublished) -> TemplateDiff:
    """What ``new`` changed against ``old`` (any two versions, in either order)."""
    before = {item.key: item for item in old.items}
    after = {item.key: item for item in new.items}
    changed: list[TemplateItemChange] = []
    unchanged = 0
    for item in sorted(new.items, key=lambda i: i.position):
        previous = before.get(item.key)
        if previous is None:
            continue
        changes = _changes(previous, item, ITEM_FIELDS)
        if changes:
            changed.append(
                TemplateItemChange(
                    key=item.key, position=item.position, title=item.title, changes=changes
                )
            )
        else:
            unchanged += 1
    return TemplateDiff(
        code=new.code,
        from_version=old.version,
        to_version=new.version,
        fields=_changes(old, new, TEMPLATE_FIELDS),
        items_added=sorted((i for i in new.items if i.key not in before), key=lambda i: i.position),
        items_removed=sorted(
            (i for i in old.items if i.key not in after), key=lambda i: i.position
        ),
        items_changed=changed,
        items_unchanged=unchanged,
    )
