"""The web app in Urdu: right to left, translated, and accessible, at laptop and tablet width.

NA-IMM's duty officer picks اردو in the Language select: the document turns
right-to-left (``<html dir="rtl" lang="ur">``) and the screens speak Urdu. The
board and the incident room are photographed at a laptop (1280×800) and a
tablet (820×1180) width under var/e2e/ (urdu-*.png), and axe-core checks them,
and the report and issue-alert forms, for serious or critical violations.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LAPTOP, ROOT, TABLET, Hub
from tests.e2e.officers import (
    DEMO_INCIDENT,
    assert_accessible,
    exact,
    screenshot,
    sign_in,
)

LOCALES = ROOT / "frontend" / "src" / "i18n" / "locales"


def urdu(key: str) -> str:
    for name in ("ur.json", "forms.ur.json"):
        messages: dict[str, str] = json.loads((LOCALES / name).read_text(encoding="utf-8"))
        if key in messages:
            return messages[key]
    raise KeyError(key)


def photograph(page: Any, name: str) -> None:
    """Screenshots at laptop and tablet width, each checked by axe-core; back to laptop."""
    for size, viewport in (("laptop", LAPTOP), ("tablet", TABLET)):
        page.set_viewport_size(viewport)
        screenshot(page, f"urdu-{name}-{size}")
        assert_accessible(page, f"the {name} in Urdu at {size} width")
    page.set_viewport_size(LAPTOP)


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_urdu_is_right_to_left_translated_and_accessible(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    page = sign_in(contexts, browser, hub.a, "na-imm.duty", "/points/WDH")
    row = page.locator(f"[data-testid=incident-row][data-ref='{DEMO_INCIDENT}']")
    expect(row).to_be_visible()
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "ltr")

    page.get_by_label("Language").select_option(label="اردو")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ur")
    board = page.get_by_test_id("board")
    expect(board.get_by_test_id("card-open")).to_contain_text(urdu("board.card.open"))
    expect(board.get_by_role("heading", name=urdu("board.incidents"))).to_be_visible()
    expect(row).to_be_visible()
    photograph(page, "board")

    row.get_by_role("link").click()
    room = page.get_by_test_id("room")
    expect(room.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()
    expect(room.get_by_role("heading", name=urdu("room.channel"))).to_be_visible()
    expect(room.get_by_role("button", name=exact(urdu("action.send")))).to_be_visible()
    photograph(page, "room")

    # The forms, reached from the board as an officer would (no reload: still Urdu).
    page.get_by_role("navigation").get_by_role("link", name="WDH", exact=True).click()
    expect(board).to_be_visible()
    board.locator("a[href='/report?point=WDH']").click()
    expect(page.get_by_role("heading", name=urdu("report.title"))).to_be_visible()
    assert_accessible(page, "the report form in Urdu")
    page.go_back()
    board.locator("a[href='/points/WDH/alerts/new']").click()
    expect(page.get_by_test_id("issue-alert")).to_be_visible()
    assert_accessible(page, "the issue-alert form in Urdu")
    expect(html).to_have_attribute("dir", "rtl")
