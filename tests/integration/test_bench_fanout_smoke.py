"""The fan-out harness still runs: bench/fanout.py's core at a tiny size.

50 subscribers split over two real hub workers (and over two stock Channels workers,
and two ceiling processes), one short paced step and one short saturation step per
variant. Every delivery must arrive exactly once; timings are the benchmark's
business, never a test's.

Redis: two workers only share a stream through Redis, so this test needs one in both
CI passes. It uses the ``redis_url`` fixture (``tests.services.require_redis``:
HUB_TEST_REDIS_URL, else REDIS_URL, else redis://127.0.0.1:6379/0). The embedded pass
sets no REDIS_URL, so it gets the system Redis on 127.0.0.1:6379, which .ci/run starts
before either pass; the Django test process itself keeps its in-memory channel layer.
The workers share the test database (SQLite file or PostgreSQL) and run
``hub.settings_test``: the tiny load stays under the per-socket frame rate limit, so the
benchmark's lifted limit (bench.settings_bench) is not needed here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math

import pytest
from django.db import connection

from bench.fanout import (
    MAX_RETRIES,
    VARIANTS,
    Config,
    Row,
    SubState,
    back_off,
    count_deliveries,
    measure,
    one_vs_two,
    one_vs_two_pairs,
)
from bench.harness import bench_env
from hub.agencies.demo import seed_reference_data
from hub.incidents.demo import seed_incidents
from tests.processes import database_url_for

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_count_deliveries_finds_gaps_and_repeats() -> None:
    assert count_deliveries([0, 1, 2, 3], 4) == (0, 0)
    assert count_deliveries([3, 1, 0, 2], 4) == (0, 0)  # order is not its business
    assert count_deliveries([0, 1, 3, 3, 4], 5) == (1, 1)  # 2 missing, 3 twice
    assert count_deliveries([0, 0, 0], 2) == (1, 2)
    assert count_deliveries([], 3) == (3, 0)
    assert count_deliveries([0, 1, 2, 9, -1], 3) == (0, 2)  # outside the step: extra


def _ovt(workers: int, per_cpu_s: float) -> Row:
    return Row(
        section="one vs two workers", variant="hub-ws", subscribers=500, workers=workers,
        load="10 msg/s", messages=100, expected=50_000, deliveries=50_000, lost=0,
        duplicated=0, socket_errors=0, p50_ms=1.0, p99_ms=2.0, wall_s=10.0,
        server_cpu_s=1.0, deliveries_per_cpu_s=per_cpu_s, deliveries_per_s=5000.0,
        client_cpu_s=1.0, client_share=0.5,
    )  # fmt: skip


async def test_a_refused_socket_backs_off_then_fails_with_its_error() -> None:
    state = SubState()
    refused = ConnectionError("refused")
    for _ in range(MAX_RETRIES):
        assert await back_off(state, 0.0, refused) == 0.0  # no wait: 0 doubled
    assert state.retries == MAX_RETRIES
    assert await back_off(SubState(), 3.0, refused) == 4.0  # doubled, capped
    with pytest.raises(ConnectionError, match="refused"):
        await back_off(state, 0.0, refused)


def test_one_vs_two_is_the_median_of_alternating_pairs() -> None:
    rows = [_ovt(1, 100), _ovt(2, 67), _ovt(1, 100), _ovt(2, 96), _ovt(1, 100), _ovt(2, 90)]
    assert one_vs_two_pairs(rows) == [0.67, 0.96, 0.9]
    assert one_vs_two(rows) == 0.9  # one noisy pair does not decide it
    fan_out = dataclasses.replace(_ovt(2, 1), section="fan-out")
    assert one_vs_two_pairs([fan_out, *rows[:2]]) == [0.67]  # only that section counts
    assert math.isnan(one_vs_two([_ovt(1, 100)]))  # no pair, no figure


def test_fanout_bench_delivers_every_message_exactly_once(redis_url: str) -> None:
    seed_reference_data()  # the demo officers, with the password the bench signs in with
    seed_incidents()  # and the WEN incident all of them may read
    base_env = bench_env(redis_url)
    hub_env = {
        **bench_env(redis_url, DJANGO_SETTINGS_MODULE="hub.settings_test", HUB_ENV="test"),
        "DATABASE_URL": database_url_for(connection.settings_dict),
    }
    cfg = Config(
        subscribers=[50],
        rates=[10.0],
        seconds=1.5,
        saturation_messages=24,
        saturation_seconds=1.5,
        window=4,
        clients=1,
        one_vs_two=False,
        drain=15.0,
    )

    rows = asyncio.run(measure(cfg, hub_env, base_env))

    assert sorted((r.variant, r.load) for r in rows) == sorted(
        (v, load) for v in VARIANTS for load in ("10 msg/s", "saturation")
    )
    for row in rows:
        assert (row.subscribers, row.workers) == (50, 2), row
        assert row.messages > 0, row
        assert (row.lost, row.duplicated, row.socket_errors) == (0, 0, 0), row
        assert row.deliveries == row.expected == row.messages * 50, row
