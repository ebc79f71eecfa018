"""The soak: hundreds of sockets on two workers, mixed writes, faults, then the checker.

``python -m bench.soak`` (``make soak``) starts everything it may break on loopback:
its own ``redis-server`` and its own PostgreSQL cluster (``initdb``/``pg_ctl`` in a
temporary directory, run as the ``postgres`` user when we are root), both on free
ports, and two Daphne workers of the hub on them (``bench.harness.Hub``), seeded with
the demo. The system's Redis and PostgreSQL are never touched.

Traffic, for ``--minutes`` (and at least as long as the faults take): ``--sockets``
reference clients (``hub.realtime.client.HubClient``), split over the two workers,
each following every stream of the run its officer may read (the WEN demo incident,
``crossing:WEN``, a joint operation started for the run; who may read what is asked
of the API); at ``--rate`` writes per second: messages over the socket
(``message.send``) and over REST, edits, alerts and their acknowledgements (over the
socket), task notes and moves. Every write carries a ``client_msg_id`` and is retried
with the same id until it is acknowledged (the socket client's outbox, or a REST retry
loop), like the web app's outbox. Sockets also drop and reconnect at random.

Faults (``--faults``, each ``--repeat`` times, one after another under that load):
``kill`` (SIGKILL of a worker, restarted on its port), ``redis`` (restart),
``postgres`` (stopped for 5 s, then started), ``drop5``/``drop60`` (a tenth of the
sockets lose the network for 5/60 s), ``sigstop`` (a worker paused for 10 s). For each:
how many were survived, the affected clients' time from recovery (and from the fault)
until they hold every event the record had at recovery, and the lost and doubled
deliveries of the affected sockets.

At the end ``bench.soak_checker`` compares what every socket received (raw, before the
client's de-duplication) and every write the clients saw acknowledged with the record
in the database, and ``manage.py audit_verify`` checks the hash chains. Any loss,
duplicate, unacknowledged write or failed chain: exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from bench import harness
from bench.soak_checker import (
    DeliveryReport,
    WriteLog,
    WriteReport,
    check_deliveries,
    check_writes,
    new_tag,
    read_heads,
    read_record,
)
from hub.realtime.client import HubClient, ResyncNeeded, WriteRefused

FAULTS = ("kill", "redis", "postgres", "drop5", "drop60", "sigstop")
# Rough seconds one fault takes under load, settling included (for the estimate).
FAULT_SECONDS = {"kill": 40, "redis": 45, "postgres": 35, "drop5": 20, "drop60": 75, "sigstop": 20}
CROSSING = "WEN"
# Codes a write may meet while a service is down or busy: the outbox tries again.
TRANSIENT_CODES = {"unavailable", "internal_error", "rate_limited", "too_many_requests"}


# --- private servers ------------------------------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as ``postgres`` then."""
    if os.getuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found (install Debian's postgresql)")
    return path


class PrivateRedis:
    """A redis-server of this run on a free port, without persistence; restartable."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = harness.free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        import redis

        self.directory.mkdir(parents=True, exist_ok=True)
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
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


class PrivatePostgres:
    """A PostgreSQL cluster of this run in a temporary directory, trust auth, free port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = harness.free_port()
        self.log = directory / "postgres.log"
        self.started = False

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 120) -> None:
        done = subprocess.run(
            _as_postgres(list(command)),
            check=False,
            timeout=timeout,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def init(self) -> PrivatePostgres:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8", "--locale", "C",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        self.started = True

    def stop(self, mode: str = "fast") -> None:
        if self.started:
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
            self.started = False

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@dataclass
class Services:
    """What the soak runs against, and what its faults may break."""

    hub: harness.Hub
    database_url: str
    env: dict[str, str]
    redis: PrivateRedis | None = None
    postgres: PrivatePostgres | None = None


@contextlib.contextmanager
def private_services(workers: int = 2) -> Iterator[Services]:
    """Own Redis, own PostgreSQL, the seeded hub on them; everything removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="hub-soak-"))
    directory.chmod(0o755)  # the postgres user must reach its cluster's directory
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, directory, True)
        redis_server = PrivateRedis(directory / "redis").start()
        stack.callback(redis_server.stop)
        postgres = PrivatePostgres(directory / "pg").init()
        stack.callback(postgres.stop, "immediate")
        postgres.start()
        database_url = postgres.create_database("hub")
        env = {**harness.bench_env(redis_server.url), "DATABASE_URL": database_url}
        print("seeding the demo hub ...", flush=True)
        harness.seed_hub(env)
        hub = harness.Hub(env, workers=workers)
        stack.callback(hub.stop)
        stack.callback(_resume_all, hub)  # runs first: a paused worker cannot stop
        hub.start()
        yield Services(hub, database_url, env, redis_server, postgres)


def _resume_all(hub: harness.Hub) -> None:
    for pid in hub.pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


# --- clients ----------------------------------------------------------------------------


class SoakClient(HubClient):
    """A reference client that also keeps every seq it was handed, raw, per stream."""

    def __init__(self, name: str, officer: str, urls: list[str], **kwargs: Any) -> None:
        super().__init__(urls, **kwargs)
        self.name = name
        self.officer = officer
        self.home_urls = list(urls)
        self.raw: dict[str, array[int]] = {}
        self.offline = False
        self.gave_up = 0
        self._retries: set[asyncio.Task[None]] = set()

    async def _on_event(self, frame: dict[str, Any]) -> None:
        stream = frame["stream"]
        self.raw.setdefault(stream, array("q")).append(int(frame["seq"]))
        await super()._on_event(frame)
        held = self.events.get(stream)
        if held is not None and len(held) > 32:  # the raw seqs are the soak's record
            del held[:-8]

    @property
    def worker_url(self) -> str | None:
        """The worker this client is connected to now (None while disconnected)."""
        if self._ws is None:
            return None
        return self.urls[self._url_index % len(self.urls)]

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._connected.is_set()

    def holds(self, heads: dict[str, int]) -> bool:
        return self.connected and all(
            self.last_seq.get(stream, 0) >= heads.get(stream, 0) for stream in self.last_seq
        )

    def describe(self, heads: dict[str, int]) -> str:
        held = {s: f"{self.last_seq.get(s, 0)}/{heads.get(s, 0)}" for s in self.last_seq}
        return (
            f"{self.name} ({self.officer}) connected={self.connected} url={self.worker_url} "
            f"held={held} live={sorted(self._live)} connects={self.stats.connects} "
            f"errors={[e.get('code') for e in self.errors[-3:]]} gave_up={self.gave_up}"
        )

    async def _give_up_on(self, needed: ResyncNeeded) -> None:
        """The client could not catch up over REST (its worker down?): like the web
        app, try again shortly from what it holds instead of leaving the stream."""
        await super()._give_up_on(needed)
        self.gave_up += 1

        async def again() -> None:
            await asyncio.sleep(1.0)
            await self.subscribe(needed.stream)

        task = asyncio.create_task(again())
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def go_offline(self, dead_url: str) -> None:
        """The network is gone: every reconnect fails until ``go_online``."""
        self.offline = True
        self.urls = [dead_url]
        await self.drop_connection()

    def go_online(self) -> None:
        self.urls = list(self.home_urls)
        self._url_index = 0
        self.offline = False


# --- REST -------------------------------------------------------------------------------


class RestError(Exception):
    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code


def rest(
    method: str, url: str, token: str, body: dict[str, Any] | None = None, timeout: float = 20
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {"code": "?", "detail": raw[:200].decode(errors="replace")}
        code = answer.get("code", "?") if isinstance(answer, dict) else "?"
        raise RestError(exc.code, str(code), str(answer)[:300]) from None


# --- the run ----------------------------------------------------------------------------


@dataclass
class SoakConfig:
    seconds: float = 600.0
    sockets: int = 1000
    rate: float = 3.0  # writes per second, all kinds together
    reconnect_rate: float = 0.5  # random socket drops per second
    faults: list[str] = field(default_factory=lambda: list(FAULTS))
    repeat: int = 5
    catchup_timeout: float = 60.0
    drain_timeout: float = 120.0
    drop_share: float = 0.1
    max_in_flight: int = 200
    seed: int = 1
    budget_seconds: float = 25 * 60  # all in: a fault that would not fit is not started


@dataclass
class FaultRun:
    kind: str
    index: int
    affected: int
    survived: bool = False
    catchup_after_recovery: list[float] = field(default_factory=list)
    catchup_from_fault: list[float] = field(default_factory=list)
    not_caught_up: int = 0
    down_seconds: float = 0.0
    error: str = ""
    affected_names: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)  # what a few not caught up looked like
    window: tuple[float, float] = (0.0, 0.0)


@dataclass
class SoakResult:
    config: SoakConfig
    duration: float
    streams: dict[str, int]
    entitled: dict[str, list[str]]
    deliveries: DeliveryReport
    writes: WriteReport
    faults: list[FaultRun]
    sessions: int
    reconnects: int
    write_errors: list[tuple[float, str, str]]
    client_failures: int
    audit_ok: bool | None = None
    audit_output: str = ""
    skipped_writes: int = 0
    faults_skipped: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.deliveries.lost + self.writes.lost

    @property
    def duplicated(self) -> int:
        return self.deliveries.duplicated + self.writes.duplicated

    @property
    def ok(self) -> bool:
        return (
            self.deliveries.ok
            and self.writes.ok
            and all(f.survived for f in self.faults)
            and self.audit_ok is not False
        )


class Soak:
    def __init__(
        self, services: Services, config: SoakConfig, started: float | None = None
    ) -> None:
        self.started = time.monotonic() if started is None else started
        self.services = services
        self.hub = services.hub
        self.config = config
        self.random = random.Random(config.seed)
        self.clients: list[SoakClient] = []
        self.writes: list[WriteLog] = []
        self.write_errors: list[tuple[float, str, str]] = []
        self.messages: list[tuple[str, int]] = []  # (author, message id) to edit
        self.tasks: list[tuple[int, str]] = []  # (task id, who works it)
        self.alerts_pending: list[tuple[int, str]] = []
        self.entitled_streams: dict[str, list[str]] = {}
        self.posters: list[str] = []
        self.coordinator = ""
        self.in_flight = 0
        self.skipped = 0
        self.stopping = False
        self.deadline = 0.0
        self.write_tasks: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        self.incident_ref = ""
        self.incident_stream = ""
        self.crossing_stream = f"crossing:{CROSSING}"
        self.operation_ref = ""
        self.operation_stream: str | None = None
        self.faults_skipped: list[str] = []

    # -- set-up --

    def base(self) -> str:
        return self.hub.base(self.random.randrange(len(self.hub.ports)))

    def prepare(self) -> None:
        """Tokens, the streams of the run, who may read and write what (blocking)."""
        for officer in harness.READERS:
            self.hub.token(officer)
        incident = self.hub.shared_incident()
        self.incident_ref = str(incident["ref"])
        self.incident_stream = f"incident:{self.incident_ref}"
        self.crossing_stream = f"crossing:{CROSSING}"
        self.operation_stream = self._start_operation()
        streams = [self.incident_stream, self.crossing_stream]
        if self.operation_stream:
            streams.append(self.operation_stream)
        for officer in harness.READERS:
            self.entitled_streams[officer] = [s for s in streams if self._may_read(officer, s)]
        # Who may post to the incident: each officer posts one message (a write like any).
        for officer in harness.READERS:
            log = self._new_write("rest_message", officer)
            body = f"{log.tag} soak starts for {officer}"
            try:
                _status, answer = rest(
                    "POST",
                    f"{self.base()}/api/v1/incidents/{self.incident_ref}/messages",
                    self.hub.token(officer),
                    {"body": body, "client_msg_id": log.client_msg_id},
                )
            except RestError as exc:
                if exc.status in {403, 404}:
                    self.writes.remove(log)
                    continue
                raise
            log.attempts = 1
            self._rest_acked(log, answer)
            self.posters.append(officer)
        if not self.posters:
            raise RuntimeError("no demo officer may post to the WEN incident")

    def _may_read(self, officer: str, stream: str) -> bool:
        path = urllib.parse.quote(stream, safe=":")
        try:
            rest(
                "GET",
                f"{self.base()}/api/v1/streams/{path}/events?after=0&limit=1",
                self.hub.token(officer),
            )
        except RestError as exc:
            if exc.status in {403, 404}:
                return False
            raise
        return True

    def _start_operation(self) -> str | None:
        """A joint operation at WEN tied to the incident, for task traffic."""
        for officer in harness.READERS:
            if not officer.endswith(".coord"):
                continue
            token = self.hub.token(officer)
            try:
                _, templates = rest("GET", f"{self.base()}/api/v1/checklist-templates", token)
                if not templates:
                    continue
                _, operation = rest(
                    "POST",
                    f"{self.base()}/api/v1/operations",
                    token,
                    {
                        "crossing_point": CROSSING,
                        "template": templates[0]["code"],
                        "incident": self.incident_ref,
                        "title": f"Soak {uuid.uuid4().hex[:6]}",
                        "client_msg_id": str(uuid.uuid4()),
                    },
                )
            except RestError:
                continue
            self.coordinator = officer
            self.operation_ref = str(operation["ref"])
            for task in operation["tasks"]:
                agency = (task.get("assigned_agency") or "").lower()
                worker = f"{agency}.duty" if f"{agency}.duty" in harness.READERS else officer
                self.tasks.append((int(task["id"]), worker))
            return f"operation:{self.operation_ref}"
        return None

    async def connect_clients(self) -> None:
        ws = [self.hub.ws(i) for i in range(len(self.hub.ports))]
        for i in range(self.config.sockets):
            officer = harness.READERS[i % len(harness.READERS)]
            home = i % len(ws)
            urls = ws[home:] + ws[:home]
            client = SoakClient(
                f"s{i}",
                officer,
                urls,
                token=self.hub.token(officer),
                rest_base=self.hub.base(home),
                backoff_max=5.0,
            )
            self.clients.append(client)
        for batch in range(0, len(self.clients), 50):
            group = self.clients[batch : batch + 50]
            for client in group:
                await client.start()
                for stream in self.entitled_streams[client.officer]:
                    await client.subscribe(stream)
            await asyncio.gather(*(c.wait_connected(60) for c in group))
        await self.wait_caught_up(self.clients, await self.heads(), 120)

    # -- helpers --

    async def heads(self) -> dict[str, int]:
        """The record's heads now (retried while the database is down)."""
        error: Exception | None = None
        for _ in range(120):
            try:
                return await asyncio.to_thread(read_heads, self.services.database_url)
            except Exception as exc:
                error = exc
                await asyncio.sleep(0.5)
        raise RuntimeError(f"cannot read the record's heads: {error!r}")

    async def wait_caught_up(
        self, clients: list[SoakClient], heads: dict[str, int], timeout: float
    ) -> dict[str, float]:
        """Until each client holds ``heads``; returns when each did (monotonic)."""
        done: dict[str, float] = {}
        end = time.monotonic() + timeout
        while len(done) < len(clients) and time.monotonic() < end:
            now = time.monotonic()
            for client in clients:
                if client.name not in done and client.holds(heads):
                    done[client.name] = now
            await asyncio.sleep(0.05)
        return done

    def _new_write(self, kind: str, actor: str, **extra: Any) -> WriteLog:
        log = WriteLog(str(uuid.uuid4()), kind, actor, tag=new_tag(), **extra)
        if kind == "alert_ack":
            log.tag = ""
        self.writes.append(log)
        return log

    def _failed(self, log: WriteLog, what: str) -> None:
        log.failures[what] += 1
        if len(self.write_errors) < 100_000:
            self.write_errors.append((time.monotonic(), log.kind, what))

    def _rest_acked(self, log: WriteLog, answer: Any) -> None:
        log.acked = True
        # A message write's answer names its own event; an operation's or an alert's
        # answer is a snapshot (its seq is the stream's head then, not the write's).
        if log.kind in {"rest_message", "edit"} and isinstance(answer, dict):
            log.stream, log.seq = str(answer.get("stream", "")), int(answer["seq"])
        message = answer.get("message") if isinstance(answer, dict) else None
        if log.kind == "rest_message" and isinstance(message, dict):
            self.messages.append((log.actor, int(message["id"])))

    async def _rest_write(self, log: WriteLog, method: str, path: str, body: dict[str, Any]) -> Any:
        """Send until acknowledged (same client_msg_id), a 4xx refusal, or the deadline."""
        delay = 0.2
        while time.monotonic() < self.deadline:
            log.attempts += 1
            try:
                _, answer = await asyncio.to_thread(
                    rest, method, f"{self.base()}{path}", self.hub.token(log.actor), body
                )
            except RestError as exc:
                if exc.status < 500 and exc.status != 429 and exc.code not in TRANSIENT_CODES:
                    log.refused = str(exc)[:300]
                    return None
                self._failed(log, f"{exc.status} {exc.code}")
            except (OSError, ValueError) as exc:
                self._failed(log, type(exc).__name__)
            else:
                self._rest_acked(log, answer)
                return answer
            await asyncio.sleep(self.random.uniform(0, delay))
            delay = min(5.0, delay * 2)
        return None

    async def _ws_write(self, log: WriteLog, send: Callable[[SoakClient], Any]) -> None:
        clients = [c for c in self.clients if c.officer == log.actor]
        client = self.random.choice(clients)
        while time.monotonic() < self.deadline:
            log.attempts += 1
            try:
                ack = await send(client)
            except TimeoutError:
                self._failed(log, "ws timeout")
                continue
            except WriteRefused as exc:
                if exc.code in TRANSIENT_CODES:
                    self._failed(log, f"ws {exc.code}")
                    await asyncio.sleep(1)
                    continue
                log.refused = f"ws {exc.code}"
                return
            log.acked = True
            log.stream, log.seq = str(ack.get("stream", "")), int(ack["seq"])
            return

    # -- writes --

    async def ws_message(self) -> None:
        officer = self.random.choice(self.posters)
        log = self._new_write("ws_message", officer)
        body = f"{log.tag} socket message {len(self.writes)}"
        await self._ws_write(
            log,
            lambda c: c.send_message(
                self.incident_stream, body, client_msg_id=log.client_msg_id, timeout=10
            ),
        )

    async def rest_message(self) -> None:
        officer = self.random.choice(self.posters)
        log = self._new_write("rest_message", officer)
        await self._rest_write(
            log,
            "POST",
            f"/api/v1/incidents/{self.incident_ref}/messages",
            {"body": f"{log.tag} rest message", "client_msg_id": log.client_msg_id},
        )

    async def edit(self) -> None:
        if not self.messages:
            return await self.rest_message()
        author, message_id = self.random.choice(self.messages)
        log = self._new_write("edit", author)
        await self._rest_write(
            log,
            "PATCH",
            f"/api/v1/incidents/{self.incident_ref}/messages/{message_id}",
            {"body": f"{log.tag} edited", "client_msg_id": log.client_msg_id},
        )
        return None

    async def task_change(self) -> None:
        if not self.tasks:
            return await self.rest_message()
        task_id, worker = self.random.choice(self.tasks)
        log = self._new_write("task", worker)
        await self._rest_write(
            log,
            "PATCH",
            f"/api/v1/operations/{self.operation_ref}/tasks/{task_id}",
            {"note": f"{log.tag} checked", "client_msg_id": log.client_msg_id},
        )
        return None

    async def alert(self) -> None:
        issuer = self.coordinator or self.posters[0]
        log = self._new_write("alert_issue", issuer)
        answer = await self._rest_write(
            log,
            "POST",
            f"/api/v1/crossing-points/{CROSSING}/alerts",
            {
                "category": "smuggling",
                "severity": "low",
                "title": f"{log.tag} soak alert",
                "body": "Soak traffic: please acknowledge.",
                "client_msg_id": log.client_msg_id,
            },
        )
        if not isinstance(answer, dict):
            return
        acks = []
        for agency in answer.get("pending", []):
            officer = f"{str(agency).lower()}.duty"
            if officer in harness.READERS:
                acks.append(self._ack(int(answer["id"]), str(agency), officer))
        await asyncio.gather(*acks)

    async def _ack(self, alert_id: int, agency: str, officer: str) -> None:
        log = self._new_write("alert_ack", officer, alert_id=alert_id, agency=agency)
        await self._ws_write(
            log,
            lambda c: c.ack_alert(alert_id, client_msg_id=log.client_msg_id, timeout=10),
        )

    def _spawn(self, make: Callable[[], Any]) -> None:
        if self.in_flight >= self.config.max_in_flight:
            self.skipped += 1
            return
        self.in_flight += 1

        async def run() -> None:
            try:
                await make()
            except Exception as exc:
                self._failed(self._new_write("crash", "?"), repr(exc)[:120])
            finally:
                self.in_flight -= 1

        task = asyncio.create_task(run())
        self.write_tasks.add(task)
        task.add_done_callback(self.write_tasks.discard)

    async def traffic(self) -> None:
        kinds: list[tuple[Callable[[], Any], float]] = [
            (self.ws_message, 0.35),
            (self.rest_message, 0.2),
            (self.edit, 0.15),
            (self.task_change, 0.2),
            (self.alert, 0.1),
        ]
        actions, weights = zip(*kinds, strict=True)
        while not self.stopping:
            self._spawn(self.random.choices(actions, weights)[0])
            await asyncio.sleep(self.random.expovariate(self.config.rate))

    async def reconnects_loop(self) -> None:
        while not self.stopping and self.config.reconnect_rate > 0:
            await asyncio.sleep(self.random.expovariate(self.config.reconnect_rate))
            client = self.random.choice(self.clients)
            if not client.offline:
                self.reconnects += 1
                await client.drop_connection()

    # -- faults --

    def _on_worker(self, i: int) -> list[SoakClient]:
        url = self.hub.ws(i)
        return [c for c in self.clients if c.worker_url == url and not c.offline]

    async def fault(self, kind: str, index: int) -> FaultRun:
        worker = index % len(self.hub.ports)
        run = FaultRun(kind, index, 0)
        t0 = time.monotonic()
        try:
            affected = await self._inject(kind, worker, run)
        except Exception as exc:
            run.error = repr(exc)[:300]
            run.window = (t0, time.monotonic())
            return run
        t1 = time.monotonic()
        run.down_seconds = t1 - t0
        run.affected = len(affected)
        run.affected_names = [c.name for c in affected]
        heads = await self.heads()
        done = await self.wait_caught_up(affected, heads, self.config.catchup_timeout)
        run.catchup_after_recovery = sorted(max(0.0, at - t1) for at in done.values())
        run.catchup_from_fault = sorted(at - t0 for at in done.values())
        run.not_caught_up = len(affected) - len(done)
        run.stuck = [c.describe(heads) for c in affected if c.name not in done][:5]
        run.survived = run.not_caught_up == 0 and all(p.poll() is None for p in self.hub.processes)
        run.window = (t0, time.monotonic())
        return run

    async def _inject(self, kind: str, worker: int, run: FaultRun) -> list[SoakClient]:
        hub, services = self.hub, self.services
        if kind == "kill":
            affected = self._on_worker(worker)
            process = hub.processes[worker]
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait, 10)
            await asyncio.to_thread(hub.restart_worker, worker)
            return affected
        if kind == "sigstop":
            affected = self._on_worker(worker)
            pid = hub.processes[worker].pid
            os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(10)
            finally:
                os.kill(pid, signal.SIGCONT)
            return affected
        if kind == "redis":
            if services.redis is None:
                raise RuntimeError("no private Redis to restart")
            affected = [c for c in self.clients if not c.offline]
            await asyncio.to_thread(services.redis.restart, 1.0)
            return affected
        if kind == "postgres":
            if services.postgres is None:
                raise RuntimeError("no private PostgreSQL to restart")
            affected = [c for c in self.clients if not c.offline]
            await asyncio.to_thread(services.postgres.stop, "fast")
            try:
                await asyncio.sleep(5)
            finally:
                await asyncio.to_thread(services.postgres.start)
            return affected
        if kind in {"drop5", "drop60"}:
            seconds = 5 if kind == "drop5" else 60
            online = [c for c in self.clients if not c.offline]
            count = max(1, int(len(self.clients) * self.config.drop_share))
            affected = self.random.sample(online, min(count, len(online)))
            dead = f"ws://127.0.0.1:{harness.free_port()}/ws/"
            for client in affected:
                await client.go_offline(dead)
            try:
                await asyncio.sleep(seconds)
            finally:
                for client in affected:
                    client.go_online()
            return affected
        raise ValueError(f"unknown fault {kind}")

    async def faults(self) -> list[FaultRun]:
        plan = [(kind, r) for r in range(self.config.repeat) for kind in self.config.faults]
        runs: list[FaultRun] = []
        if not plan:
            return runs
        start = time.monotonic()
        warmup = min(10.0, self.config.seconds / 10)
        budget = max(0.0, self.config.seconds - warmup - fault_estimate(self.config))
        gap = max(3.0, budget / len(plan))
        await asyncio.sleep(warmup)
        reserve = 2 * self.config.drain_timeout + 90  # drain, catch-up, checks
        for n, (kind, r) in enumerate(plan):
            elapsed = time.monotonic() - self.started
            if elapsed + FAULT_SECONDS.get(kind, 30) + reserve > self.config.budget_seconds:
                self.faults_skipped = [f"{k} #{i + 1}" for k, i in plan[n:]]
                print(f"  time budget reached: not started {', '.join(self.faults_skipped)}")
                break
            run = await self.fault(kind, r)
            print(
                f"  [{time.monotonic() - start:6.0f}s] {kind} #{r + 1}: "
                f"{'survived' if run.survived else 'FAILED'}, {run.affected} affected, "
                f"max catch-up {max(run.catchup_after_recovery, default=0):.1f}s "
                f"after recovery {run.error}",
                flush=True,
            )
            runs.append(run)
            await asyncio.sleep(gap)
        return runs

    # -- the whole run --

    async def run(self) -> SoakResult:
        config = self.config
        started = time.monotonic()
        self.deadline = started + 10**6  # until the drain sets one
        await asyncio.to_thread(self.prepare)
        await self.connect_clients()
        print(f"{len(self.clients)} sockets connected and caught up; traffic starts", flush=True)
        loops = [
            asyncio.create_task(self.traffic()),
            asyncio.create_task(self.reconnects_loop()),
        ]
        traffic_start = time.monotonic()
        fault_runs = await self.faults()
        remaining = min(
            config.seconds - (time.monotonic() - traffic_start),
            config.budget_seconds
            - (2 * config.drain_timeout + 90)
            - (time.monotonic() - self.started),
        )
        if remaining > 0:
            await asyncio.sleep(remaining)
        self.stopping = True
        for loop in loops:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        print("traffic stopped; draining the outboxes ...", flush=True)
        self.deadline = time.monotonic() + config.drain_timeout
        if self.write_tasks:
            await asyncio.wait(set(self.write_tasks), timeout=config.drain_timeout + 5)
        for client in self.clients:
            if client.offline:
                client.go_online()
        heads = await self.heads()
        await self.wait_caught_up(self.clients, heads, config.drain_timeout)
        for client in self.clients:
            await client.stop()
        record = await asyncio.to_thread(read_record, self.services.database_url)
        streams = {s: record.heads.get(s, 0) for s in self._streams()}
        entitled = {c.name: self.entitled_streams[c.officer] for c in self.clients}
        deliveries = check_deliveries(
            {c.name: {s: list(v) for s, v in c.raw.items()} for c in self.clients},
            {s: record.heads.get(s, 0) for s in self._streams()},
            entitled,
        )
        writes = check_writes(self.writes, record)
        return SoakResult(
            config=config,
            duration=time.monotonic() - started,
            streams=streams,
            entitled={o: s for o, s in self.entitled_streams.items()},
            deliveries=deliveries,
            writes=writes,
            faults=fault_runs,
            sessions=sum(c.stats.connects for c in self.clients),
            reconnects=self.reconnects,
            write_errors=self.write_errors,
            client_failures=sum(c.stats.failures for c in self.clients),
            skipped_writes=self.skipped,
            faults_skipped=self.faults_skipped,
        )

    def _streams(self) -> list[str]:
        streams = [self.incident_stream, self.crossing_stream]
        return [*streams, self.operation_stream] if self.operation_stream else streams


def audit_verify(env: dict[str, str]) -> tuple[bool, str]:
    done = subprocess.run(
        [sys.executable, "manage.py", "audit_verify"],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode == 0, (done.stdout + done.stderr)[-2000:]


async def soak(services: Services, config: SoakConfig, started: float | None = None) -> SoakResult:
    # REST writes and catch-up fetches run in threads: enough that an outage's slow
    # requests do not hold up the others.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(64))
    result = await Soak(services, config, started).run()
    result.audit_ok, result.audit_output = await asyncio.to_thread(audit_verify, services.env)
    return result


# --- the report -------------------------------------------------------------------------


def fault_estimate(config: SoakConfig) -> float:
    return sum(FAULT_SECONDS.get(kind, 30) for kind in config.faults) * config.repeat


def total_estimate(config: SoakConfig) -> float:
    """Seconds the whole run may take, all in: set-up, traffic and faults, drain, checks."""
    setup = 90 + config.sockets * 0.05
    traffic = max(config.seconds, fault_estimate(config) + 10)
    return min(config.budget_seconds, setup + traffic + 2 * config.drain_timeout + 60)


def fault_rows(result: SoakResult) -> list[list[Any]]:
    problems_by_socket: dict[str, tuple[int, int]] = {}
    for p in result.deliveries.problems:
        lost, dup = problems_by_socket.get(p.socket, (0, 0))
        problems_by_socket[p.socket] = (lost + len(p.missing), dup + len(p.duplicated))
    rows: list[list[Any]] = []
    for kind in result.config.faults:
        runs = [r for r in result.faults if r.kind == kind]
        if not runs:
            continue
        after = sorted(x for r in runs for x in r.catchup_after_recovery)
        before = sorted(x for r in runs for x in r.catchup_from_fault)
        names = {n for r in runs for n in r.affected_names}
        lost = sum(problems_by_socket.get(n, (0, 0))[0] for n in names)
        dup = sum(problems_by_socket.get(n, (0, 0))[1] for n in names)
        errors: Counter[str] = Counter()
        for r in runs:
            errors.update(
                what for t, _, what in result.write_errors if r.window[0] <= t <= r.window[1]
            )
        rows.append(
            [
                kind,
                f"{sum(r.survived for r in runs)}/{len(runs)}",
                round(sum(r.affected for r in runs) / len(runs)),
                harness.percentile(after, 0.5),
                max(after, default=float("nan")),
                harness.percentile(before, 0.5),
                max(before, default=float("nan")),
                sum(r.not_caught_up for r in runs),
                lost,
                dup,
                ", ".join(f"{k} ×{v}" for k, v in errors.most_common(4)) or "-",
            ]
        )
    return rows


FAULT_HEADERS = [
    "fault",
    "survived",
    "affected sockets",
    "caught up after recovery p50 (s)",
    "max (s)",
    "from the fault p50 (s)",
    "max (s)",
    "not caught up",
    "lost",
    "duplicated",
    "write errors meanwhile (retried)",
]


def render(result: SoakResult, versions: dict[str, str]) -> tuple[dict[str, Any], str]:
    d, w = result.deliveries, result.writes
    counts: list[list[Any]] = [
        ["events on the soak's streams", sum(result.streams.values())],
        ["streams", len(result.streams)],
        ["sockets", result.config.sockets],
        ["socket sessions (connections)", result.sessions],
        ["random reconnects", result.reconnects],
        ["subscriptions checked", d.subscriptions],
        ["deliveries (raw)", d.deliveries],
        ["deliveries expected", d.expected],
        ["writes", w.writes],
        ["writes acknowledged", w.acknowledged],
        ["retries (same client_msg_id)", w.retries],
        ["writes never acknowledged", w.unacknowledged],
        ["writes refused", w.refused],
        ["writes skipped (in-flight cap)", result.skipped_writes],
        ["lost (deliveries + writes)", result.lost],
        ["duplicated (deliveries + writes)", result.duplicated],
        ["out of order", d.out_of_order],
        ["faults not started (time budget)", len(result.faults_skipped)],
        ["audit_verify", "passed" if result.audit_ok else f"FAILED {result.audit_output[-200:]}"],
    ]
    lines = [
        "# Soak",
        "",
        f"{result.config.sockets} sockets over 2 workers, {result.duration / 60:.1f} min "
        f"all in, {result.config.rate} writes/s, faults {','.join(result.config.faults)} "
        f"× {result.config.repeat}. Verdict: **{'PASS' if result.ok else 'FAIL'}**.",
        "",
        harness.markdown_table(["count", "value"], counts),
        "",
        "Writes by kind: "
        + ", ".join(f"{k} {v}" for k, v in w.by_kind.items())
        + ". Failures before a write went in (retried): "
        + (", ".join(f"{k} ×{v}" for k, v in w.failures.items()) or "none")
        + ".",
        "",
    ]
    if result.faults:
        lines += [
            "Caught up = the affected sockets hold every event the record had when the "
            "fault ended (recovery); lost/duplicated are those of the affected sockets.",
            "",
            harness.markdown_table(FAULT_HEADERS, fault_rows(result)),
            "",
        ]
    problems = [
        f"{p.socket} {p.stream}: missing {p.missing[:10]}, duplicated {p.duplicated[:10]}, "
        f"out of order {p.out_of_order}"
        for p in d.problems[:20]
    ] + w.problems[:20]
    problems += [f"{r.kind} #{r.index + 1}: {r.error}" for r in result.faults if r.error]
    problems += [
        f"{r.kind} #{r.index + 1} not caught up: {s}" for r in result.faults for s in r.stuck
    ]
    if problems:
        lines += ["## Problems", "", *(f"- {p}" for p in problems), ""]
    lines += ["Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())]
    data = {
        "ok": result.ok,
        "duration_s": result.duration,
        "config": asdict(result.config),
        "streams": result.streams,
        "entitled": result.entitled,
        "counts": {str(k): v for k, v in counts},
        "deliveries": asdict(d) | {"problems": [asdict(p) for p in d.problems[:200]]},
        "writes": asdict(w) | {"problems": w.problems[:200]},
        "faults": [
            {k: v for k, v in asdict(r).items() if k != "affected_names"} for r in result.faults
        ],
        "fault_table": [dict(zip(FAULT_HEADERS, row, strict=True)) for row in fault_rows(result)],
        "versions": versions,
    }
    return data, "\n".join(lines)


# --- command line -------------------------------------------------------------------------


def parse(argv: list[str] | None) -> SoakConfig:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=3.0, help="writes per second")
    parser.add_argument("--reconnect-rate", type=float, default=0.5, help="drops per second")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"comma-separated, of {','.join(FAULTS)}"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=25.0,
        help="all in; faults that would not fit are not started (and reported)",
    )
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    if not 1 <= args.sockets <= 5000 or not 0 < args.minutes <= 60 or not 0 < args.rate <= 50:
        parser.error("bounds: 1..5000 sockets, up to 60 minutes, up to 50 writes/s")
    return SoakConfig(
        seconds=args.minutes * 60,
        sockets=args.sockets,
        rate=args.rate,
        reconnect_rate=args.reconnect_rate,
        faults=faults,
        repeat=max(0, min(args.repeat, 20)),
        seed=args.seed,
        budget_seconds=args.budget_minutes * 60,
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    config = parse(argv)
    estimate = total_estimate(config)
    print(
        f"soak: {config.sockets} sockets, {config.seconds / 60:.1f} min of traffic, faults "
        f"{','.join(config.faults) or 'none'} × {config.repeat}; estimated {estimate / 60:.0f} min "
        f"all in (bounded: catch-up waits ≤ {config.catchup_timeout:.0f} s per fault, drain ≤ "
        f"{config.drain_timeout:.0f} s)",
        flush=True,
    )
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    # A socket cut by a fault is the point of the exercise, not news.
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    logging.getLogger("hub.realtime.client").setLevel(logging.ERROR)
    with private_services() as services:
        result = asyncio.run(soak(services, config, started))
        versions = harness.versions(services.database_url)
    data, markdown = render(result, versions)
    json_path, md_path = harness.write_report("soak", data, markdown)
    print(markdown)
    print(f"\nwrote {json_path} and {md_path}")
    if not result.ok:
        print("SOAK FAILED: see the problems above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
