"""bench/resume.py and bench/write_path.py still work: their cores on a tiny load.

Real Daphne workers on the test database: two sharing Redis when the run is
configured with one (``REDIS_URL``), else one worker on the in-memory layer (it
learns of new events from its database sweeper). Only correctness is checked —
every event exactly once and in order, every acknowledged message in the record
exactly once — never a timing: timings are the benchmarks' business.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections

from bench.resume import build_backlog, new_incident, resume_once
from bench.write_path import check_record, plan, raw_write, rest_write, setup_streams, ws_write
from hub.accounts.services import token_issue
from hub.events.models import Event, Stream
from hub.realtime.protocol import RESYNC_THRESHOLD
from tests.factories import officer, seed
from tests.processes import DaphneWorker, database_url_for, start_all, stop_all
from tests.services import require_redis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WRITER = "zm-imm.duty"


@pytest.fixture
def workers(settings: Any) -> Iterator[list[DaphneWorker]]:
    seed()
    url = database_url_for(connection.settings_dict)
    if os.environ.get("REDIS_URL"):
        redis_url = require_redis()
        prefix = f"bench-smoke-{uuid.uuid4().hex[:8]}"
        # The test process writes through the services too: same Redis, same prefix.
        settings.REDIS_URL = redis_url
        settings.HUB_REDIS_PREFIX = prefix
        group = [
            DaphneWorker(database_url=url, redis_url=redis_url, redis_prefix=prefix, name=n)
            for n in ("bench-a", "bench-b")
        ]
    else:
        settings.REDIS_URL = None
        group = [DaphneWorker(database_url=url, name="bench-solo")]
    start_all(group)
    try:
        yield group
    finally:
        stop_all(group)
        connections.close_all()


def test_resume_replays_every_missed_event_once_in_order(workers: list[DaphneWorker]) -> None:
    ref = new_incident(WRITER)
    # A few messages through message_post, the rest by the bulk path (its chain is
    # verified inside build_backlog): enough to be beyond the resync threshold.
    backlog = build_backlog(ref, WRITER, RESYNC_THRESHOLD + 150, via_services=20)
    head = backlog["head"]
    assert backlog["verified_events"] == head
    assert Event.objects.filter(stream__name=f"incident:{ref}").count() == head
    token = token_issue(user=officer(WRITER)).raw
    stream = f"incident:{ref}"

    for i, (missed, path) in enumerate(
        [(200, "replay"), (RESYNC_THRESHOLD + 100, "resync + REST")]
    ):
        worker = workers[i % len(workers)]
        run = asyncio.run(
            resume_once(
                worker.ws_url, worker.base_url, token, stream, head - missed, keep_seqs=True
            )
        )
        assert run.path == path
        assert run.seqs == list(range(head - missed + 1, head + 1))
        assert run.in_order_once
        assert run.events_ws + run.events_rest == missed


def test_write_path_records_every_acknowledged_message_once(workers: list[DaphneWorker]) -> None:
    streams = setup_streams(WRITER, 3)
    database_url = database_url_for(connection.settings_dict)
    token = token_issue(user=officer(WRITER)).raw
    heads_before = dict(
        Stream.objects.filter(name__in=streams.names).values_list("name", "last_seq")
    )

    ws_run = asyncio.run(
        ws_write(
            [w.ws_url for w in workers],
            lambda url: url.replace("ws://", "http://").removesuffix("/ws/"),
            token,
            plan(24, streams.names),
            writers=2,
            in_flight=4,
        )
    )
    rest_run = rest_write([w.base_url for w in workers], token, plan(12, streams.names), writers=3)
    raw_run = raw_write(database_url, streams, plan(6, streams.names), writers=2)

    for run, sent in ((ws_run, 24), (rest_run, 12), (raw_run, 6)):
        assert run.errors == []
        assert len(run.acked) == sent
        assert check_record(database_url, run) == []
    # 42 messages on three streams, each with its own seq: no seq was handed out twice.
    acked = [v for run in (ws_run, rest_run, raw_run) for v in run.acked.values()]
    assert len(set(acked)) == 42
    heads = dict(Stream.objects.filter(name__in=streams.names).values_list("name", "last_seq"))
    assert sum(heads.values()) - sum(heads_before.values()) == 42
