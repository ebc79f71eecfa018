"""Browser tests: real Chromium (Debian's) driven by Playwright against Daphne.

Run as a separate pytest invocation (``pytest tests/e2e``): Playwright's sync
API and the asyncio tests do not share one process.

Each test gets a freshly seeded database and its own hub: on a run configured
with Redis (``REDIS_URL``, the PostgreSQL pass of CI) two Daphne workers share
it, and the two officers of a test sit on different workers; otherwise (SQLite
with the in-memory layer, which does not cross processes) one worker serves
both. One Chromium serves the whole session; each officer is a browser context
of their own (cookies, IndexedDB, service worker), closed after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import DaphneWorker, database_url_for, start_all, stop_all
from tests.services import require_executable, require_redis

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
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


@dataclass
class Hub:
    """The hub a test drives: ``a`` and ``b`` are the same worker on a one-worker run."""

    a: DaphneWorker
    b: DaphneWorker

    @property
    def workers(self) -> list[DaphneWorker]:
        return [self.a] if self.a is self.b else [self.a, self.b]


@pytest.fixture(scope="session", autouse=True)
def web_app_built() -> None:
    """Every browser test drives the built web app: without it each would time out."""
    if not WEB_APP_ENTRY.exists():
        pytest.fail(
            f"the web app is not built ({WEB_APP_ENTRY.relative_to(ROOT)} is missing): "
            "run `make frontend` (or `make test`, which builds it) first",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def patient_expect() -> None:
    """The machine is shared: wait generously (these are waits, not timings)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)


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


def redis_configured() -> bool:
    """The run is configured with Redis (as CI's PostgreSQL + Redis pass is)."""
    return bool(os.environ.get("REDIS_URL", "").strip())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "one_officer: the test drives one officer, so one worker serves it on any run"
    )


@pytest.fixture
def hub(transactional_db: None, settings: Any, request: pytest.FixtureRequest) -> Iterator[Hub]:
    """The demo data, seeded once, and a fresh hub serving it.

    Two workers on a Redis run, unless the test is marked ``one_officer``
    (a second worker would serve nobody).

    Fresh per test: each test empties and re-seeds the database, so seqs start
    again from 1; a worker kept from an earlier test would still hold that
    test's stream heads in its live feeds and take the new events for ones it
    has already delivered. A Redis run gets its own key prefix for the same
    reason.
    """
    from django.db import connection

    from tests.e2e.officers import seed

    redis_url = require_redis() if redis_configured() else None
    url = database_url_for(connection.settings_dict)
    # The workers store evidence files where this process (which runs the
    # derivatives job in some tests) reads them.
    location = settings.STORAGES["attachments"]["OPTIONS"]["location"]
    files = {"HUB_TEST_ATTACHMENTS_DIR": str(location)}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if redis_url is not None:
        prefix = f"e2e-{uuid.uuid4().hex[:8]}"
        # Anything the test process itself publishes reaches the same workers.
        settings.REDIS_URL = redis_url
        settings.HUB_REDIS_PREFIX = prefix
        workers = [
            DaphneWorker(
                database_url=url,
                redis_url=redis_url,
                redis_prefix=prefix,
                name=f"e2e-{name}",
                log_dir=ARTIFACTS,
                extra_env=files,
            )
            for name in ("a", "b")[: 1 if request.node.get_closest_marker("one_officer") else 2]
        ]
    else:
        workers = [DaphneWorker(database_url=url, name="e2e", log_dir=ARTIFACTS, extra_env=files)]
    # The workers read nothing before their first request: seed while they start.
    start_all(workers, meanwhile=seed)
    try:
        yield Hub(a=workers[0], b=workers[-1])
    finally:
        stop_all(workers)


@pytest.fixture
def contexts(browser: Any, request: pytest.FixtureRequest) -> Iterator[list[Any]]:
    """Browser contexts opened by the test: screenshots of their pages on failure, then closed."""
    opened: list[Any] = []
    yield opened
    report = getattr(request.node, "rep_call", None)
    for i, context in enumerate(opened):
        if report is not None and report.failed:
            for j, page in enumerate(context.pages):
                try:
                    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failed-{i}-{j}.png"))
                except Exception as exc:  # best effort: the failure itself is reported
                    print(f"no screenshot of context {i} page {j}: {exc}")
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
