"""A senior official searches the record in the browser (part 3, §3).

NA-IMM's senior official serves WDH and WVB. A passport number appears in a
message at WDH, in an incident's description at WVB and in an alert at WDH;
they open "Search" from the top bar, search the number and find all three,
newest first, the number marked in each snippet, the incidents' linked to their
row in the incident room and the alert to its page; the URL
keeps the query (a reload shows the same results). A one-character search
shows the reason next to the field; a number nobody wrote shows "No results".
axe-core finds nothing serious (var/e2e/search.png).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.alerts import services as alert_services
from tests.e2e.conftest import Hub
from tests.e2e.officers import assert_accessible, screenshot, sign_in
from tests.factories import officer, post, report

PASSPORT = "P7731904"


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_a_senior_official_finds_a_passport_number_at_two_points(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    wdh = report("na-imm.duty", "WDH", title="Altered passport at arrivals").ref
    message = post("na-imm.duty", wdh, f"Holder of passport {PASSPORT} refused entry.").message
    wvb = report(
        "na-imm.duty",
        "WVB",
        title="Crew member with a forged passport",
        description=f"Seaman's book and passport {PASSPORT.lower()} do not match the crew list.",
    ).ref
    alert = alert_services.alert_issue(
        actor=officer("na-air.duty"),
        crossing_point="WDH",
        category="document_fraud",
        severity="high",
        title="Stolen passport",
        body=f"Passport {PASSPORT} was reported stolen in Lusaka.",
    ).alert

    page = sign_in(contexts, browser, hub.a, "na-imm.senior", "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    expect(page).to_have_url(re.compile(r"/search$"))
    page.get_by_role("searchbox", name="Search the record").fill(PASSPORT)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/search\?q={PASSPORT}$"))

    every = page.get_by_test_id("search-hit")
    expect(every).to_have_count(3)
    expect(every.nth(0)).to_have_attribute("data-kind", "alert")
    expect(every.nth(0).locator("mark")).to_have_text(PASSPORT)
    expect(every.nth(0)).to_contain_text("Stolen passport")
    expect(every.nth(0).get_by_role("link")).to_have_attribute("href", f"/alerts/{alert.pk}")
    hits = page.locator("[data-testid=search-hit]:not([data-kind=alert])")
    expect(hits.nth(0)).to_have_attribute("data-incident", wvb)
    expect(hits.nth(1)).to_have_attribute("data-incident", wdh)
    expect(hits.nth(0).locator("mark")).to_have_text(PASSPORT.lower())
    expect(hits.nth(1).locator("mark")).to_have_text(PASSPORT)
    expect(hits.nth(0)).to_contain_text("WVB")
    expect(hits.nth(1)).to_contain_text("WDH")
    expect(hits.nth(1).get_by_role("link")).to_have_attribute(
        "href", f"/incidents/{wdh}#seq-{message.seq}"
    )
    assert_accessible(page, "the search results")
    screenshot(page, "search")

    page.reload()
    expect(page.get_by_test_id("search-hit")).to_have_count(3)

    page.get_by_role("searchbox", name="Search the record").fill("P")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_test_id("search-problem")).to_be_visible()
    expect(page.get_by_test_id("search-hit")).to_have_count(0)

    page.get_by_role("searchbox", name="Search the record").fill("Z0000000")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_test_id("search-empty")).to_have_text("No results for “Z0000000”.")

    hits = page.get_by_test_id("search-hit")
    page.goto(hub.a.base_url + f"/search?q={PASSPORT}")
    expect(hits).to_have_count(3)
    hits.nth(2).get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{wdh}#seq-{message.seq}$"))
    # The room opens at that row: marked, and scrolled into view.
    row = page.locator(f"#seq-{message.seq}")
    expect(row).to_have_class(re.compile(r"\blinked\b"))
    expect(row).to_be_in_viewport()
