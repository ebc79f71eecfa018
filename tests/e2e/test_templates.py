"""SOP templates in the browser: an administrator reads them and publishes a new version.

NA-IMM's administrator (templates are written by holders of an admin
membership) opens /templates, which lists every seeded SOP, and the
trafficking-screening template's page: its eight items and its version history.
In the editor ("New version") they give item 3 a negative due offset and press
"Publish": the reason shows next to that field (focus on it) and no version is
written. They put the offset back, retitle the item and publish again: the hub
records the next version (written in the browser, by them, for NA-IMM) and
keeps the previous one as it was; the page shows the new version, its history
lists both, and "what changed" between them names the old and the new title and
nothing else. axe-core checks the list, the page and the editor (with and
without the reason showing). The editor is photographed in English
(var/e2e/template-editor.png) and the template's page in Urdu
(var/e2e/urdu-template.png).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.accounts.models import User
from hub.operations.models import ChecklistTemplate
from hub.operations.sops import SOPS
from tests.e2e.conftest import ROOT, Hub
from tests.e2e.officers import assert_accessible, exact, screenshot, sign_in

ADMIN = "na-imm.admin"  # an admin membership of NA-IMM: may write templates
TEMPLATE = "tip-screening"
ITEM = 2  # the third item, "Examine travel documents …" (index in the editor)
NEW_TITLE = "Examine travel documents, check SLTD, Interpol and national watchlists"
ITEM_FIELDS = (
    "key",
    "position",
    "title",
    "guidance",
    "agency_kind",
    "due_offset_minutes",
    "requires_note",
    "requires_cosign",
)
LOCALES = ROOT / "frontend" / "src" / "i18n" / "locales"


def urdu(key: str) -> str:
    messages: dict[str, str] = json.loads(
        (LOCALES / "templates.ur.json").read_text(encoding="utf-8")
    )
    return messages[key]


def version_record(version: int) -> dict[str, Any]:
    """One stored version of the template: its fields and its items in position order."""
    template = ChecklistTemplate.objects.get(code=TEMPLATE, version=version)
    return {
        "title": template.title,
        "description": template.description,
        "is_current": template.is_current,
        "source": template.source,
        "published_by": template.published_by.username if template.published_by else None,
        "publisher_agency": template.publisher_agency.code if template.publisher_agency else None,
        "published_at": template.published_at,
        "items": list(template.items.order_by("position").values(*ITEM_FIELDS)),
    }


def versions() -> list[int]:
    return list(
        ChecklistTemplate.objects.filter(code=TEMPLATE)
        .order_by("version")
        .values_list("version", flat=True)
    )


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_administrator_publishes_a_new_template_version(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    base = ChecklistTemplate.objects.get(code=TEMPLATE, is_current=True).version
    before = version_record(base)
    item = before["items"][ITEM]
    assert item["title"] != NEW_TITLE
    assert item["due_offset_minutes"] > 0
    admin_name = User.objects.get(username=ADMIN).display_name

    # The list: the current version of every seeded SOP.
    page = sign_in(contexts, browser, hub.a, ADMIN, "/templates")
    table = page.get_by_test_id("template-table")
    rows = table.get_by_test_id("template-row")
    expect(rows).to_have_count(len(SOPS))
    for sop in SOPS:
        expect(table.locator(f"tr[data-code='{sop.code}']")).to_contain_text(sop.title)
    row = table.locator(f"tr[data-code='{TEMPLATE}']")
    cells = row.locator("td")
    expect(cells.nth(2)).to_have_text(exact(str(base)))
    expect(cells.nth(6)).to_have_text(exact(str(len(before["items"]))))
    expect(page.get_by_test_id("template-new")).to_be_visible()  # an administrator's action
    assert_accessible(page, "the SOP template list")

    # The template's page: its items and its versions.
    row.get_by_role("link", name=before["title"], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/templates/{TEMPLATE}$"))
    template_page = page.get_by_test_id("template-page")
    expect(page.get_by_test_id("template-heading")).to_have_text(exact(before["title"]))
    items = template_page.get_by_test_id("template-items").locator("li.task")
    expect(items).to_have_count(len(before["items"]))
    expect(items.nth(ITEM)).to_have_attribute("data-key", item["key"])
    expect(items.nth(ITEM)).to_contain_text(item["title"])
    history = template_page.get_by_test_id("template-versions").locator("tbody tr")
    expect(history).to_have_count(base)
    from_code = page.locator("td", has_text=exact("Loaded from code"))
    expect(history.filter(has=from_code)).to_have_count(base)
    assert_accessible(page, "the SOP template page")

    # The editor, prefilled from the current version.
    page.get_by_test_id("template-edit").click()
    expect(page).to_have_url(re.compile(rf"/templates/{TEMPLATE}/edit$"))
    editor = page.get_by_test_id("template-editor")
    editor_items = editor.get_by_test_id("tpl-item")
    expect(editor_items).to_have_count(len(before["items"]))
    publish = editor.get_by_test_id("tpl-publish")
    expect(publish).to_have_text(exact(f"Publish version {base + 1}"))
    due = editor.get_by_test_id(f"tpl-item-due-{ITEM}")
    expect(due).to_have_value(str(item["due_offset_minutes"]))
    assert_accessible(page, "the SOP template editor")

    # A negative due offset: refused next to the field, nothing written.
    due.fill("-15")
    publish.click()
    reasons = editor.get_by_test_id("field-error")
    expect(reasons).to_have_count(1)
    expect(editor_items.nth(ITEM).get_by_test_id("field-error")).to_have_text(
        exact("A due offset cannot be negative.")
    )
    expect(due).to_have_attribute("aria-invalid", "true")
    expect(due).to_be_focused()
    expect(editor.get_by_test_id("items-error")).to_have_count(0)
    expect(editor.get_by_test_id("form-problem")).to_have_count(0)
    expect(publish).to_have_text(exact(f"Publish version {base + 1}"))  # not "Publishing…"
    assert_accessible(page, "the SOP template editor with a refused field")
    screenshot(page, "template-editor")
    expect(page).to_have_url(re.compile(rf"/templates/{TEMPLATE}/edit$"))
    assert versions() == [base]

    # Fixed and retitled: the next version is published and the page shows it.
    due.fill(str(item["due_offset_minutes"]))
    expect(reasons).to_have_count(0)
    expect(due).not_to_have_attribute("aria-invalid", "true")
    editor.get_by_test_id(f"tpl-item-title-{ITEM}").fill(NEW_TITLE)
    publish.click()
    expect(page).to_have_url(re.compile(rf"/templates/{TEMPLATE}$"))
    version_fact = template_page.locator("dl.facts > div").filter(
        has=page.locator("dt", has_text=exact("Version"))
    )
    expect(version_fact.locator("dd")).to_have_text(re.compile(rf"^\s*{base + 1}\s+current\s*$"))
    expect(items.nth(ITEM)).to_have_attribute("data-key", item["key"])
    expect(items.nth(ITEM)).to_contain_text(NEW_TITLE)
    expect(items.filter(has_text=item["title"])).to_have_count(0)
    expect(history).to_have_count(base + 1)
    newest = history.filter(has=page.locator("strong", has_text=exact(str(base + 1))))
    expect(newest).to_have_attribute("aria-current", "true")
    expect(newest).to_contain_text("Written in the browser")
    expect(newest).to_contain_text(admin_name)
    expect(newest).to_contain_text("NA-IMM")
    previous = history.filter(has=page.get_by_role("link", name=exact(f"Version {base}")))
    expect(previous.filter(has=from_code)).to_have_count(1)
    expect(previous).not_to_have_attribute("aria-current", "true")

    # What changed: the retitled item, and only its title.
    diff = template_page.get_by_test_id("template-diff")
    expect(diff.get_by_test_id("diff-from")).to_have_value(str(base))
    expect(diff.get_by_test_id("diff-to")).to_have_value(str(base + 1))
    unchanged = len(before["items"]) - 1
    expect(diff.get_by_test_id("diff-view").locator("p.meta")).to_have_text(
        exact(f"Version {base + 1} compared with version {base}; {unchanged} items are unchanged.")
    )
    for untouched in ("diff-fields", "diff-added", "diff-removed"):
        expect(diff.get_by_test_id(untouched)).to_have_count(0)
    changed = diff.get_by_test_id("diff-changed").locator(":scope > li")
    expect(changed).to_have_count(1)
    expect(changed).to_have_attribute("data-key", item["key"])
    changes = changed.locator("ul > li")
    expect(changes).to_have_count(1)
    expect(changes.locator("del")).to_have_text(exact(item["title"]))
    expect(changes.locator("ins")).to_have_text(exact(NEW_TITLE))

    # The record: the next version as published, the previous one as it was.
    assert versions() == [base, base + 1]
    after = version_record(base)
    assert after == {**before, "is_current": False}
    published = version_record(base + 1)
    expected_items = [dict(i) for i in before["items"]]
    expected_items[ITEM]["title"] = NEW_TITLE
    assert published["items"] == expected_items
    assert {k: published[k] for k in ("title", "description", "is_current", "source")} == {
        "title": before["title"],
        "description": before["description"],
        "is_current": True,
        "source": "browser",
    }
    assert published["published_by"] == ADMIN
    assert published["publisher_agency"] == "NA-IMM"
    assert published["published_at"] > before["published_at"]

    # The page in Urdu (no reload: the switch is live).
    page.get_by_label("Language").select_option(label="اردو")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(template_page.get_by_role("heading", name=urdu("tpl.page.history"))).to_be_visible()
    expect(template_page.get_by_role("heading", name=urdu("tpl.diff.title"))).to_be_visible()
    expect(changes.locator("ins")).to_have_text(exact(NEW_TITLE))
    screenshot(page, "urdu-template")
