"""Issuing an alert in the browser, acknowledged live by another agency.

NA-IMM's duty officer at Hosea Kutako International Airport (WDH) issues an
alert through the "Issue alert" form (every other agency deployed there must
acknowledge it, the default) and lands on the alert's page. NA-POL's duty
officer, on the other worker, has the WDH board open: the alert appears there
without a reload, owed by NA-POL (counted, and listed under the "Alerts my
agency must acknowledge" card); they press "Acknowledge for NA-POL", and the
issuer's acknowledgement grid shows NA-POL acknowledged (by whom) live, while
NA-CUS and NA-AIR still owe it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.accounts.models import User
from hub.alerts.models import AlertTarget
from tests.e2e.conftest import Hub
from tests.e2e.officers import (
    DEMO_ALERT,
    assert_accessible,
    mark_document,
    same_document,
    sign_in,
)

TITLE = "Unattended luggage in arrivals hall B"
BODY = "Police cordon in place; customs and the airport authority to keep the hall clear."


@pytest.mark.django_db(transaction=True)
def test_alert_issued_seen_and_acknowledged_live_across_agencies(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    issuer = sign_in(contexts, browser, hub.a, "na-imm.duty", "/points/WDH")
    police = sign_in(contexts, browser, hub.b, "na-pol.duty", "/points/WDH")
    expect(police.get_by_test_id("alert").filter(has_text=DEMO_ALERT)).to_be_visible()
    mark_document(police)

    issuer.get_by_test_id("board").get_by_role("link", name="Issue alert").click()
    form = issuer.get_by_test_id("issue-alert")
    expect(form.get_by_role("heading", name=re.compile("Issue an alert at"))).to_be_visible()
    form.get_by_label("Title (required)").fill(TITLE)
    form.get_by_label("Text", exact=True).fill(BODY)
    form.get_by_label("Category (required)").select_option(label="Security threat")
    form.get_by_label("Severity (required)").select_option(label="High")
    targets = form.get_by_role("group", name="Agencies that must acknowledge")
    for agency in ("NA-AIR", "NA-CUS", "NA-POL"):
        expect(targets.get_by_label(agency)).to_be_checked()
    assert_accessible(issuer, "the issue-alert form")
    form.get_by_role("button", name="Issue alert").click()

    expect(issuer).to_have_url(re.compile(r"/alerts/\d+$"))
    alert_id = issuer.url.rsplit("/", 1)[-1]
    page = issuer.get_by_test_id("alert-page")
    grid = page.get_by_test_id("ack-grid")
    chip = grid.locator("li.ack-chip[data-agency='NA-POL']")
    expect(chip).to_have_attribute("data-state", "waiting")
    mark_document(issuer)

    # NA-POL: the alert arrives on the board, owed by NA-POL, and is acknowledged there.
    card = police.locator(f"article[data-testid=alert][data-alert-id='{alert_id}']")
    expect(card).to_contain_text(TITLE)
    expect(card).to_have_class(re.compile(r"\bowed\b"))
    # The "must acknowledge" card counts it and filters to it (NA-POL acknowledged the demo
    # alert already).
    owed = police.get_by_test_id("card-owed")
    expect(owed.locator(".count")).to_have_text("1")
    owed.click()
    expect(owed).to_have_attribute("aria-pressed", "true")
    alerts = police.get_by_test_id("alerts").get_by_test_id("alert")
    expect(alerts).to_have_count(1)
    expect(card).to_be_visible()
    assert_accessible(police, "the board showing the alerts NA-POL must acknowledge")
    card.get_by_role("button", name="Acknowledge for NA-POL").click()
    expect(owed.locator(".count")).to_have_text("0")
    expect(alerts).to_have_count(0)
    owed.click()
    expect(owed).to_have_attribute("aria-pressed", "false")
    expect(card.locator("li.ack-chip[data-agency='NA-POL']")).to_have_attribute(
        "data-state", "acknowledged"
    )
    expect(card.get_by_role("button", name="Acknowledge for NA-POL")).to_have_count(0)
    expect(card).not_to_have_class(re.compile(r"\bowed\b"))

    # The issuer's grid, live: NA-POL acknowledged by their officer; the others still owe it.
    officer = User.objects.get(username="na-pol.duty").display_name
    expect(chip).to_have_attribute("data-state", "acknowledged")
    expect(chip).to_contain_text(officer)
    for agency in ("NA-AIR", "NA-CUS"):
        expect(grid.locator(f"li.ack-chip[data-agency='{agency}']")).to_have_attribute(
            "data-state", "waiting"
        )
    assert_accessible(issuer, "the alert's page")
    assert same_document(issuer), "the issuer's page was reloaded"
    assert same_document(police), "NA-POL's board was reloaded"

    targets_by_agency = {
        t.agency.code: t
        for t in AlertTarget.objects.select_related("agency", "acknowledged_by").filter(
            alert_id=int(alert_id)
        )
    }
    assert sorted(targets_by_agency) == ["NA-AIR", "NA-CUS", "NA-POL"]
    acknowledged = targets_by_agency["NA-POL"].acknowledged_by
    assert acknowledged is not None
    assert acknowledged.username == "na-pol.duty"
    assert targets_by_agency["NA-CUS"].acknowledged_by is None
