"""Browser tests: real Chromium (Debian's) driven by Playwright against Daphne.

Run as a separate pytest invocation (``pytest tests/e2e``): Playwright's sync
API and the asyncio tests do not share one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import DaphneWorker, database_url_for
from tests.services import require_executable

# Playwright's sync API runs its own event loop in this thread; Django's async
# safety check would otherwise refuse the ORM calls the tests make around it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "e2e"
WEB_APP_ENTRY = ROOT / "frontend" / "dist" / ".vite" / "manifest.json"


@pytest.fixture(scope="session", autouse=True)
def web_app_built() -> None:
    """Every browser test drives the built web app: without it each would time out."""
    if not WEB_APP_ENTRY.exists():
        pytest.fail(
            f"the web app is not built ({WEB_APP_ENTRY.relative_to(ROOT)} is missing): "
            "run `make frontend` (or `make test`, which builds it) first",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_executable("chromium", "install Debian's chromium for the browser tests")


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def hub_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[DaphneWorker]:
    """A fresh Daphne per test.

    Each test empties and re-seeds the database, so seqs start again from 1; a
    worker kept from an earlier test would still hold that test's stream heads
    in its live feeds (they linger 30 s after the last subscriber) and take the
    new events for ones it has already delivered.
    """
    from django.db import connection

    with django_db_blocker.unblock():
        url = database_url_for(connection.settings_dict)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    worker = DaphneWorker(database_url=url, name="e2e", log_dir=ARTIFACTS)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
