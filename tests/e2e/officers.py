"""Shared steps of the browser tests: demo data, signed-in officers, accessibility checks."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from hub.agencies.demo import DEMO_PASSWORD, seed_reference_data
from hub.demo.activity import seed_activity
from hub.incidents.demo import seed_incidents
from hub.operations.sops import seed_templates
from tests.e2e.conftest import ARTIFACTS, LAPTOP, ROOT
from tests.processes import DaphneWorker

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
DEMO_INCIDENT = "WDH-2026-0001"  # NA-IMM leads, NA-POL participates
DEMO_ALERT = "Counterfeit visas on connecting flights from the north"  # at WDH, by NA-IMM


def seed() -> None:
    seed_reference_data()
    seed_templates()
    seed_incidents()
    seed_activity()


def new_page(contexts: list[Any], browser: Any, viewport: dict[str, int] | None = None) -> Any:
    """A page in a new browser context (an officer's own browser), closed after the test."""
    context = browser.new_context(viewport=viewport or LAPTOP)
    contexts.append(context)
    return context.new_page()


def sign_in_on(page: Any, username: str) -> None:
    """Fill the sign-in form the page shows and wait for the officer to be live."""
    from playwright.sync_api import expect

    form = page.get_by_test_id("sign-in")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(DEMO_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "live")


def sign_in(
    contexts: list[Any],
    browser: Any,
    server: DaphneWorker,
    username: str,
    path: str = "/",
    viewport: dict[str, int] | None = None,
    before: Any = None,
) -> Any:
    """A new browser context signed in as ``username`` at ``path``, its socket live.

    ``before(page)`` runs before the first navigation (routes must be in place
    before the page opens its socket).
    """
    page = new_page(contexts, browser, viewport)
    if before is not None:
        before(page)
    page.goto(server.base_url + path)
    sign_in_on(page, username)
    return page


def mark_document(page: Any) -> None:
    """Mark the page, so that a reload (which clears the mark) can be detected."""
    page.evaluate("window.__e2eSameDocument = true")


def same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__e2eSameDocument === true"))


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def assert_accessible(page: Any, what: str) -> None:
    """axe-core on the page as shown: no serious or critical violation.

    The app's CSP forbids inline scripts; ``evaluate`` is not subject to it.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations = page.evaluate(
        """async () => {
          const result = await window.axe.run(document, {resultTypes: ["violations"]});
          return result.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
          }));
        }"""
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    lines = [f"{v['id']} ({v['impact']}): {v['help']}; nodes: {v['targets']}" for v in bad]
    assert not bad, f"axe-core on {what} ({page.url}):\n" + "\n".join(lines)


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def exact(text: str) -> re.Pattern[str]:
    """A whole-text pattern (surrounding white space allowed)."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")
