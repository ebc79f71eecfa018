"""Reporting an incident in the browser: a refusal next to its field, then the room,
and another agency's board shows the new incident live.

A duty officer of NA-IMM at Hosea Kutako International Airport (WDH) pastes a
title from a document scanner that carries a group-separator control character
(GS, U+001D, as GS1 barcodes do). The form has no reason to refuse it; the hub
does (422: "title must not contain control characters."), and the form shows that
next to the title with everything typed kept. With the title corrected the
report is recorded once (the form resends its one client_msg_id) and the room
opens. The report is for every agency at the crossing point, so NA-CUS's duty
officer, on the other worker, sees it arrive on the WDH board without a reload.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.incidents.models import Incident
from tests.e2e.conftest import Hub
from tests.e2e.officers import (
    DEMO_ALERT,
    assert_accessible,
    mark_document,
    same_document,
    sign_in,
)

SCANNED = "Passport MRZ\x1dP<NAMDOE<<JOHN does not match visa foil"
TITLE = "Passport MRZ does not match visa foil"
DESCRIPTION = "Second-line check at desk 3; passenger held, documents retained."
LOCATION = "Arrivals, desk 3"


@pytest.mark.django_db(transaction=True)
def test_report_refused_inline_then_recorded_and_seen_live(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    reporter = sign_in(contexts, browser, hub.a, "na-imm.duty", "/points/WDH")
    customs = sign_in(contexts, browser, hub.b, "na-cus.duty", "/points/WDH")
    # Its board has loaded (the demo incident is not shared with NA-CUS; the alert is).
    expect(customs.get_by_test_id("alert").filter(has_text=DEMO_ALERT)).to_be_visible()
    expect(customs.get_by_test_id("incident-row")).to_have_count(0)
    mark_document(customs)

    reporter.get_by_test_id("board").get_by_role("link", name="Report incident").click()
    form = reporter.get_by_test_id("report-form")
    expect(form.get_by_role("heading", name="Report an incident")).to_be_visible()
    title = form.get_by_label("Title (required)")
    title.fill(SCANNED)
    form.get_by_label("Description").fill(DESCRIPTION)
    form.get_by_label("Category (required)").select_option(label="Document fraud")
    form.get_by_label("Severity (required)").select_option(label="High")
    form.get_by_label("People involved").fill("1")
    form.get_by_label("Where exactly").fill(LOCATION)
    form.get_by_label("Every agency at the crossing point").check()
    form.get_by_role("button", name="Report incident").click()

    # The hub's reason, next to the title (tied to it for screen readers too).
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_accessible_description(re.compile("must not contain control characters"))
    expect(form.locator(".field.invalid")).to_have_count(1)
    # Everything typed is kept.
    expect(title).to_have_value(SCANNED)
    expect(form.get_by_label("Description")).to_have_value(DESCRIPTION)
    expect(form.get_by_label("Where exactly")).to_have_value(LOCATION)
    expect(form.get_by_label("Category (required)")).to_have_value("document_fraud")
    expect(form.get_by_label("Every agency at the crossing point")).to_be_checked()
    assert not Incident.objects.filter(description=DESCRIPTION).exists()
    assert_accessible(reporter, "the report form showing a refusal")

    title.fill(TITLE)
    expect(title).not_to_have_attribute("aria-invalid", "true")
    form.get_by_role("button", name="Report incident").click()

    room = reporter.get_by_test_id("room")
    expect(room.get_by_test_id("incident-title")).to_contain_text(TITLE)
    ref = reporter.url.rsplit("/", 1)[-1]
    assert re.fullmatch(r"WDH-\d{4}-\d{4}", ref), reporter.url
    expect(room.get_by_test_id("incident-title")).to_contain_text(ref)

    row = customs.locator(f"[data-testid=incident-row][data-ref='{ref}']")
    expect(row).to_contain_text(TITLE)
    expect(row.get_by_role("link")).to_have_attribute("href", f"/incidents/{ref}")
    assert same_document(customs), "NA-CUS's board was reloaded"

    recorded = Incident.objects.get(description=DESCRIPTION)
    assert (recorded.ref, recorded.title, recorded.visibility) == (ref, TITLE, "crossing_point")
    assert recorded.reporting_agency.code == "NA-IMM"
