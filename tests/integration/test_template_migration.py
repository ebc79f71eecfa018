"""Migration operations 0002 on a database that already has template versions.

Existing versions came from code (``source`` "code"), have no event yet (``seq``
None: ``load_sops`` records them), and their items get keys: an item keeps the key
of the item with the same title in the version before, so the diff of two old
versions says what changed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("operations", "0001_initial")]
AFTER = [("operations", "0002_template_versions_from_the_browser")]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    migrations = MigrationExecutor(connection)
    migrations.migrate(BEFORE)
    try:
        yield migrations
    finally:
        migrations = MigrationExecutor(connection)
        migrations.loader.build_graph()
        migrations.migrate(migrations.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_existing_versions_get_item_keys_matched_by_title(executor: MigrationExecutor) -> None:
    old_apps = executor.loader.project_state(BEFORE).apps
    template_model = old_apps.get_model("operations", "ChecklistTemplate")
    item_model = old_apps.get_model("operations", "TemplateItem")
    now = timezone.now()
    v1 = template_model.objects.create(
        code="legacy", version=1, title="Legacy", is_current=False, published_at=now
    )
    v2 = template_model.objects.create(
        code="legacy", version=2, title="Legacy", is_current=True, published_at=now
    )
    other = template_model.objects.create(
        code="other", version=1, title="Other", is_current=True, published_at=now
    )
    for template, titles in (
        (v1, ["Secure", "Count", "Search"]),
        (v2, ["Count", "Secure", "Debrief"]),  # reordered, one removed, one added
        (other, ["Secure"]),
    ):
        for position, title in enumerate(titles, start=1):
            item_model.objects.create(
                template=template,
                position=position,
                title=title,
                agency_kind="police",
                due_offset_minutes=position,
            )

    executor.loader.build_graph()
    executor.migrate(AFTER)

    new_apps = executor.loader.project_state(AFTER).apps
    items = new_apps.get_model("operations", "TemplateItem")
    keys = {
        (row["template__code"], row["template__version"], row["title"]): row["key"]
        for row in items.objects.values("template__code", "template__version", "title", "key")
    }
    assert all(keys.values())
    assert keys["legacy", 2, "Secure"] == keys["legacy", 1, "Secure"]
    assert keys["legacy", 2, "Count"] == keys["legacy", 1, "Count"]
    first = {keys["legacy", 1, t] for t in ("Secure", "Count", "Search")}
    assert len(first) == 3
    assert keys["legacy", 2, "Debrief"] not in first
    templates = new_apps.get_model("operations", "ChecklistTemplate")
    assert set(templates.objects.values_list("source", "seq", "publisher_agency")) == {
        ("code", None, None)
    }
