"""Fan-out: the hub on two Daphne workers against stock Channels and the ceiling.

One run measures, side by side, for each number of subscribers (split evenly over two
server processes sharing one Redis):

- **hub, written by WebSocket**: ``hub.asgi`` (``bench.settings_bench``: production
  settings with the per-socket frame rate limit lifted for the writer) on a fresh
  database; subscribers are demo officers (bearer tokens) subscribed to the shared WEN
  incident's stream. The writer sends ``message.send`` on one socket per worker (taking
  turns) and waits for the ``ack``: persisted, sequenced, authorized, acknowledged.
- **hub, written by REST**: the same, ``POST /api/v1/incidents/{ref}/messages``
  (taking turns between the workers).
- **stock Channels**: bench/stock_asgi.py (an ``AsyncJsonWebsocketConsumer`` per socket in
  one group) under two Daphne workers; this process calls ``group_send`` through
  ``RedisChannelLayer``.
- **ceiling**: bench/ceiling_server.py, two processes, each one Redis subscription
  writing a pre-encoded frame to its sockets; this process PUBLISHes.

Measured:

- paced at each of ``--rates`` messages/s for ``--seconds``: p50 and p99 from commit to
  receipt (hub: the event's ``at``, stamped by the server in the committing
  transaction; baselines: the publisher's clock just before it publishes), deliveries
  per server CPU-second (user + system CPU of the two server processes only; Redis,
  PostgreSQL and the clients are not counted), lost and duplicated deliveries (per
  subscriber, by message index: every index of the step must arrive exactly once);
- saturation: ``--window`` messages in flight (hub WebSocket: unacknowledged
  ``message.send`` frames; REST: concurrent POSTs; baselines: publications not yet
  received by a probe socket on the first server), up to ``--saturation-messages`` or
  ``--saturation-seconds``: deliveries per second (first send to last receipt) and per
  server CPU-second;
- one worker against two (hub by WebSocket, 500 subscribers, 10 msg/s): deliveries per
  CPU-second of two workers ÷ one worker.

Subscribers run in ``--clients`` subprocesses (asyncio ``websockets`` clients, no
compression, as Daphne), each reporting its counts and latencies; their CPU (and this
process's) is reported as the client share. Servers and clients share this machine's
cores: read the client share before reading a server figure.

    python -m bench.fanout                                   # the full run (about 7-9 min)
    python -m bench.fanout --subscribers 100 --seconds 3     # a quick look
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub python -m bench.fanout

Needs Redis (``--redis-url``/REDIS_URL, default redis://127.0.0.1:6379/0). The hub's
database is a fresh SQLite file, or a fresh database on the PostgreSQL server that
``--database-url``/DATABASE_URL names (dropped afterwards). Writes
var/bench/fanout.json and var/bench/fanout.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import multiprocessing
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage
from websockets.typing import Origin

from bench import harness
from bench.harness import (
    OUT,
    READERS,
    WRITER,
    Hub,
    bench_env,
    cpu_seconds,
    free_port,
    hub_database,
    is_postgres,
    markdown_table,
    percentile,
    post_json,
    raise_fd_limit,
    seed_hub,
    start_daphne,
    start_server,
    stop,
    versions,
    write_report,
)

HUB_SETTINGS = "bench.settings_bench"
VARIANTS = ("hub-ws", "hub-rest", "stock", "ceiling")
LABELS = {
    "hub-ws": "hub, written by WebSocket",
    "hub-rest": "hub, written by REST",
    "stock": "stock Channels",
    "ceiling": "ceiling (plain websockets)",
}
TOKENS: dict[str, dict[str, str]] = {}  # database URL -> username -> bearer token
CONNECT_CONCURRENCY = 16  # handshakes in flight per client process (Daphne closes one not
# accepted within 5 s, --websocket_connect_timeout, and a subscribed hub socket costs ~30 ms)
MAX_RETRIES = 50  # per socket, before it counts as failed
OPEN_TIMEOUT = 240.0  # seconds for every socket of a client process to be ready


# --- counting -------------------------------------------------------------------------


def count_deliveries(indices: Iterable[int], expected: int) -> tuple[int, int]:
    """(lost, duplicated) for one subscriber that should get indices 0..expected-1 once.

    Lost: indices of that range never received. Duplicated: every receipt beyond the
    first of an index, and every receipt of an index outside the range."""
    seen: set[int] = set()
    duplicated = 0
    for i in indices:
        if 0 <= i < expected and i not in seen:
            seen.add(i)
        else:
            duplicated += 1
    return expected - len(seen), duplicated


def parse_plain(raw: str) -> tuple[int, int, float] | None:
    """(step, index, sent time) of a baseline frame ``{"s", "i", "t"}``."""
    frame = json.loads(raw)
    if not isinstance(frame, dict) or "s" not in frame:
        return None
    return int(frame["s"]), int(frame["i"]), float(frame["t"])


def parse_hub(raw: str) -> tuple[int, int, float] | None:
    """(step, index, commit time) of a hub ``event`` carrying a bench message."""
    if '"message.posted"' not in raw:
        return None
    frame = json.loads(raw)
    if frame.get("type") != "event":
        return None
    parts = str(frame["payload"].get("body", "")).split(" ")
    if len(parts) < 3 or parts[0] != "bench":
        return None
    return int(parts[1]), int(parts[2]), datetime.fromisoformat(frame["at"]).timestamp()


def body_for(step: int, index: int) -> str:
    return f"bench {step} {index} {time.time():.6f}"


def plain_frame(step: int, index: int) -> str:
    return json.dumps({"s": step, "i": index, "t": time.time()})


# --- subscribers, in client subprocesses ----------------------------------------------


@dataclass(frozen=True)
class SubSpec:
    url: str
    origin: str
    headers: dict[str, str]
    subscribe: str | None  # the subscribe frame (hub); None: ready once open


@dataclass
class SubState:
    got: dict[int, list[int]] = field(default_factory=dict)
    latencies: dict[int, list[float]] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    opened: float | None = None
    ready: float | None = None
    error: str | None = None
    retries: int = 0  # closed with 4013 (the admission gate) or handshake dropped, tried again


@dataclass
class StepStats:
    subscribers: int = 0
    deliveries: int = 0
    lost: int = 0
    duplicated: int = 0
    errors: int = 0
    last_receipt: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def merge(self, other: StepStats) -> None:
        self.subscribers += other.subscribers
        self.deliveries += other.deliveries
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.errors += other.errors
        self.last_receipt = max(self.last_receipt, other.last_receipt)
        self.latencies += other.latencies


@dataclass
class OpenStats:
    sockets: int = 0
    ready: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = math.inf
    all_open: float = 0.0
    all_ready: float = 0.0

    def merge(self, other: OpenStats) -> None:
        self.sockets += other.sockets
        self.ready += other.ready
        self.errors += other.errors
        self.started = min(self.started, other.started)
        self.all_open = max(self.all_open, other.all_open)
        self.all_ready = max(self.all_ready, other.all_ready)


async def back_off(state: SubState, backoff: float, error: Exception) -> float:
    """Wait a jittered back-off before the socket's next try, as hub clients do, and
    return the next back-off; past MAX_RETRIES, raise ``error`` (the socket failed)."""
    state.retries += 1
    if state.retries > MAX_RETRIES:
        raise error
    await asyncio.sleep(random.uniform(0, backoff))
    return min(4.0, backoff * 2)


async def run_subscriber(
    spec: SubSpec,
    state: SubState,
    gate: asyncio.Semaphore,
    parse: Callable[[str], tuple[int, int, float] | None],
) -> None:
    backoff = 0.25
    try:
        while True:
            async with gate:
                try:
                    ws = await connect(
                        spec.url,
                        additional_headers=spec.headers,
                        origin=Origin(spec.origin),
                        compression=None,
                        max_size=2**22,
                        open_timeout=120,
                        ping_interval=None,
                        close_timeout=2,
                    )
                except (InvalidMessage, OSError) as exc:
                    # A handshake the server dropped (Daphne's handshake timeout while
                    # it is busy connecting thousands): hub clients retry; so do we.
                    backoff = await back_off(state, backoff, exc)
                    continue
                state.opened = time.time()
            try:
                async with ws:
                    # In the try: a refused socket may already be closed when we send.
                    if spec.subscribe is not None:
                        await ws.send(spec.subscribe)
                    else:
                        state.ready = state.opened
                    async for raw in ws:
                        now = time.time()
                        if not isinstance(raw, str):
                            continue
                        if state.ready is None:
                            if '"caught_up"' in raw:
                                state.ready = now
                            continue
                        item = parse(raw)
                        if item is None:
                            continue
                        step, index, stamp = item
                        state.got.setdefault(step, []).append(index)
                        state.latencies.setdefault(step, []).append(now - stamp)
                        state.last[step] = now
            except ConnectionClosed as exc:
                # The hub's admission gate: a worker busy setting other sockets up
                # closes with 4013 before any work; come back after a jittered wait,
                # as every hub client does. Any other close ends this subscriber.
                if state.ready is None and exc.rcvd is not None and exc.rcvd.code == 4013:
                    backoff = await back_off(state, backoff, exc)
                    continue
                raise
            break
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # reported to the bench, which counts it
        state.error = f"{type(exc).__name__}: {exc}"[:300]
    if state.error is None:
        state.error = "closed by the server"


async def client_main(conn: Connection, specs: list[SubSpec], kind: str) -> None:
    parse = parse_hub if kind == "hub" else parse_plain
    states = [SubState() for _ in specs]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.time()
    tasks = [
        asyncio.create_task(run_subscriber(spec, state, gate, parse))
        for spec, state in zip(specs, states, strict=True)
    ]
    deadline = time.monotonic() + OPEN_TIMEOUT
    while time.monotonic() < deadline and any(s.ready is None and s.error is None for s in states):
        await asyncio.sleep(0.02)
    opened = [s.opened for s in states if s.opened is not None]
    ready = [s.ready for s in states if s.ready is not None]
    conn.send(
        OpenStats(
            sockets=len(specs),
            ready=len(ready),
            errors=[s.error for s in states if s.error][:5],
            started=started,
            all_open=max(opened, default=0.0),
            all_ready=max(ready, default=0.0),
        )
    )
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command[0] == "collect":
            _, step, expected, timeout = command
            end = time.monotonic() + timeout
            while time.monotonic() < end and any(
                len(s.got.get(step, ())) < expected and s.error is None for s in states
            ):
                await asyncio.sleep(0.02)
            stats = StepStats(subscribers=len(states))
            for s in states:
                got = s.got.pop(step, [])
                lost, duplicated = count_deliveries(got, expected)
                stats.deliveries += len(got)
                stats.lost += lost
                stats.duplicated += duplicated
                stats.errors += s.error is not None
                stats.latencies += s.latencies.pop(step, [])
                stats.last_receipt = max(stats.last_receipt, s.last.pop(step, 0.0))
            conn.send(stats)
        else:  # "close"
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            conn.send("closed")
            return


def client_process(conn: Connection, specs: list[SubSpec], kind: str) -> None:
    asyncio.run(client_main(conn, specs, kind))


class ClientPool:
    """Subscribers spread over ``processes`` client subprocesses (contiguous slices)."""

    def __init__(self, specs: Sequence[SubSpec], kind: str, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        n = max(1, min(processes, len(specs)))
        self.children: list[tuple[BaseProcess, Connection]] = []
        for c in range(n):
            part = list(specs[c * len(specs) // n : (c + 1) * len(specs) // n])
            ours, theirs = context.Pipe()
            child = context.Process(target=client_process, args=(theirs, part, kind), daemon=True)
            child.start()
            self.children.append((child, ours))

    @property
    def pids(self) -> list[int]:
        return [child.pid for child, _ in self.children if child.pid is not None]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def _receive(self, conn: Connection, timeout: float) -> Any:
        if not conn.poll(timeout):
            raise TimeoutError("a client process did not answer")
        return conn.recv()

    def wait_open(self) -> OpenStats:
        total = OpenStats()
        for _, conn in self.children:
            total.merge(self._receive(conn, OPEN_TIMEOUT + 60))
        return total

    def collect(self, step: int, expected: int, timeout: float) -> StepStats:
        for _, conn in self.children:
            conn.send(("collect", step, expected, timeout))
        total = StepStats()
        for _, conn in self.children:
            total.merge(self._receive(conn, timeout + 60))
        return total

    def close(self) -> None:
        for child, conn in self.children:
            try:
                conn.send(("close",))
                self._receive(conn, 30)
            except (OSError, EOFError, TimeoutError):
                pass
            child.join(10)
            if child.is_alive():
                child.kill()
                child.join(5)


# --- servers and publishers ------------------------------------------------------------


class Publisher:
    """Sends message ``index`` of ``step``; returns when it is acknowledged."""

    gated = False  # saturation waits for the probe socket (the baselines have no ack)

    async def send(self, step: int, index: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class HubWsPublisher(Publisher):
    def __init__(self, hub: Hub, stream: str) -> None:
        self.hub, self.stream = hub, stream
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def open(self) -> HubWsPublisher:
        token = self.hub.token(WRITER)
        for i in range(len(self.hub.ports)):
            ws = await connect(
                self.hub.ws(i),
                additional_headers={"Authorization": f"Bearer {token}"},
                origin=Origin(self.hub.base(i)),
                compression=None,
                ping_interval=None,
            )
            self.sockets.append(ws)
            self.readers.append(asyncio.create_task(self.read(ws)))
        return self

    async def read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") in {"ack", "error"}:
                future = self.pending.pop(str(frame.get("client_msg_id") or frame.get("ref")), None)
                if future is not None and not future.done():
                    future.set_result(frame)

    async def send(self, step: int, index: int) -> None:
        cmid = str(uuid.uuid4())
        future = asyncio.get_running_loop().create_future()
        self.pending[cmid] = future
        frame = {
            "type": "message.send",
            "stream": self.stream,
            "client_msg_id": cmid,
            "body": body_for(step, index),
        }
        await self.sockets[index % len(self.sockets)].send(json.dumps(frame))
        answer = await asyncio.wait_for(future, 30)
        if answer["type"] != "ack":
            raise RuntimeError(f"message.send refused: {answer}")

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


class HubRestPublisher(Publisher):
    def __init__(self, hub: Hub, ref: str) -> None:
        self.hub, self.ref = hub, ref
        self.token = hub.token(WRITER)

    async def send(self, step: int, index: int) -> None:
        url = f"{self.hub.base(index)}/api/v1/incidents/{self.ref}/messages"
        body = {"body": body_for(step, index), "client_msg_id": str(uuid.uuid4())}
        await asyncio.to_thread(post_json, url, body, self.token)


class Probe:
    """One extra socket on the first baseline server; its receipts gate saturation."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[int, int], asyncio.Future[None]] = {}
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self, url: str) -> Probe:
        self.ws = await connect(url, compression=None, ping_interval=None, max_size=2**22)
        self.task = asyncio.create_task(self.read(self.ws))
        return self

    async def read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            item = parse_plain(str(raw))
            if item is not None:
                future = self.waiting.pop((item[0], item[1]), None)
                if future is not None and not future.done():
                    future.set_result(None)

    def expect(self, step: int, index: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[(step, index)] = future
        return future

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class GatedPublisher(Publisher):
    gated = True

    def __init__(self, probe: Probe, publish: Callable[[str], Awaitable[Any]]) -> None:
        self.probe, self.publish = probe, publish
        self.gate = False

    async def send(self, step: int, index: int) -> None:
        future = self.probe.expect(step, index)
        await self.publish(plain_frame(step, index))
        if self.gate:
            await asyncio.wait_for(future, 30)
        else:
            self.probe.waiting.pop((step, index), None)


@dataclass
class Servers:
    """The server processes of one variant and how to reach them."""

    processes: list[Any]
    ports: list[int]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss_kib(self) -> int:
        return sum(harness.rss_kib(pid) for pid in self.pids)

    def stop(self) -> None:
        for process in self.processes:
            stop(process)


def start_all(starters: Sequence[Callable[[], Any]]) -> list[Any]:
    """Start server processes side by side (each waits for its own readiness)."""
    with ThreadPoolExecutor(len(starters)) as pool:
        futures = [pool.submit(start) for start in starters]
        results = [f.exception() or f.result() for f in futures]
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        for r in results:
            if not isinstance(r, BaseException):
                stop(r)
        raise failed[0]
    return results


def start_stock(env: dict[str, str], workers: int = 2) -> Servers:
    ports = [free_port() for _ in range(workers)]
    processes = start_all(
        [
            functools.partial(
                start_daphne, "bench.stock_asgi:application", env, port, name=f"stock{i}"
            )
            for i, port in enumerate(ports)
        ]
    )
    return Servers(processes, ports)


def ceiling_channel(env: dict[str, str]) -> str:
    return f"{env['HUB_REDIS_PREFIX']}:ceiling"


def start_ceiling(env: dict[str, str], workers: int = 2) -> Servers:
    ports = [free_port() for _ in range(workers)]
    starters = []
    for i, port in enumerate(ports):
        args = ["-m", "bench.ceiling_server", "--port", str(port)]
        args += ["--redis-url", env["REDIS_URL"], "--channel", ceiling_channel(env)]
        starters.append(
            functools.partial(
                start_server, args, env, port, ready_path="/healthz", name=f"ceiling{i}"
            )
        )
    return Servers(start_all(starters), ports)


def plain_specs(ports: Sequence[int], n: int) -> list[SubSpec]:
    return [
        SubSpec(
            url=f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/",
            origin=f"http://127.0.0.1:{ports[i % len(ports)]}",
            headers={},
            subscribe=None,
        )
        for i in range(n)
    ]


def hub_specs(hub: Hub, n: int, stream: str, after: int) -> list[SubSpec]:
    subscribe = json.dumps({"type": "subscribe", "stream": stream, "after": after})
    return [
        SubSpec(
            url=hub.ws(i),
            origin=hub.base(i),
            headers={"Authorization": f"Bearer {hub.token(READERS[i % len(READERS)])}"},
            subscribe=subscribe,
        )
        for i in range(n)
    ]


# --- steps ------------------------------------------------------------------------------


@dataclass
class Row:
    section: str
    variant: str
    subscribers: int
    workers: int
    load: str
    messages: int
    expected: int
    deliveries: int
    lost: int
    duplicated: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    wall_s: float
    server_cpu_s: float
    deliveries_per_cpu_s: float
    deliveries_per_s: float
    client_cpu_s: float
    client_share: float  # client CPU ÷ (client + server CPU)


class Steps:
    def __init__(self) -> None:
        self.next = 1

    def new(self) -> int:
        self.next += 1
        return self.next


STEPS = Steps()


async def run_step(
    *,
    section: str,
    variant: str,
    workers: int,
    pool: ClientPool,
    server_cpu: Callable[[], float],
    publisher: Publisher,
    rate: float | None,
    seconds: float,
    max_messages: int,
    window: int,
    drain: float,
) -> Row:
    """One bounded load step: paced at ``rate`` for ``seconds``, or saturation."""
    step = STEPS.new()
    me = os.getpid()
    cpu0, client0, wall0 = server_cpu(), pool.cpu() + cpu_seconds(me), time.time()
    sent = 0
    if rate is not None:
        messages = max(1, min(max_messages, round(rate * seconds)))
        for i in range(messages):
            delay = wall0 + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await publisher.send(step, i)
            sent += 1
    else:
        stop_at = time.monotonic() + seconds
        counter = iter(range(max_messages))

        async def lane() -> int:
            done = 0
            while time.monotonic() < stop_at:
                i = next(counter, None)
                if i is None:
                    break
                await publisher.send(step, i)
                done += 1
            return done

        if isinstance(publisher, GatedPublisher):
            publisher.gate = True
        try:
            sent = sum(await asyncio.gather(*(lane() for _ in range(window))))
        finally:
            if isinstance(publisher, GatedPublisher):
                publisher.gate = False
        # Every index taken is sent, so the step's indices are 0..sent-1.
    stats = await asyncio.to_thread(pool.collect, step, sent, drain)
    end = time.time()
    server = server_cpu() - cpu0
    client = pool.cpu() + cpu_seconds(me) - client0
    span = max(1e-9, (stats.last_receipt or end) - wall0)
    latencies = sorted(stats.latencies)
    return Row(
        section=section,
        variant=variant,
        subscribers=stats.subscribers,
        workers=workers,
        load="saturation" if rate is None else f"{rate:g} msg/s",
        messages=sent,
        expected=sent * stats.subscribers,
        deliveries=stats.deliveries,
        lost=stats.lost,
        duplicated=stats.duplicated,
        socket_errors=stats.errors,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 1),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 1),
        wall_s=round(end - wall0, 2),
        server_cpu_s=round(server, 2),
        deliveries_per_cpu_s=round(stats.deliveries / server) if server > 0 else math.inf,
        deliveries_per_s=round(stats.deliveries / span),
        client_cpu_s=round(client, 2),
        client_share=round(client / (client + server), 2) if client + server > 0 else 0.0,
    )


@dataclass
class Config:
    subscribers: list[int]
    rates: list[float]
    seconds: float = 5.0
    saturation_messages: int = 400
    saturation_seconds: float = 5.0
    window: int = 8
    clients: int = 2
    variants: Sequence[str] = VARIANTS
    one_vs_two: bool = True
    one_vs_two_subscribers: int = 500
    one_vs_two_rate: float = 10.0
    one_vs_two_seconds: float = 10.0
    one_vs_two_repeats: int = 3
    drain: float = 20.0  # seconds to wait for the last deliveries of a step

    def saturation_count(self, subscribers: int) -> int:
        """Messages at saturation: fewer for many subscribers (about 200k deliveries)."""
        return max(20, min(self.saturation_messages, 200_000 // max(1, subscribers)))

    def estimate_seconds(self) -> float:
        per_size = 0.0
        for n in self.subscribers:
            connect = 4 + n / 150
            paced = len(self.rates) * (self.seconds + 1.5)
            saturation = min(self.saturation_seconds, self.saturation_count(n) / 40) + 2
            per_size += len(self.variants) * (paced + saturation) + 3 * connect
        startup = 40 + 8 * 3
        pair = (
            2
            * self.one_vs_two_repeats
            * (12 + self.one_vs_two_subscribers / 150 + self.one_vs_two_seconds)
        )
        return startup + per_size + (pair if self.one_vs_two else 0)


async def measure_size(
    cfg: Config,
    variant_group: str,
    n: int,
    *,
    specs: list[SubSpec],
    kind: str,
    server_cpu: Callable[[], float],
    publishers: dict[str, Publisher],
    workers: int,
    section: str = "fan-out",
) -> list[Row]:
    rows: list[Row] = []
    pool = ClientPool(specs, kind, cfg.clients)
    try:
        opened = await asyncio.to_thread(pool.wait_open)
        if opened.ready < len(specs):
            raise RuntimeError(
                f"{variant_group}: {opened.ready} of {len(specs)} subscribers ready; "
                f"errors: {opened.errors}"
            )
        print(
            f"{variant_group}: {n} subscribers on {workers} worker(s) ready in "
            f"{opened.all_ready - opened.started:.1f} s",
            flush=True,
        )
        await asyncio.sleep(1.0)  # let presence and subscription traffic settle
        for variant, publisher in publishers.items():
            rates: list[float | None] = [*cfg.rates]
            if section == "fan-out":
                rates.append(None)
            for rate in rates:
                row = await run_step(
                    section=section,
                    variant=variant,
                    workers=workers,
                    pool=pool,
                    server_cpu=server_cpu,
                    publisher=publisher,
                    rate=rate,
                    seconds=cfg.seconds if rate is not None else cfg.saturation_seconds,
                    max_messages=(
                        cfg.saturation_count(n) if rate is None else math.ceil(rate * cfg.seconds)
                    ),
                    window=cfg.window,
                    drain=cfg.drain,
                )
                rows.append(row)
                print(format_row(row), flush=True)
    finally:
        await asyncio.to_thread(pool.close)
    return rows


def format_row(row: Row) -> str:
    return (
        f"  {row.variant:9} {row.subscribers:>5} subs, {row.workers}w, {row.load:>10}: "
        f"{row.deliveries:>7}/{row.expected:<7} lost {row.lost} dup {row.duplicated}  "
        f"p50 {row.p50_ms:6.1f} ms p99 {row.p99_ms:6.1f} ms  "
        f"{row.deliveries_per_cpu_s:>8,} /CPU-s {row.deliveries_per_s:>7,} /s  "
        f"client share {row.client_share:.2f}"
    )


async def hub_rows(
    cfg: Config, env: dict[str, str], sizes: Sequence[int], workers: int, section: str
) -> list[Row]:
    """The hub's variants at each size, on ``workers`` workers (the database is seeded)."""
    wanted = [v for v in ("hub-ws", "hub-rest") if v in cfg.variants]
    if not wanted:
        return []
    rows: list[Row] = []
    # Tokens are rows of the database: sign in once per run (sign-ins are rate-limited).
    tokens = TOKENS.setdefault(env["DATABASE_URL"], {})
    with Hub(env, workers=workers, tokens=tokens) as hub:
        for n in sizes:
            incident = hub.shared_incident()  # its head moves with every step
            publishers: dict[str, Publisher] = {}
            if "hub-ws" in wanted:
                publishers["hub-ws"] = await HubWsPublisher(hub, incident["stream"]).open()
            if "hub-rest" in wanted and section == "fan-out":
                publishers["hub-rest"] = HubRestPublisher(hub, incident["ref"])
            try:
                rows += await measure_size(
                    cfg,
                    "hub",
                    n,
                    specs=hub_specs(hub, n, incident["stream"], incident["seq"]),
                    kind="hub",
                    server_cpu=hub.cpu,
                    publishers=publishers,
                    workers=workers,
                    section=section,
                )
            finally:
                for publisher in publishers.values():
                    await publisher.close()
    return rows


async def stock_rows(cfg: Config, env: dict[str, str], sizes: Sequence[int]) -> list[Row]:
    from channels_redis.core import RedisChannelLayer

    if "stock" not in cfg.variants:
        return []
    rows: list[Row] = []
    servers = start_stock(env)
    layer = RedisChannelLayer(
        hosts=[{"address": env["REDIS_URL"], "socket_timeout": None}],
        prefix=f"{env['HUB_REDIS_PREFIX']}:asgi",
    )

    async def publish(frame: str) -> None:
        await layer.group_send("bench", {"type": "bench.message", "frame": json.loads(frame)})

    try:
        for n in sizes:
            probe = await Probe().open(f"ws://127.0.0.1:{servers.ports[0]}/ws/")
            try:
                await asyncio.sleep(0.3)
                rows += await measure_size(
                    cfg,
                    "stock",
                    n,
                    specs=plain_specs(servers.ports, n),
                    kind="plain",
                    server_cpu=servers.cpu,
                    publishers={"stock": GatedPublisher(probe, publish)},
                    workers=len(servers.ports),
                )
            finally:
                await probe.close()
    finally:
        await layer.flush()
        servers.stop()
    return rows


async def ceiling_rows(cfg: Config, env: dict[str, str], sizes: Sequence[int]) -> list[Row]:
    import redis.asyncio as aioredis

    if "ceiling" not in cfg.variants:
        return []
    rows: list[Row] = []
    servers = start_ceiling(env)
    client = aioredis.Redis.from_url(env["REDIS_URL"])
    channel = ceiling_channel(env)

    async def publish(frame: str) -> None:
        await client.publish(channel, frame)

    try:
        for n in sizes:
            probe = await Probe().open(f"ws://127.0.0.1:{servers.ports[0]}/ws/")
            try:
                rows += await measure_size(
                    cfg,
                    "ceiling",
                    n,
                    specs=plain_specs(servers.ports, n),
                    kind="plain",
                    server_cpu=servers.cpu,
                    publishers={"ceiling": GatedPublisher(probe, publish)},
                    workers=len(servers.ports),
                )
            finally:
                await probe.close()
    finally:
        await client.aclose()
        servers.stop()
    return rows


async def measure(cfg: Config, hub_env: dict[str, str], base_env: dict[str, str]) -> list[Row]:
    """Every row of a run. ``hub_env`` has a seeded DATABASE_URL; ``base_env`` the rest."""
    rows = await hub_rows(cfg, hub_env, cfg.subscribers, 2, "fan-out")
    rows += await stock_rows(cfg, base_env, cfg.subscribers)
    rows += await ceiling_rows(cfg, base_env, cfg.subscribers)
    if cfg.one_vs_two and "hub-ws" in cfg.variants:
        one = Config(
            **{
                **asdict(cfg),
                "rates": [cfg.one_vs_two_rate],
                "seconds": cfg.one_vs_two_seconds,
                "variants": ("hub-ws",),
            }
        )
        # Alternating pairs: a 10 s window of a few hundred messages still catches
        # a worker's periodic work (sweep, re-check, presence heartbeat) or not, so
        # one pair alone swung 0.67-0.96 between two quiet runs.
        for _ in range(cfg.one_vs_two_repeats):
            for workers in (1, 2):
                rows += await hub_rows(
                    one, hub_env, [cfg.one_vs_two_subscribers], workers, "one vs two workers"
                )
    return rows


# --- the report -------------------------------------------------------------------------


def dash(value: float) -> float | str:
    return "–" if isinstance(value, float) and math.isnan(value) else value


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b and not math.isnan(b) and not math.isnan(a) else math.nan


def ratios(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Hub ÷ stock and hub ÷ ceiling, per size and load, for each hub variant."""
    fan = {(r.variant, r.subscribers, r.load): r for r in rows if r.section == "fan-out"}
    out = []
    for (variant, n, load), r in fan.items():
        if not variant.startswith("hub"):
            continue
        stock, ceiling = fan.get(("stock", n, load)), fan.get(("ceiling", n, load))
        out.append(
            {
                "variant": variant,
                "subscribers": n,
                "load": load,
                "per_cpu_s_vs_stock": ratio(
                    r.deliveries_per_cpu_s, stock.deliveries_per_cpu_s if stock else math.nan
                ),
                "per_cpu_s_vs_ceiling": ratio(
                    r.deliveries_per_cpu_s, ceiling.deliveries_per_cpu_s if ceiling else math.nan
                ),
                "per_s_vs_ceiling": ratio(
                    r.deliveries_per_s, ceiling.deliveries_per_s if ceiling else math.nan
                )
                if load == "saturation"
                else math.nan,
                "p99_vs_ceiling": ratio(r.p99_ms, ceiling.p99_ms if ceiling else math.nan)
                if load != "saturation"
                else math.nan,
            }
        )
    return out


def one_vs_two_pairs(rows: Sequence[Row]) -> list[float]:
    """Two workers ÷ one, per CPU-second, for each alternating (one, two) pair in order."""
    ovt = [r for r in rows if r.section == "one vs two workers"]
    pairs = []
    for one, two in zip(ovt[::2], ovt[1::2], strict=False):
        if (one.workers, two.workers) == (1, 2):
            pairs.append(ratio(two.deliveries_per_cpu_s, one.deliveries_per_cpu_s))
    return pairs


def one_vs_two(rows: Sequence[Row]) -> float:
    """The median of the pairs' ratios (NaN without a pair)."""
    pairs = one_vs_two_pairs(rows)
    return round(statistics.median(pairs), 2) if pairs else math.nan


ROW_HEADERS = [
    "variant",
    "subscribers",
    "workers",
    "load",
    "messages",
    "delivered / expected",
    "lost",
    "dup",
    "p50 ms",
    "p99 ms",
    "server CPU s",
    "deliveries / CPU-s",
    "deliveries / s",
    "client CPU s",
    "client share",
]


def table_rows(rows: Iterable[Row]) -> list[list[Any]]:
    return [
        [
            LABELS.get(r.variant, r.variant),
            r.subscribers,
            r.workers,
            r.load,
            r.messages,
            f"{r.deliveries:,} / {r.expected:,}",
            r.lost,
            r.duplicated,
            r.p50_ms if r.load != "saturation" else "–",
            r.p99_ms if r.load != "saturation" else "–",
            r.server_cpu_s,
            r.deliveries_per_cpu_s,
            r.deliveries_per_s if r.load == "saturation" else "–",
            r.client_cpu_s,
            r.client_share,
        ]
        for r in rows
    ]


def render(rows: Sequence[Row], info: dict[str, str], command: str, database: str) -> str:
    parts = [
        "# Fan-out: hub vs stock Channels vs the ceiling (two server processes each)",
        "",
        f"**Command:** `{command}` ({database})  ",
        "**Versions:** " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        "Server CPU is the two server processes' user + system CPU (not Redis, not the "
        "database, not the clients). Client CPU is the subscriber processes' and the "
        "publisher's; they share the machine's cores with the servers.",
    ]
    for size in sorted({r.subscribers for r in rows if r.section == "fan-out"}):
        parts += ["", f"## {size:,} subscribers", ""]
        chosen = [r for r in rows if r.section == "fan-out" and r.subscribers == size]
        parts.append(markdown_table(ROW_HEADERS, table_rows(chosen)))
    found = ratios(rows)
    if found:
        parts += ["", "## Ratios", ""]
        parts.append(
            markdown_table(
                [
                    "hub variant",
                    "subscribers",
                    "load",
                    "per CPU-s ÷ stock",
                    "per CPU-s ÷ ceiling",
                    "per s ÷ ceiling",
                    "p99 ÷ ceiling p99",
                ],
                [
                    [
                        LABELS[r["variant"]],
                        r["subscribers"],
                        r["load"],
                        dash(r["per_cpu_s_vs_stock"]),
                        dash(r["per_cpu_s_vs_ceiling"]),
                        dash(r["per_s_vs_ceiling"]),
                        dash(r["p99_vs_ceiling"]),
                    ]
                    for r in found
                ],
            )
        )
    ovt = [r for r in rows if r.section == "one vs two workers"]
    if ovt:
        parts += ["", "## One worker vs two (hub, WebSocket writes)", ""]
        parts.append(markdown_table(ROW_HEADERS, table_rows(ovt)))
        pairs = ", ".join(f"{p:g}" for p in one_vs_two_pairs(rows))
        parts += [
            "",
            f"Two workers ÷ one, deliveries per CPU-second: **{one_vs_two(rows)}** "
            f"(median of the alternating pairs: {pairs})",
        ]
    return "\n".join(parts)


# --- main -------------------------------------------------------------------------------


def numbers(text: str, kind: type[int] | type[float]) -> list[Any]:
    return [kind(x) for x in text.split(",") if x.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", default="100,500,2000", help="comma-separated sizes")
    parser.add_argument("--rates", default="2,10", help="paced rates, messages/s")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a paced step")
    parser.add_argument("--saturation-messages", type=int, default=400)
    parser.add_argument("--saturation-seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=8, help="messages in flight at saturation")
    parser.add_argument("--clients", type=int, default=2, help="subscriber client processes")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--no-one-vs-two", action="store_true")
    parser.add_argument(
        "--one-vs-two-subscribers", type=int, default=500, help="(hub by WebSocket, 10 msg/s)"
    )
    parser.add_argument(
        "--one-vs-two-repeats", type=int, default=3, help="alternating (one, two) pairs"
    )
    parser.add_argument(
        "--one-vs-two-seconds", type=float, default=10.0, help="length of each pair's step"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", harness.DEFAULT_REDIS))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants: {sorted(unknown)}; choose from {VARIANTS}")
    return Config(
        subscribers=numbers(args.subscribers, int),
        rates=numbers(args.rates, float),
        seconds=args.seconds,
        saturation_messages=args.saturation_messages,
        saturation_seconds=args.saturation_seconds,
        window=args.window,
        clients=args.clients,
        variants=variants,
        one_vs_two=not args.no_one_vs_two,
        one_vs_two_subscribers=args.one_vs_two_subscribers,
        one_vs_two_repeats=args.one_vs_two_repeats,
        one_vs_two_seconds=args.one_vs_two_seconds,
    )


async def main_async(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    limit = raise_fd_limit(4 * max(cfg.subscribers) + 1024)
    print(
        f"fan-out: sizes {cfg.subscribers}, rates {cfg.rates} msg/s x {cfg.seconds:g} s, "
        f"saturation <= {cfg.saturation_messages} messages or {cfg.saturation_seconds:g} s, "
        f"variants {list(cfg.variants)}; open files {limit}; "
        f"estimated {cfg.estimate_seconds() / 60:.1f} min",
        flush=True,
    )
    started = time.monotonic()
    base_env = bench_env(args.redis_url)
    database = "PostgreSQL" if is_postgres(args.database_url) else "SQLite"
    run_dir = OUT / f"fanout-{uuid.uuid4().hex[:6]}"
    with hub_database(args.database_url, run_dir) as database_url:
        hub_env = {
            **bench_env(args.redis_url, DJANGO_SETTINGS_MODULE=HUB_SETTINGS),
            "DATABASE_URL": database_url,
        }
        if {"hub-ws", "hub-rest"} & set(cfg.variants):
            seed_hub(hub_env)
        rows = await measure(cfg, hub_env, base_env)
    info = versions(args.database_url)
    command = "python -m bench.fanout " + " ".join(sys.argv[1:])
    markdown = render(rows, info, command.strip(), database)
    data = {
        "command": command.strip(),
        "database": database,
        "versions": info,
        "config": asdict(cfg),
        "rows": [asdict(r) for r in rows],
        "ratios": ratios(rows),
        "two_workers_over_one": one_vs_two(rows),
        "two_workers_over_one_pairs": one_vs_two_pairs(rows),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    json_path, md_path = write_report("fanout", data, markdown)
    print()
    print(markdown)
    print(f"\n{time.monotonic() - started:.0f} s; wrote {json_path} and {md_path}")
    bad = [r for r in rows if r.lost or r.duplicated]
    if bad:
        print(f"LOSS OR DUPLICATES in {len(bad)} step(s)")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
