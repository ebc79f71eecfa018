"""Shared steps of the browser tests: demo data and signed-in officers."""

from __future__ import annotations

from typing import Any

from hub.agencies.demo import DEMO_PASSWORD, seed_reference_data
from hub.demo.activity import seed_activity
from hub.incidents.demo import seed_incidents
from hub.operations.sops import seed_templates
from tests.processes import DaphneWorker


def seed() -> None:
    seed_reference_data()
    seed_templates()
    seed_incidents()
    seed_activity()


def sign_in(browser: Any, server: DaphneWorker, username: str) -> Any:
    """A new browser context signed in as ``username``, its socket live."""
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    page = context.new_page()
    page.goto(server.base_url + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.sign-in button[type=submit]")
    page.wait_for_selector("[data-testid=connection][data-status=live]")
    return page
