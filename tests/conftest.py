"""Fixtures shared by every test layer, and the CI=true rule for skips."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests import services
from tests.services import require_redis

# Property tests explore new inputs on every local run; CI replays a fixed seed per
# test so that a landing is decided by the code, not by the draw. (Found examples
# stay in the suite as @example.)
hypothesis_settings.register_profile("ci", derandomize=True)
if services.CI:
    hypothesis_settings.load_profile("ci")

# Under CI=true a skip is a failure unless its reason contains one of these.
# Each entry names where the skipped test does run; keep the list short.
CI_ALLOWED_SKIPS = (
    # SQLite has no append-only trigger; the second pass of .ci/run runs the test.
    "runs in the PostgreSQL pass",
)


def skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    return str(reason).removeprefix("Skipped: ")


def fail_disallowed_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Under CI=true, turn a skip whose reason is not allowlisted into a failure.

    (A skip in the setup phase, such as ``@pytest.mark.skip``, reports as an error.)
    """
    if not services.CI or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if any(allowed in reason for allowed in CI_ALLOWED_SKIPS):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"CI=true: skipped tests fail in CI ({reason}). Make the service available, "
        "or, if the test runs in another CI pass, say so in the reason and add it to "
        "CI_ALLOWED_SKIPS in tests/conftest.py."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    fail_disallowed_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    fail_disallowed_skip(report)
    return report


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis (skips, or fails under CI=true, when there is none)."""
    return require_redis()


@pytest.fixture
def demo(db: None) -> None:
    """The demo region: 6 crossing points, 16 agencies, 64 officers (see hub.agencies.demo)."""
    from tests.factories import seed

    seed()


@pytest.fixture
def published(settings: Any) -> Iterator[list[tuple[str, str]]]:
    """Every (channel, message) published during the test (on the in-process bus)."""
    from hub.events.bus import local_bus

    settings.REDIS_URL = None

    seen: list[tuple[str, str]] = []

    def listener(channel: str, message: str) -> None:
        seen.append((channel, message))

    local_bus().add_listener(listener)
    yield seen
    local_bus().remove_listener(listener)
