"""Two officers on one incident channel, in real Chromium, over the live WebSocket."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hub.agencies.demo import seed_reference_data
from hub.alerts.models import AlertTarget
from tests.e2e.officers import seed, sign_in
from tests.processes import DaphneWorker

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_two_officers_chat_live_and_see_each_other(browser: Any, hub_server: DaphneWorker) -> None:
    seed()
    immigration = sign_in(browser, hub_server, "na-imm.duty")
    police = sign_in(browser, hub_server, "na-pol.duty")
    for page in (immigration, police):
        page.click("button.incident[data-ref='WDH-2026-0001']")
        page.wait_for_selector("[data-testid=timeline] li.message")
    for page in (immigration, police):
        page.wait_for_function(
            "['NA-IMM', 'NA-POL'].every(a => "
            "document.querySelector('[data-testid=presence]').textContent.includes(a))"
        )

    immigration.fill("[data-testid=composer]", "Interpreter arriving in 10 minutes")
    immigration.click("[data-testid=send]")
    police.wait_for_selector(
        "[data-testid=timeline] li.message >> text=Interpreter arriving in 10 minutes"
    )
    line = police.locator("[data-testid=timeline] li.message").last
    assert "(NA-IMM)" in line.inner_text(), line.inner_text()
    # The sender's own line is confirmed (its ack arrived), not left pending.
    immigration.wait_for_selector(
        "[data-testid=timeline] li.message.mine >> text=Interpreter arriving"
    )
    assert immigration.locator("li.pending").count() == 0

    police.fill("[data-testid=composer]", "Unit at gate B, holding the escort")
    police.click("[data-testid=send]")
    immigration.wait_for_selector("[data-testid=timeline] li.message >> text=holding the escort")
    seqs = [
        int(s)
        for s in immigration.eval_on_selector_all(
            "[data-testid=timeline] li[data-seq]", "els => els.map(e => e.dataset.seq)"
        )
    ]
    assert seqs == list(range(1, len(seqs) + 1)), "in order, no gap, no duplicate"
    if os.environ.get("HUB_SCREENSHOT"):
        immigration.screenshot(path=str(ROOT / "docs" / "screenshot.png"))


@pytest.mark.django_db(transaction=True)
def test_officer_acknowledges_a_pending_alert(browser: Any, hub_server: DaphneWorker) -> None:
    seed()
    customs = sign_in(browser, hub_server, "na-cus.duty")
    alert = customs.locator("li.alert", has_text="Counterfeit visas")
    alert.wait_for()
    assert "owed" in (alert.get_attribute("class") or "")
    alert.get_by_test_id("ack").click()
    # Acknowledged: it stays on the list (still current) but is no longer owed.
    alert.get_by_test_id("ack").wait_for(state="detached")
    customs.wait_for_selector("li.alert:not(.owed) >> text=Counterfeit visas")
    target = AlertTarget.objects.select_related("acknowledged_by").get(
        alert__title__startswith="Counterfeit visas", agency__code="NA-CUS"
    )
    assert target.acknowledged_by is not None
    assert target.acknowledged_by.username == "na-cus.duty"


@pytest.mark.django_db(transaction=True)
def test_wrong_password_is_refused_in_the_browser(browser: Any, hub_server: DaphneWorker) -> None:
    seed_reference_data()
    context = browser.new_context()
    page = context.new_page()
    page.goto(hub_server.base_url + "/")
    page.fill("input[name=username]", "na-imm.duty")
    page.fill("input[name=password]", "wrong")
    page.click("form.sign-in button[type=submit]")
    page.wait_for_selector(".sign-in .problem:has-text('Invalid username or password')")
    context.close()
