"""Two Daphne workers sharing Redis and the database, as real processes.

Each test starts its own Redis server (so it can be stopped and restarted) and
two ``daphne hub.asgi:application`` workers. Clients are the reference client
(``hub.realtime.client.HubClient``). Every fault run ends with each client
holding exactly the stream's full sequence: no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connection, connections

from hub.accounts.services import token_issue
from hub.agencies.models import Membership
from hub.agencies.services import membership_revoke
from hub.events.selectors import stream_head
from hub.realtime.client import HubClient
from tests.factories import officer, report, seed
from tests.processes import ROOT, DaphneWorker, database_url_for, free_port
from tests.services import service_missing

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


class RedisServer:
    """A private redis-server we may kill and restart on the same port."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            service_missing(
                "redis-server", "install Debian's redis-server for the multi-worker tests"
            )
        self.binary = binary
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Cluster:
    redis: RedisServer
    a: DaphneWorker
    b: DaphneWorker
    prefix: str

    def token(self, username: str) -> str:
        return token_issue(user=officer(username)).raw


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> AsyncIterator[None]:
    """The sync_to_async thread's connection must not outlive the test (PostgreSQL teardown)."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def cluster(settings: Any, tmp_path: Path) -> Iterator[Cluster]:
    seed()
    server = RedisServer(tmp_path)
    server.start()
    prefix = f"mw-{uuid.uuid4().hex[:8]}"
    # The test process publishes (services, control messages) to the same Redis.
    settings.REDIS_URL = server.url
    settings.HUB_REDIS_PREFIX = prefix
    url = database_url_for(connection.settings_dict)
    log_dir = ROOT / "var" / "multiworker"
    a = DaphneWorker(
        database_url=url, redis_url=server.url, redis_prefix=prefix, name="a", log_dir=log_dir
    )
    b = DaphneWorker(
        database_url=url, redis_url=server.url, redis_prefix=prefix, name="b", log_dir=log_dir
    )
    a.start()
    b.start()
    try:
        yield Cluster(server, a, b, prefix)
    finally:
        a.stop()
        b.stop()
        server.kill()
        connections.close_all()


def rest_post(base_url: str, token: str, ref: str, body: str, client_msg_id: str) -> int:
    """POST a message; retries until it is recorded (returns its seq)."""
    payload = json.dumps({"body": body, "client_msg_id": client_msg_id}).encode()
    for _ in range(100):
        request = urllib.request.Request(  # noqa: S310
            f"{base_url}/api/v1/incidents/{ref}/messages",
            data=payload,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                seq: int = json.load(response)["seq"]
                return seq
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError("could not post")


def readyz(worker: DaphneWorker) -> int:
    try:
        with urllib.request.urlopen(f"{worker.base_url}/readyz", timeout=5) as r:  # noqa: S310
            status: int = r.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


async def start_clients(
    urls: list[list[str]], token: str, stream: str, rest: str
) -> list[HubClient]:
    clients = [
        HubClient(u, token=token, rest_base=rest, backoff_base=0.05, backoff_max=1.0) for u in urls
    ]
    for client in clients:
        await client.start()
        await client.subscribe(stream)
    for client in clients:
        await client.wait_connected()
    return clients


async def finish(clients: list[HubClient], stream: str) -> int:
    head = await sync_to_async(stream_head)(stream)
    for client in clients:
        await client.wait_for(stream, head, timeout=60)
    for client in clients:
        await client.stop()
    return head


def assert_full_sequence(clients: list[HubClient], stream: str, head: int) -> None:
    for i, client in enumerate(clients):
        assert client.seqs(stream) == list(range(1, head + 1)), f"client {i}"
        assert client.stats.gaps_seen == 0, f"client {i} saw a gap"
        assert client.stats.duplicates_dropped == 0, f"client {i} was sent a duplicate"


@pytest.fixture
async def incident_stream(cluster: Cluster) -> AsyncIterator[tuple[str, str]]:
    incident = await sync_to_async(report)(visibility="crossing_point")
    yield incident.ref, incident.stream_name
    await sync_to_async(connections.close_all)()


async def test_posted_on_b_is_received_on_a_in_order(
    cluster: Cluster, incident_stream: tuple[str, str]
) -> None:
    _, stream = incident_stream
    token = await sync_to_async(cluster.token)("na-imm.duty")
    [reader] = await start_clients([[cluster.a.ws_url]], token, stream, cluster.a.base_url)
    writer = HubClient([cluster.b.ws_url], token=token)
    await writer.start()
    await writer.wait_connected()
    acks = [await writer.send_message(stream, f"message {i}") for i in range(30)]
    assert [a["seq"] for a in acks] == list(range(2, 32))
    await writer.stop()
    head = await finish([reader], stream)
    assert head == 31
    assert_full_sequence([reader], stream, head)
    bodies = [e["payload"]["body"] for e in reader.events[stream][1:]]
    assert bodies == [f"message {i}" for i in range(30)]


async def test_presence_spans_both_workers(
    cluster: Cluster, incident_stream: tuple[str, str]
) -> None:
    _, stream = incident_stream
    imm = await sync_to_async(cluster.token)("na-imm.duty")
    pol = await sync_to_async(cluster.token)("na-pol.duty")
    on_a = HubClient([cluster.a.ws_url], token=imm)
    on_b = HubClient([cluster.b.ws_url], token=pol)
    for client in (on_a, on_b):
        await client.start()
        await client.subscribe(stream)
    deadline = time.monotonic() + 10
    names = {u: await sync_to_async(officer_name)(u) for u in ("na-imm.duty", "na-pol.duty")}
    expected = {
        "NA-IMM": [{"user": "na-imm.duty", "name": names["na-imm.duty"]}],
        "NA-POL": [{"user": "na-pol.duty", "name": names["na-pol.duty"]}],
    }
    while time.monotonic() < deadline and on_a.presence.get(stream) != expected:
        await asyncio.sleep(0.05)
    assert on_a.presence.get(stream) == expected
    await on_b.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "NA-POL" in (on_a.presence.get(stream) or {}):
        await asyncio.sleep(0.05)
    assert set(on_a.presence[stream]) == {"NA-IMM"}
    await on_a.stop()


def officer_name(username: str) -> str:
    return officer(username).display_name


async def test_sigkill_worker_a_clients_resume_on_b(
    cluster: Cluster, incident_stream: tuple[str, str]
) -> None:
    ref, stream = incident_stream
    token = await sync_to_async(cluster.token)("na-imm.duty")
    clients = await start_clients(
        [[cluster.a.ws_url, cluster.b.ws_url]] * 3 + [[cluster.b.ws_url]],
        token,
        stream,
        cluster.b.base_url,
    )
    for i in range(60):
        await asyncio.to_thread(
            rest_post, cluster.b.base_url, token, ref, f"m{i}", str(uuid.uuid4())
        )
        if i == 20:
            cluster.a.kill()
        await asyncio.sleep(0.02)
    head = await finish(clients, stream)
    assert head == 61
    assert_full_sequence(clients, stream, head)
    assert all(c.stats.connects >= 2 for c in clients[:3]), "clients of A reconnected"


async def test_redis_stop_and_restart_while_messages_flow(
    cluster: Cluster, incident_stream: tuple[str, str]
) -> None:
    ref, stream = incident_stream
    token = await sync_to_async(cluster.token)("na-imm.duty")
    clients = await start_clients(
        [[cluster.a.ws_url, cluster.b.ws_url], [cluster.b.ws_url, cluster.a.ws_url]] * 2,
        token,
        stream,
        cluster.a.base_url,
    )
    saw_unready = False
    for i in range(60):
        base = cluster.a.base_url if i % 2 else cluster.b.base_url
        await asyncio.to_thread(rest_post, base, token, ref, f"m{i}", str(uuid.uuid4()))
        if i == 20:
            cluster.redis.kill()
            for _ in range(50):
                if await asyncio.to_thread(readyz, cluster.a) == 503:
                    saw_unready = True
                    break
                await asyncio.sleep(0.1)
        if i == 35:
            cluster.redis.start()
        await asyncio.sleep(0.02)
    assert saw_unready, "/readyz must report the lost Redis"
    for _ in range(100):
        if (
            await asyncio.to_thread(readyz, cluster.a) == 200
            and await asyncio.to_thread(readyz, cluster.b) == 200
        ):
            break
        await asyncio.sleep(0.1)
    head = await finish(clients, stream)
    assert head == 61
    assert_full_sequence(clients, stream, head)
    # The sockets stayed open through the outage: fed from the record, not sent away.
    assert all(c.stats.connects == 1 for c in clients), [c.stats for c in clients]
    assert not any(4503 in c.stats.close_codes for c in clients), [c.stats for c in clients]


async def test_random_disconnects_while_messages_flow(
    cluster: Cluster, incident_stream: tuple[str, str]
) -> None:
    ref, stream = incident_stream
    token = await sync_to_async(cluster.token)("na-imm.duty")
    clients = await start_clients(
        [[cluster.a.ws_url, cluster.b.ws_url], [cluster.b.ws_url, cluster.a.ws_url]] * 3,
        token,
        stream,
        cluster.a.base_url,
    )
    rng = random.Random(20261122)
    stop = asyncio.Event()

    async def chaos(client: HubClient) -> None:
        while not stop.is_set():
            await asyncio.sleep(rng.uniform(0.05, 0.4))
            await client.drop_connection()

    chaos_tasks = [asyncio.create_task(chaos(c)) for c in clients]
    for i in range(80):
        base = cluster.a.base_url if i % 2 else cluster.b.base_url
        await asyncio.to_thread(rest_post, base, token, ref, f"m{i}", str(uuid.uuid4()))
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*chaos_tasks)
    head = await finish(clients, stream)
    assert head == 81
    assert_full_sequence(clients, stream, head)
    assert sum(c.stats.connects for c in clients) > len(clients) * 2, "reconnects happened"


async def test_writes_resent_after_reconnect_are_recorded_once(
    cluster: Cluster, incident_stream: tuple[str, str]
) -> None:
    _, stream = incident_stream
    token = await sync_to_async(cluster.token)("na-imm.duty")
    writer = HubClient([cluster.a.ws_url, cluster.b.ws_url], token=token, backoff_base=0.05)
    await writer.start()
    await writer.subscribe(stream)
    await writer.wait_connected()
    cmid = str(uuid.uuid4())
    first = await writer.send_message(stream, "exactly once", client_msg_id=cmid)
    await writer.drop_connection()
    again = await writer.send_message(stream, "exactly once", client_msg_id=cmid)
    assert again == first
    await writer.wait_for(stream, first["seq"])
    await writer.stop()
    head = await sync_to_async(stream_head)(stream)
    assert head == 2


async def test_revoked_membership_stops_deliveries_on_every_worker(
    cluster: Cluster, incident_stream: tuple[str, str]
) -> None:
    ref, stream = incident_stream
    imm = await sync_to_async(cluster.token)("na-imm.duty")
    pol = await sync_to_async(cluster.token)("na-pol.duty")
    watchers = [HubClient([w.ws_url], token=pol) for w in (cluster.a, cluster.b)]
    for w in watchers:
        await w.start()
        await w.subscribe(stream)
        await w.wait_connected()
    seq = await asyncio.to_thread(
        rest_post, cluster.a.base_url, imm, ref, "before", str(uuid.uuid4())
    )
    for w in watchers:
        await w.wait_for(stream, seq)

    def revoke() -> None:
        membership = Membership.objects.get(user__username="na-pol.duty")
        membership_revoke(membership=membership)

    await sync_to_async(revoke)()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(stream in w.revoked for w in watchers):
        await asyncio.sleep(0.05)
    assert all(stream in w.revoked for w in watchers), "every worker ended the subscription"
    after = await asyncio.to_thread(
        rest_post, cluster.b.base_url, imm, ref, "after", str(uuid.uuid4())
    )
    await asyncio.sleep(1.0)
    for w in watchers:
        assert w.last_seq[stream] == seq < after
        assert "after" not in [e["payload"].get("body") for e in w.events[stream]]
        await w.stop()


def rest_json(
    base_url: str, token: str, method: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310
        f"{base_url}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        data: dict[str, Any] = json.load(response)
        return data


async def test_acks_and_task_changes_reach_another_worker_in_order(cluster: Cluster) -> None:
    from hub.alerts.services import alert_issue
    from hub.operations.services import operation_start
    from hub.operations.sops import seed_templates

    def setup() -> tuple[int, str, int]:
        seed_templates()
        alert = alert_issue(
            actor=officer("na-imm.coord"),
            crossing_point="WDH",
            category="document_fraud",
            severity="high",
            title="Counterfeit visas",
            targets=["NA-POL", "NA-CUS"],
        ).alert
        op = operation_start(
            actor=officer("na-imm.coord"), crossing_point="WDH", template="tip-screening"
        ).operation
        customs_task = op.tasks.get(position=6).pk
        return alert.pk, op.ref, customs_task

    alert_id, ref, task_id = await sync_to_async(setup)()
    coord = await sync_to_async(cluster.token)("na-imm.coord")
    police = await sync_to_async(cluster.token)("na-pol.duty")
    customs = await sync_to_async(cluster.token)("na-cus.duty")
    watcher = HubClient([cluster.a.ws_url], token=coord)
    await watcher.start()
    await watcher.subscribe("crossing:WDH")
    await watcher.subscribe(f"operation:{ref}")
    await watcher.wait_connected()
    acker = HubClient([cluster.b.ws_url], token=police)
    await acker.start()
    await acker.wait_connected()
    ws_ack = await acker.ack_alert(alert_id)
    assert ws_ack["stream"] == "crossing:WDH"
    await acker.stop()
    rest_ack = await asyncio.to_thread(
        rest_json,
        cluster.b.base_url,
        customs,
        "POST",
        f"/api/v1/alerts/{alert_id}/ack",
        {"client_msg_id": str(uuid.uuid4())},
    )
    assert rest_ack["alert"]["pending"] == []
    for status in ("in_progress", "done"):
        await asyncio.to_thread(
            rest_json,
            cluster.b.base_url,
            customs,
            "PATCH",
            f"/api/v1/operations/{ref}/tasks/{task_id}",
            {"status": status},
        )
    await watcher.wait_for("crossing:WDH", 3)
    await watcher.wait_for(f"operation:{ref}", 3)
    await watcher.stop()
    crossing = [
        (e["seq"], e["kind"], e["payload"].get("agency")) for e in watcher.events["crossing:WDH"]
    ]
    assert crossing == [
        (1, "alert.issued", None),
        (2, "alert.acknowledged", "NA-POL"),
        (3, "alert.acknowledged", "NA-CUS"),
    ]
    operation = [
        (e["seq"], e["kind"], e["payload"].get("to_status"))
        for e in watcher.events[f"operation:{ref}"]
    ]
    assert operation == [
        (1, "operation.started", None),
        (2, "task.status_changed", "in_progress"),
        (3, "task.status_changed", "done"),
    ]
    assert watcher.events[f"operation:{ref}"][-1]["payload"]["progress"]["done"] == 1
    assert watcher.stats.gaps_seen == watcher.stats.duplicates_dropped == 0
