"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.services import require_redis


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis (skips, or fails under CI=true, when there is none)."""
    return require_redis()


@pytest.fixture
def demo(db: None) -> None:
    """The demo region: 6 crossing points, 15 agencies, 60 officers (see hub.agencies.demo)."""
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
