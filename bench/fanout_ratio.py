"""Fan-out ratio: the hub's delivery path against stock Channels, in the same run.

Both servers are one Daphne process on this machine sharing the same Redis. N
WebSocket subscribers connect to each; messages go out at a fixed rate; we count
socket deliveries and the server process's CPU time (user + system, from
/proc), and report deliveries per server CPU-second for each, and their ratio.

- baseline ("stock"): an AsyncJsonWebsocketConsumer per socket in one group,
  ``group_send`` through ``RedisChannelLayer`` from this process;
- hub: ``hub.asgi`` with officers subscribed to an incident stream. Each message
  is written the way officers write, through the same server, so persistence
  (INSERTs, hash chain, idempotency receipt) and authorization are inside the
  measured CPU: once sent as a WebSocket ``message.send`` (the web app's path),
  once POSTed to the REST API.

    python -m bench.fanout_ratio --subscribers 200 --rate 10 --seconds 10
    python -m bench.fanout_ratio --min-ratio 5    # exit 1 below 5x (the hub's target)

Daphne runs with the production flags (the Makefile's ``serve``: 128 KiB
WebSocket message and frame limits). Needs Redis (REDIS_URL, default
redis://127.0.0.1:6379/0). The hub's database is a fresh SQLite file per run,
or, when ``--database-url``/``DATABASE_URL`` names PostgreSQL, a fresh database
created on that server for the run and dropped after it (the named database
itself is only used to connect). Prints a table and the hub/stock ratio, and
writes JSON to var/bench/fanout_ratio.json. Timings are noisy on shared
machines: compare the ratio, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.harness import (
    DAPHNE_FLAGS,
    READERS,
    ROOT,
    cpu_seconds,
    free_port,
    hub_database,
    is_postgres,
    post_json,
    start_daphne,
)

__all__ = ["DAPHNE_FLAGS", "cpu_seconds", "free_port", "start_daphne"]

OUT = ROOT / "var" / "bench"


@dataclass
class Result:
    variant: str
    subscribers: int
    messages: int
    deliveries: int
    expected: int
    cpu_seconds: float
    wall_seconds: float
    deliveries_per_cpu_second: float
    p50_ms: float
    p99_ms: float


class Subscriber:
    def __init__(self) -> None:
        self.count = 0
        self.latencies: list[float] = []
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None


async def open_subscribers(
    n: int, url: str, headers_for: Any, subscribe: dict[str, Any] | None, stamp_of: Any
) -> list[Subscriber]:
    subs = [Subscriber() for _ in range(n)]

    async def run(i: int, sub: Subscriber, ready: asyncio.Event) -> None:
        async with connect(
            url,
            additional_headers=headers_for(i),
            origin=Origin(url.replace("ws://", "http://").rsplit("/ws/", 1)[0]),
            max_size=2**22,
        ) as ws:
            sub.ws = ws
            if subscribe is not None:
                await ws.send(json.dumps(subscribe))
            else:
                ready.set()
            async for raw in ws:
                if subscribe is not None and not ready.is_set():
                    if '"caught_up"' in raw:
                        ready.set()
                    continue
                stamp = stamp_of(raw)
                if stamp is not None:
                    sub.count += 1
                    sub.latencies.append(time.time() - stamp)

    readies = []
    for i, sub in enumerate(subs):
        ready = asyncio.Event()
        readies.append(ready)
        sub.task = asyncio.create_task(run(i, sub, ready))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    return subs


async def close_subscribers(subs: list[Subscriber]) -> None:
    for sub in subs:
        if sub.task is not None:
            sub.task.cancel()
    await asyncio.gather(*(s.task for s in subs if s.task), return_exceptions=True)


def summarise(
    variant: str, subs: list[Subscriber], messages: int, cpu: float, wall: float
) -> Result:
    latencies = sorted(x for s in subs for x in s.latencies)
    deliveries = sum(s.count for s in subs)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    return Result(
        variant=variant,
        subscribers=len(subs),
        messages=messages,
        deliveries=deliveries,
        expected=messages * len(subs),
        cpu_seconds=round(cpu, 3),
        wall_seconds=round(wall, 3),
        deliveries_per_cpu_second=round(deliveries / cpu, 1) if cpu else float("inf"),
        p50_ms=round(statistics.median(latencies) * 1000, 1) if latencies else float("nan"),
        p99_ms=round(p99 * 1000, 1),
    )


async def wait_delivered(subs: list[Subscriber], expected_each: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(s.count < expected_each for s in subs):
        await asyncio.sleep(0.05)


async def run_stock(args: argparse.Namespace, env: dict[str, str]) -> Result:
    from channels_redis.core import RedisChannelLayer

    port = free_port()
    server = start_daphne("bench.stock_asgi:application", env, port)
    layer = RedisChannelLayer(
        hosts=[{"address": args.redis_url}], prefix=f"{env['HUB_REDIS_PREFIX']}:asgi"
    )
    try:
        subs = await open_subscribers(
            args.subscribers,
            f"ws://127.0.0.1:{port}/ws/",
            lambda i: {},
            None,
            lambda raw: json.loads(raw).get("t"),
        )
        await asyncio.sleep(0.5)
        messages = int(args.rate * args.seconds)
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        for i in range(messages):
            await layer.group_send(
                "bench", {"type": "bench.message", "frame": {"t": time.time(), "i": i}}
            )
            await asyncio.sleep(1 / args.rate)
        await wait_delivered(subs, messages, 30)
        cpu, wall = cpu_seconds(server.pid) - cpu0, time.monotonic() - t0
        await close_subscribers(subs)
        return summarise("stock Channels (group_send per socket)", subs, messages, cpu, wall)
    finally:
        await layer.flush()
        server.terminate()
        server.wait(10)


async def run_hub(args: argparse.Namespace, env: dict[str, str], post_via: str) -> Result:
    run_dir = OUT / f"hub-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    with hub_database(args.database_url, run_dir) as database_url:
        return await run_hub_on(args, {**env, "DATABASE_URL": database_url}, post_via)


async def run_hub_on(args: argparse.Namespace, env: dict[str, str], post_via: str) -> Result:
    hub_env = dict(env)
    hub_env["HUB_WS_MAX_CONNECTIONS_PER_USER"] = "100000"
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo", "--quiet-logins"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=hub_env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_daphne("hub.asgi:application", hub_env, port)
    try:
        tokens = [
            post_json(f"{base}/api/v1/auth/token", {"username": u, "password": "border-demo-2026"})[
                "token"
            ]
            for u in READERS
        ]
        poster = tokens[READERS.index("zm-imm.duty")]
        listing = urllib.request.Request(  # noqa: S310
            f"{base}/api/v1/incidents?crossing_point=WEN",
            headers={"Authorization": f"Bearer {poster}"},
        )
        with urllib.request.urlopen(listing) as response:  # noqa: S310
            incident = json.load(response)["items"][0]
        stream, head = incident["stream"], incident["seq"]

        def stamp(raw: str) -> float | None:
            if '"message.posted"' not in raw:
                return None
            body = json.loads(raw)["payload"]["body"]
            return float(body.split(" ", 1)[0])

        subs = await open_subscribers(
            args.subscribers,
            f"ws://127.0.0.1:{port}/ws/",
            lambda i: {"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            {"type": "subscribe", "stream": stream, "after": head},
            stamp,
        )
        await asyncio.sleep(0.5)
        messages = int(args.rate * args.seconds)
        url = f"{base}/api/v1/incidents/{incident['ref']}/messages"
        ws_url = f"ws://127.0.0.1:{port}/ws/"
        async with connect(
            ws_url, additional_headers={"Authorization": f"Bearer {poster}"}, origin=Origin(base)
        ) as writer:
            await writer.recv()  # welcome
            cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
            for i in range(messages):
                body = f"{time.time()} bench message {i}"
                cmid = str(uuid.uuid4())
                if post_via == "ws":
                    await writer.send(
                        json.dumps(
                            {
                                "type": "message.send",
                                "stream": stream,
                                "client_msg_id": cmid,
                                "body": body,
                            }
                        )
                    )
                    while '"ack"' not in (await writer.recv()):
                        pass
                else:
                    await asyncio.to_thread(
                        post_json, url, {"body": body, "client_msg_id": cmid}, poster
                    )
                await asyncio.sleep(max(0.0, 1 / args.rate - 0.002))
            await wait_delivered(subs, messages, 30)
            cpu, wall = cpu_seconds(server.pid) - cpu0, time.monotonic() - t0
        await close_subscribers(subs)
        how = "WebSocket message.send" if post_via == "ws" else "REST POST"
        return summarise(f"hub, written by {how}", subs, messages, cpu, wall)
    finally:
        server.terminate()
        server.wait(10)


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a postgres:// URL to run the hub on PostgreSQL (a fresh database is created "
        "on that server and dropped after); default: DATABASE_URL, else a SQLite file",
    )
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        help="exit with status 1 when the hub/stock ratio (the lower of the two hub "
        "variants) is below this (default: off)",
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "HUB_ENV": "development",
        "DEBUG": "false",
        "REDIS_URL": args.redis_url,
        "HUB_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
        "HUB_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)  # the stock baseline needs none; the hub gets its own
    stock = await run_stock(args, env)
    hub_ws = await run_hub(args, env, "ws")
    hub_rest = await run_hub(args, env, "rest")
    print(
        f"{'variant':44} {'deliveries':>10} {'expected':>9} {'CPU s':>7} {'per CPU-s':>10} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}"
    )
    ratios = {}
    for r in (stock, hub_ws, hub_rest):
        ratios[r.variant] = round(r.deliveries_per_cpu_second / stock.deliveries_per_cpu_second, 2)
        print(
            f"{r.variant:44} {r.deliveries:>10} {r.expected:>9} {r.cpu_seconds:>7.2f} "
            f"{r.deliveries_per_cpu_second:>10.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} "
            f"{ratios[r.variant]:>5.1f}x"
        )
    print("ratio = deliveries per server CPU-second, against the stock baseline of this run")
    ratio = min(ratios[hub_ws.variant], ratios[hub_rest.variant])
    database = "PostgreSQL" if is_postgres(args.database_url) else "SQLite"
    print(f"hub/stock ratio: {ratio:.2f}x (the lower of the two hub variants; {database})")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fanout_ratio.json").write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if k != "database_url"},
                "database": database,
                "results": [asdict(r) for r in (stock, hub_ws, hub_rest)],
                "ratios": ratios,
                "ratio": ratio,
            },
            indent=2,
        )
    )
    incomplete = [r.variant for r in (stock, hub_ws, hub_rest) if r.deliveries < r.expected]
    if incomplete:
        print(f"warning: not every delivery arrived for: {', '.join(incomplete)}")
    if args.min_ratio is not None and ratio < args.min_ratio:
        print(f"FAIL: hub/stock ratio {ratio:.2f}x is below --min-ratio {args.min_ratio:g}x")
        return 1
    if args.min_ratio is not None:
        print(f"OK: hub/stock ratio {ratio:.2f}x >= --min-ratio {args.min_ratio:g}x")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
