"""A senior official reviews an incident's record in the browser (part 3, §1 and §2).

NA-IMM's senior official opens the review of the demo incident from its room:
the milestone strip and the verification badge ("Verified through #<head>")
show, and axe-core finds nothing serious. They narrow the timeline to messages
(a chip) posted by NA-POL (the agency filter): "Showing X of Y" counts exactly
the events the record holds for that filter, the rows are those events, the
badge counts two filters, and the URL carries them (a reload keeps the view).
The CSV they download holds exactly the rows shown; the printable report opens
with the same filters and is photographed (var/e2e/review-report.png), as is
the review in Urdu at a tablet's width (var/e2e/urdu-review.png).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.events.models import Event
from tests.e2e.conftest import Hub
from tests.e2e.officers import DEMO_INCIDENT, assert_accessible, screenshot, sign_in

STREAM = f"incident:{DEMO_INCIDENT}"
TABLET = {"width": 820, "height": 1180}


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_a_senior_official_filters_exports_and_prints_the_record(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    events = Event.objects.filter(stream__name=STREAM)
    head = events.count()
    expected = sorted(
        events.filter(kind="message.posted", actor_agency__code="NA-POL").values_list(
            "seq", flat=True
        )
    )
    assert expected, "the demo incident has a message from NA-POL"
    assert len(expected) < events.filter(kind="message.posted").count()

    page = sign_in(contexts, browser, hub.a, "na-imm.senior", f"/incidents/{DEMO_INCIDENT}")
    page.get_by_test_id("review-link").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{DEMO_INCIDENT}/review$"))
    review = page.get_by_test_id("review")
    expect(review.get_by_test_id("verification")).to_contain_text(f"Verified through #{head}")
    expect(review.get_by_test_id("milestones").locator("li")).to_have_count(6)
    expect(review.get_by_test_id("showing")).to_have_text(f"Showing {head} of {head}")
    expect(review.get_by_test_id("review-row")).to_have_count(head)
    assert_accessible(page, "the incident review")

    review.get_by_role("button", name="Messages", exact=True).click()
    review.get_by_label("Agency", exact=True).select_option("NA-POL")
    review.get_by_role("button", name="Apply filters").click()
    expect(review.get_by_test_id("showing")).to_have_text(f"Showing {len(expected)} of {head}")
    expect(review.get_by_test_id("filter-count")).to_have_text("2 filters")
    rows = review.get_by_test_id("review-row")
    expect(rows).to_have_count(len(expected))
    assert [int(s) for s in rows.evaluate_all("rs => rs.map(r => r.dataset.seq)")] == expected
    expect(page).to_have_url(re.compile(r"/review\?group=messages&agency=NA-POL$"))
    assert_accessible(page, "the filtered review")

    page.reload()
    expect(review.get_by_test_id("showing")).to_have_text(f"Showing {len(expected)} of {head}")
    expect(review.get_by_role("button", name="Messages", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )

    with page.expect_download() as download:
        review.get_by_test_id("export-csv").click()
    text = io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))
    exported = list(csv.DictReader(text))
    assert [int(r["seq"]) for r in exported] == expected
    assert {r["agency"] for r in exported} == {"NA-POL"}
    assert {r["kind"] for r in exported} == {"message.posted"}

    with page.context.expect_page() as opened:
        review.get_by_test_id("export-print").click()
    report = opened.value
    report.wait_for_load_state()
    assert "group=messages" in report.url
    assert "agency=NA-POL" in report.url
    showing = re.compile(rf"Showing {len(expected)} of {head}\b")
    expect(report.locator("body")).to_contain_text(showing)
    screenshot(report, "review-report")

    tablet = sign_in(
        contexts,
        browser,
        hub.a,
        "na-imm.senior",
        f"/incidents/{DEMO_INCIDENT}/review?group=messages",
        viewport=TABLET,
    )
    tablet.get_by_label("Language").select_option(label="اردو")
    expect(tablet.locator("html")).to_have_attribute("dir", "rtl")
    expect(tablet.get_by_test_id("review-row").first).to_be_visible()
    screenshot(tablet, "urdu-review")
