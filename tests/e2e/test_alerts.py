"""Alerts live across agencies, in real Chromium, over the crossing point's stream.

Officer A (NA-IMM) and officer B (NA-CUS) both serve Hosea Kutako International
Airport (WDH). A's agency issues an exercise alert through the REST API; B sees
it appear without reloading and acknowledges it; A sees NA-CUS listed as
acknowledged (by whom) without reloading. The drill carries its EXERCISE marker
in the list, the detail and the linked incident's timeline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from hub.accounts.models import User
from hub.alerts.models import AlertTarget
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.officers import seed, sign_in
from tests.processes import DaphneWorker

TITLE = "Unattended luggage in arrivals hall B"
INCIDENT = "WDH-2026-0001"

# A POST from the officer's own page: the session cookie and the CSRF token
# Django set, exactly as the web app's api.ts sends them.
ISSUE = """async (alert) => {
  const found = document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/);
  const token = found ? decodeURIComponent(found[1]) : "";
  const response = await fetch("/api/v1/crossing-points/WDH/alerts", {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "Accept": "application/json",
      "X-CSRFToken": token,
    },
    body: JSON.stringify(alert),
  });
  return {status: response.status, body: await response.json()};
}"""


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """The machine is shared: wait generously (these are waits, not timings)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


def same_document(page: Any) -> None:
    """Mark the page so that a reload (which would clear the mark) is detected."""
    page.evaluate("window.__sameDocument = true")


def still_same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


@pytest.mark.django_db(transaction=True)
def test_alert_is_seen_and_acknowledged_live_across_agencies(
    browser: Any, hub_server: DaphneWorker
) -> None:
    from playwright.sync_api import expect

    seed()
    issuer = sign_in(browser, hub_server, "na-imm.duty")
    customs = sign_in(browser, hub_server, "na-cus.duty")
    try:
        for page in (issuer, customs):
            # The panel has its snapshot: the demo's current WDH alert is listed.
            expect(page.locator("li.alert", has_text="Counterfeit visas")).to_be_visible()
            same_document(page)
        assert customs.locator("li.alert", has_text=TITLE).count() == 0

        issuer.click(f"button.incident[data-ref='{INCIDENT}']")
        expect(issuer.locator("[data-testid=timeline] li").first).to_be_visible()

        issued = issuer.evaluate(
            ISSUE,
            {
                "category": "security_threat",
                "severity": "high",
                "title": TITLE,
                "body": "Drill: police cordon in place, customs and airport authority to respond.",
                "exercise": True,
                "incident": INCIDENT,
            },
        )
        assert issued["status"] == 201, issued
        alert_id = issued["body"]["id"]
        assert sorted(issued["body"]["pending"]) == ["NA-AIR", "NA-CUS", "NA-POL"]

        # The linked incident's timeline shows the drill as a drill.
        issued_line = issuer.locator(
            "[data-testid=timeline] li[data-kind='alert.issued']", has_text=TITLE
        )
        expect(issued_line).to_contain_text(f"EXERCISE — alert: {TITLE}")

        # B: the alert appears live, marked, owed by NA-CUS, and is announced.
        item = customs.locator(f"li.alert[data-alert-id='{alert_id}']")
        expect(item).to_be_visible()
        expect(item.get_by_test_id("exercise-marker")).to_have_text("EXERCISE")
        expect(item).to_have_class(re.compile(r"\bexercise\b.*\bowed\b"))
        expect(customs.get_by_test_id("announce")).to_contain_text(TITLE)
        expect(customs.get_by_test_id("announce")).to_contain_text("NA-CUS must acknowledge")

        # A opens the alert: nobody has acknowledged yet.
        issuer.locator(f"li.alert[data-alert-id='{alert_id}'] [data-testid=alert-open]").click()
        detail = issuer.get_by_test_id("alert-detail")
        expect(detail.get_by_test_id("alert-title")).to_have_text(f"EXERCISE — {TITLE}")
        expect(detail.locator(".exercise-banner [data-testid=exercise-marker]")).to_be_visible()
        row = detail.locator("tr[data-agency='NA-CUS']")
        expect(row).to_have_attribute("data-standing", "waiting")
        expect(detail.get_by_test_id("ack")).to_have_count(0)  # NA-IMM is not targeted

        # B opens it and acknowledges for NA-CUS (over the WebSocket).
        item.get_by_test_id("alert-open").click()
        own = customs.get_by_test_id("alert-detail")
        expect(own.get_by_test_id("alert-title")).to_have_text(f"EXERCISE — {TITLE}")
        own.get_by_test_id("ack").click()
        expect(own.locator("tr[data-agency='NA-CUS']")).to_have_attribute(
            "data-standing", "acknowledged"
        )
        expect(own.get_by_test_id("ack")).to_have_count(0)
        expect(item).not_to_have_class(re.compile(r"\bowed\b"))

        # A sees NA-CUS acknowledged, by B, live; the others still owe it.
        officer_b = User.objects.get(username="na-cus.duty").display_name
        expect(row).to_have_attribute("data-standing", "acknowledged")
        expect(row).to_contain_text(officer_b)
        expect(detail.locator("tr[data-agency='NA-POL']")).to_have_attribute(
            "data-standing", "waiting"
        )
        expect(detail.get_by_test_id("ack-summary")).to_have_text(
            "1 of 3 agencies acknowledged · waiting for NA-AIR, NA-POL"
        )
        expect(issuer.get_by_test_id("announce")).to_contain_text("NA-CUS acknowledged")

        # Back on the incident, A's timeline records the acknowledgement as a drill too.
        detail.get_by_test_id("alert-incident").click()
        acknowledged_line = issuer.locator(
            "[data-testid=timeline] li[data-kind='alert.acknowledged']"
        )
        # "HH:MM <name> (NA-CUS): EXERCISE — acknowledged alert <id> for NA-CUS"
        expected = f"EXERCISE — acknowledged alert {alert_id} for NA-CUS"
        expect(acknowledged_line).to_have_text(
            re.compile(rf"{re.escape(officer_b)} \(NA-CUS\): {expected}$")
        )

        if os.environ.get("HUB_SCREENSHOT"):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            customs.screenshot(path=str(ARTIFACTS / "alerts-officer-b.png"))
            item.get_by_test_id("alert-open").click()
            issuer.locator(f"li.alert[data-alert-id='{alert_id}'] [data-testid=alert-open]").click()
            issuer.screenshot(path=str(ARTIFACTS / "alerts-officer-a.png"))
        assert still_same_document(issuer), "officer A's page was reloaded"
        assert still_same_document(customs), "officer B's page was reloaded"
        target = AlertTarget.objects.select_related("acknowledged_by").get(
            alert_id=alert_id, agency__code="NA-CUS"
        )
        assert target.acknowledged_by is not None
        assert target.acknowledged_by.username == "na-cus.duty"
    finally:
        issuer.context.close()
        customs.context.close()
