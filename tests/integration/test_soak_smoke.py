"""The soak still runs, and its checker still catches what it is there to catch.

``bench/soak.py`` on a tiny load: 50 sockets over two real Daphne workers (the test
database, a redis-server of the test's own), mixed writes for about 10 seconds, one
SIGKILL of a worker (restarted on its port), then the invariant checker and
``audit_verify``. Only the outcome is asserted (nothing lost, nothing doubled, every
write acknowledged, the fault survived), never a timing.

The checker is also fed a planted record (a socket that missed a seq, one handed a
seq twice, one out of order, a write whose event is missing, a write recorded twice),
so it cannot rot into always saying yes.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, connections

from bench import harness
from bench.soak import PrivateRedis, Services, SoakConfig, soak
from bench.soak_checker import (
    Receipt,
    Record,
    RecordEvent,
    WriteLog,
    check_deliveries,
    check_writes,
    new_tag,
)
from hub.agencies.demo import seed_reference_data
from hub.incidents.demo import seed_incidents
from hub.operations.sops import seed_templates
from tests.processes import database_url_for
from tests.services import require_executable

pytestmark = [pytest.mark.slow]

STREAM = "incident:WEN-2026-0001"


def test_checker_reports_a_planted_loss_duplicate_and_disorder() -> None:
    report = check_deliveries(
        {
            "fine": {STREAM: [1, 2, 3, 4]},
            "missed": {STREAM: [1, 2, 4]},
            "doubled": {STREAM: [1, 2, 2, 3, 4]},
            "disordered": {STREAM: [1, 3, 2, 4]},
        },
        {STREAM: 4},
        {
            "fine": [STREAM],
            "missed": [STREAM],
            "doubled": [STREAM],
            "disordered": [STREAM],
            "never_subscribed": [STREAM],  # entitled, got nothing: four lost
        },
    )

    assert not report.ok
    assert (report.lost, report.duplicated, report.out_of_order) == (1 + 4, 1, 1)
    assert {p.socket: p.missing for p in report.problems} == {
        "missed": [3],
        "doubled": [],
        "disordered": [],
        "never_subscribed": [1, 2, 3, 4],
    }
    assert report.subscriptions == 5
    assert report.deliveries == 4 + 3 + 5 + 4


def test_checker_reports_a_lost_and_a_doubled_write() -> None:
    def write(kind: str = "ws_message") -> WriteLog:
        return WriteLog(str(uuid.uuid4()), kind, "zm-imm.duty", tag=new_tag(), acked=True)

    kept, lost, doubled = write(), write(), write()
    ack = WriteLog(
        str(uuid.uuid4()), "alert_ack", "na-pol.duty", alert_id=7, agency="NA-POL", acked=True
    )
    events = [
        RecordEvent(STREAM, 1, "message.posted", {"body": f"{kept.tag} hello"}),
        RecordEvent(STREAM, 2, "message.posted", {"body": f"{doubled.tag} once"}),
        RecordEvent(STREAM, 3, "message.posted", {"body": f"{doubled.tag} twice"}),
        RecordEvent("crossing:WEN", 1, "alert.acknowledged", {"alert_id": 7, "agency": "NA-POL"}),
    ]
    kept.stream, kept.seq = STREAM, 1
    record = Record(
        heads={STREAM: 3, "crossing:WEN": 1},
        events=events,
        receipts=[
            Receipt(kept.client_msg_id, STREAM, 1),
            Receipt(doubled.client_msg_id, STREAM, 2),
            Receipt(ack.client_msg_id, "crossing:WEN", 1),
            Receipt(lost.client_msg_id, STREAM, 4),  # names an event that is not there
        ],
    )

    report = check_writes([kept, lost, doubled, ack], record)

    assert not report.ok
    assert (report.lost, report.duplicated, report.acknowledged) == (1, 1, 4)
    assert any(lost.client_msg_id in p for p in report.problems)
    assert any(doubled.client_msg_id in p for p in report.problems)
    assert check_writes([kept, ack], record).ok


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test alone: killing a worker must not touch a shared one."""
    require_executable("redis-server", "install Debian's redis-server for the soak smoke")
    assert shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()
    server = PrivateRedis(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_tiny_soak_with_a_killed_worker_loses_and_doubles_nothing(
    redis_server: PrivateRedis,
) -> None:
    seed_reference_data()
    seed_templates()
    seed_incidents()
    database_url = database_url_for(connection.settings_dict)
    connections.close_all()  # the workers and the checker read committed data only
    env = {
        **harness.bench_env(redis_server.url),
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "hub.settings_test",
        "HUB_ENV": "test",
    }
    hub = harness.Hub(env, workers=2)
    try:
        hub.start()
        config = SoakConfig(
            seconds=10,
            sockets=50,
            rate=4,
            reconnect_rate=1,
            faults=["kill"],
            repeat=1,
            catchup_timeout=30,
            drain_timeout=30,
        )
        result = asyncio.run(soak(Services(hub, database_url, env, redis=redis_server), config))
    finally:
        hub.stop()

    deliveries, writes = result.deliveries, result.writes
    assert deliveries.problems == []
    assert (deliveries.lost, deliveries.duplicated, deliveries.out_of_order) == (0, 0, 0)
    assert deliveries.subscriptions >= 50
    assert deliveries.deliveries == deliveries.expected > 0
    assert writes.problems == []
    assert writes.acknowledged == writes.writes > 0
    assert (writes.lost, writes.duplicated, writes.unacknowledged, writes.refused) == (0, 0, 0, 0)
    assert [(f.kind, f.survived, f.error) for f in result.faults] == [("kill", True, "")]
    assert result.audit_ok, result.audit_output
    assert result.ok
