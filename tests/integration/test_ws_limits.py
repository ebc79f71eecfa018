"""Connections per user are capped, across workers (Redis) and in one process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connections

from hub.realtime.hub import reset_hub
from tests.factories import seed
from tests.realtime_support import Socket
from tests.services import require_redis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["in-process", "redis"])
async def limited(request: pytest.FixtureRequest, settings: Any) -> AsyncIterator[str]:
    prefix = f"limits-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        settings.REDIS_URL = require_redis()
        settings.HUB_REDIS_PREFIX = prefix
    else:
        settings.REDIS_URL = None
    settings.HUB_WS_MAX_CONNECTIONS_PER_USER = 2
    await sync_to_async(seed)()
    yield request.param
    await reset_hub()
    if request.param == "redis":
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
    await sync_to_async(connections.close_all)()


async def test_a_third_socket_is_refused_until_one_closes(limited: str) -> None:
    first = await Socket.open("na-imm.duty")
    second = await Socket.open("na-imm.duty")
    third = await Socket.open("na-imm.duty", expect_welcome=False)
    assert await third.closed_with() == 4408
    other_user = await Socket.open("na-pol.duty")  # the cap is per user
    await first.close()
    fourth = await Socket.open("na-imm.duty")
    assert fourth.welcome is not None
    assert fourth.welcome["user"] == "na-imm.duty"
    for s in (second, other_user, fourth):
        await s.close()
