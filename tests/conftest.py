"""Fixtures shared by every test layer."""

from __future__ import annotations

import pytest

from tests.services import require_redis


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis (skips, or fails under CI=true, when there is none)."""
    return require_redis()
