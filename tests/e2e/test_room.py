"""The incident room in the browser: a mention, an edit and a redaction, live for two agencies.

On the demo incident WDH-2026-0001 (NA-IMM leads, NA-POL participates) NA-IMM's
duty officer (A) mentions NA-POL's duty officer (B) by name. B, on the other
worker, sees the message marked as mentioning them, reads it (A sees "Seen by
NA-POL") and starts a reply (A sees B typing). A edits the message: B sees
"edited (1 time)" and both versions. A redacts it with a reason: both see who
redacted it and why, and its text is gone from both pages (the room and what was
announced to screen readers), also from B's room after a reload.

With HUB_SCREENSHOT set, A's view of the room (laptop width, English) before
the redaction refreshes docs/screenshot.png.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.accounts.models import User
from hub.incidents.models import Message
from tests.e2e.conftest import LAPTOP, ROOT, Hub
from tests.e2e.officers import (
    DEMO_INCIDENT,
    assert_accessible,
    mark_document,
    same_document,
    sign_in,
)

POSTED = "@na-pol.duty the family from flight WB 112 is at gate 4; can you meet them?"
EDITED = "@na-pol.duty the family from flight WB 112 is at gate 7 now; can you meet them?"
REASON = "Names a minor's flight before the case is confirmed"


def message_row(page: Any, text: str) -> Any:
    return page.get_by_test_id("timeline").locator("li[data-testid=message]", has_text=text)


def by_id(page: Any, message_id: str | None) -> Any:
    assert message_id, "the message row has no id"
    return page.locator(f"li[data-testid=message][data-message-id='{message_id}']")


@pytest.mark.django_db(transaction=True)
def test_mention_edit_and_redaction_live_across_agencies(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    a_name = User.objects.get(username="na-imm.duty").display_name
    b_name = User.objects.get(username="na-pol.duty").display_name
    a = sign_in(contexts, browser, hub.a, "na-imm.duty", "/points/WDH")
    a.locator(f"[data-testid=incident-row][data-ref='{DEMO_INCIDENT}'] a").click()
    b = sign_in(contexts, browser, hub.b, "na-pol.duty", f"/incidents/{DEMO_INCIDENT}")
    for page, other in ((a, b_name), (b, a_name)):
        expect(page.get_by_test_id("incident-title")).to_contain_text(DEMO_INCIDENT)
        expect(page.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()
        expect(page.get_by_test_id("room").get_by_test_id("presence")).to_contain_text(other)
        mark_document(page)
    assert_accessible(a, "the incident room")

    a.get_by_label("Message", exact=True).fill(POSTED)
    a.get_by_role("button", name="Send").click()
    expect(message_row(a, POSTED)).to_have_class(re.compile(r"\bmine\b"))
    message_id = message_row(a, POSTED).get_attribute("data-message-id")
    mine = by_id(a, message_id)
    expect(a.get_by_test_id("unsent")).to_have_count(0)

    theirs = message_row(b, POSTED)
    expect(theirs).to_have_class(re.compile(r"\bmentioned\b"))
    expect(theirs).to_contain_text("mentions you")
    expect(theirs).to_contain_text(a_name)
    expect(a.get_by_test_id("seen-by")).to_contain_text("NA-POL")
    b.get_by_label("Message", exact=True).press_sequentially("On my")
    expect(a.get_by_test_id("typing")).to_have_text(f"{b_name} (NA-POL) is typing…")

    mine.get_by_role("button", name="Edit").click()
    mine.get_by_label("Edit your message").fill(EDITED)
    mine.get_by_role("button", name="Save").click()
    edited = message_row(b, EDITED)
    toggle = edited.get_by_role("button", name="edited (1 time)")
    toggle.click()
    versions = edited.get_by_test_id("versions")
    expect(versions.locator("li")).to_have_count(2)
    expect(versions.locator("li").nth(0)).to_contain_text(POSTED)
    expect(versions.locator("li").nth(1)).to_contain_text(EDITED)
    expect(message_row(b, POSTED)).to_have_count(1)  # one row, holding both versions
    if os.environ.get("HUB_SCREENSHOT"):
        expect(mine.get_by_role("button", name="edited (1 time)")).to_be_visible()
        a.set_viewport_size({"width": LAPTOP["width"], "height": 1000})  # down to the composer
        a.evaluate("window.scrollTo(0, 0)")
        a.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
        a.set_viewport_size(LAPTOP)
    assert_accessible(b, "the incident room with a message's versions open")

    mine.get_by_role("button", name="Redact").click()
    mine.get_by_label("Reason for redacting").fill(REASON)
    mine.get_by_role("button", name="Redact").click()
    for page in (a, b):
        row = by_id(page, message_id)
        expect(row.get_by_test_id("redaction")).to_have_text(
            f"Redacted by {a_name}, NA-IMM: {REASON}"
        )
        expect(row).to_have_class(re.compile(r"\bredacted\b"))
        # Gone from the whole page: the room, and what was announced about it.
        for text in ("gate 4", "gate 7"):
            expect(
                page.locator("body"), f"the redacted {text!r} is still on the page"
            ).not_to_contain_text(text)
    assert same_document(a), "A's room was reloaded"
    assert same_document(b), "B's room was reloaded"

    b.reload()
    row = by_id(b, message_id)
    expect(row.get_by_test_id("redaction")).to_have_text(f"Redacted by {a_name}, NA-IMM: {REASON}")
    for text in ("gate 4", "gate 7"):
        expect(b.locator("body")).not_to_contain_text(text)

    message = Message.objects.get(pk=int(message_id or 0))
    assert message.incident.ref == DEMO_INCIDENT
    assert message.edit_count == 1
    assert message.redaction_reason == REASON
    assert message.redacted_by is not None
    assert message.redacted_by.username == "na-imm.duty"
