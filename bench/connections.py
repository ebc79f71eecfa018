"""Connections: server memory per idle socket, and the time to connect them all.

For each server, two processes on 127.0.0.1 sharing one Redis, with ``--sockets``
idle sockets split evenly over them:

- **hub**: ``hub.asgi`` (two Daphne workers) on a fresh database; each socket is a
  demo officer's (bearer token, 15 officers of five agencies taking turns) and
  subscribes to the shared WEN incident's stream, as an officer's open incident room
  does: it is ready at ``caught_up``. (Joining also sends ``presence`` frames to every
  subscriber of the stream, which the clients read.) ``--variants`` may add
  ``hub-unsubscribed``: the same officers' sockets, authenticated but subscribed to
  nothing (ready once open), to tell a socket's cost from its subscription's.
- **stock Channels**: bench/stock_asgi.py under two Daphne workers; each socket joins
  the group (ready once open).
- **ceiling**: bench/ceiling_server.py, two processes (ready once open).

Memory per socket is (resident memory of both server processes after the sockets are
open and settled − before) ÷ sockets ready, in KiB. "Before" is measured after a warm-up of
a few sockets that opened and closed, so first-use allocations are not charged to the
sockets. Times are from the first handshake to the last socket open, and to the last
``caught_up``. Clients run in ``--clients`` subprocesses (bench/fanout.py's pool).

    python -m bench.connections                    # 5,000 sockets (about 2-3 min)
    python -m bench.connections --sockets 500      # a quick look

Raises this process's open-file limit (inherited by the servers) to fit. Needs Redis;
the hub's database is a fresh SQLite file or, with ``--database-url``/DATABASE_URL, a
fresh PostgreSQL database. Writes var/bench/connections.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench import harness
from bench.fanout import (
    HUB_SETTINGS,
    LABELS,
    TOKENS,
    ClientPool,
    Servers,
    SubSpec,
    hub_specs,
    plain_specs,
    start_ceiling,
    start_stock,
)
from bench.harness import (
    OUT,
    Hub,
    bench_env,
    hub_database,
    is_postgres,
    markdown_table,
    raise_fd_limit,
    seed_hub,
    versions,
    write_report,
)

VARIANTS = ("hub", "hub-unsubscribed", "stock", "ceiling")
DEFAULT_VARIANTS = ("hub", "stock", "ceiling")
CONN_LABELS = {"hub": "hub (subscribed)", "hub-unsubscribed": "hub (not subscribed)"}
WARM_UP = 20  # sockets opened and closed before "before" is read
SETTLE = 2.0  # seconds after the last socket is ready before "after" is read


@dataclass
class ConnRow:
    variant: str
    sockets: int
    ready: int
    errors: int
    rss_before_kib: int
    rss_after_kib: int
    kib_per_socket: float
    connect_s: float
    ready_s: float
    server_cpu_s: float


def unsubscribed(make: Callable[[int], list[SubSpec]], n: int) -> list[SubSpec]:
    return [replace(spec, subscribe=None) for spec in make(n)]


async def measure_one(
    variant: str,
    make_specs: Callable[[int], list[SubSpec]],
    kind: str,
    rss: Callable[[], int],
    cpu: Callable[[], float],
    sockets: int,
    clients: int,
) -> ConnRow:
    warm = ClientPool(make_specs(WARM_UP), kind, 1)
    await asyncio.to_thread(warm.wait_open)
    await asyncio.to_thread(warm.close)
    await asyncio.sleep(SETTLE)
    before, cpu0 = rss(), cpu()
    pool = ClientPool(make_specs(sockets), kind, clients)
    try:
        opened = await asyncio.to_thread(pool.wait_open)
        await asyncio.sleep(SETTLE)
        after, used = rss(), cpu() - cpu0
    finally:
        await asyncio.to_thread(pool.close)
    row = ConnRow(
        variant=variant,
        sockets=sockets,
        ready=opened.ready,
        errors=len(opened.errors),
        rss_before_kib=before,
        rss_after_kib=after,
        kib_per_socket=round((after - before) / max(1, opened.ready), 1),
        connect_s=round(opened.all_open - opened.started, 2),
        ready_s=round(opened.all_ready - opened.started, 2),
        server_cpu_s=round(used, 2),
    )
    print(
        f"  {variant:8} {row.ready}/{sockets} ready; {row.kib_per_socket} KiB/socket; "
        f"open in {row.connect_s} s, ready in {row.ready_s} s"
        + (f"; errors e.g. {opened.errors[:2]}" if opened.errors else ""),
        flush=True,
    )
    return row


async def measure(
    variants: Sequence[str],
    sockets: int,
    clients: int,
    hub_env: dict[str, str],
    base_env: dict[str, str],
) -> list[ConnRow]:
    rows: list[ConnRow] = []
    for variant in ("hub", "hub-unsubscribed"):
        if variant not in variants:
            continue
        tokens = TOKENS.setdefault(hub_env["DATABASE_URL"], {})
        with Hub(hub_env, workers=2, tokens=tokens) as hub:
            incident = hub.shared_incident()
            made = functools.partial(
                hub_specs, hub, stream=incident["stream"], after=incident["seq"]
            )
            if variant == "hub-unsubscribed":
                made = functools.partial(unsubscribed, made)
            rows.append(
                await measure_one(variant, made, "hub", hub.rss_kib, hub.cpu, sockets, clients)
            )
    for variant, start in (("stock", start_stock), ("ceiling", start_ceiling)):
        if variant not in variants:
            continue
        servers: Servers = start(base_env)
        try:
            rows.append(
                await measure_one(
                    variant,
                    functools.partial(plain_specs, servers.ports),
                    "plain",
                    servers.rss_kib,
                    servers.cpu,
                    sockets,
                    clients,
                )
            )
        finally:
            servers.stop()
    return rows


def render(rows: Sequence[ConnRow], info: dict[str, str], command: str, database: str) -> str:
    table = markdown_table(
        [
            "server",
            "sockets",
            "ready",
            "RSS before KiB",
            "RSS after KiB",
            "KiB per socket",
            "all open s",
            "all ready s",
            "server CPU s",
        ],
        [
            [
                CONN_LABELS.get(r.variant) or LABELS.get(r.variant, r.variant),
                r.sockets,
                r.ready,
                r.rss_before_kib,
                r.rss_after_kib,
                r.kib_per_socket,
                r.connect_s,
                r.ready_s,
                r.server_cpu_s,
            ]
            for r in rows
        ],
    )
    return "\n".join(
        [
            "# Connections: idle sockets over two server processes",
            "",
            f"**Command:** `{command}` ({database})  ",
            "**Versions:** " + ", ".join(f"{k} {v}" for k, v in info.items()),
            "",
            table,
            "",
            "RSS is both server processes' VmRSS; per socket = (after − before) ÷ sockets ready. "
            "Hub sockets are authenticated demo officers subscribed to one incident stream; "
            "ready = `caught_up` (hub) or open (baselines).",
        ]
    )


async def main_async(args: argparse.Namespace) -> int:
    variants = [v for v in args.variants.split(",") if v]
    limit = raise_fd_limit(2 * args.sockets + 1024)
    if limit < args.sockets + 256:
        print(f"open-file limit {limit} is too low for {args.sockets} sockets")
        return 2
    estimate = 60 + len(variants) * (10 + args.sockets / 100)
    print(
        f"connections: {args.sockets} sockets per server, variants {variants}; "
        f"open files {limit}; estimated {estimate / 60:.1f} min",
        flush=True,
    )
    started = time.monotonic()
    base_env = bench_env(args.redis_url)
    database = "PostgreSQL" if is_postgres(args.database_url) else "SQLite"
    with hub_database(args.database_url, OUT / f"connections-{uuid.uuid4().hex[:6]}") as url:
        hub_env = {
            **bench_env(args.redis_url, DJANGO_SETTINGS_MODULE=HUB_SETTINGS),
            "DATABASE_URL": url,
        }
        if {"hub", "hub-unsubscribed"} & set(variants):
            seed_hub(hub_env)
        rows = await measure(variants, args.sockets, args.clients, hub_env, base_env)
    info = versions(args.database_url)
    command = ("python -m bench.connections " + " ".join(sys.argv[1:])).strip()
    markdown = render(rows, info, command, database)
    data: dict[str, Any] = {
        "command": command,
        "database": database,
        "versions": info,
        "rows": [asdict(r) for r in rows],
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    json_path, md_path = write_report("connections", data, markdown)
    print()
    print(markdown)
    print(f"\n{time.monotonic() - started:.0f} s; wrote {json_path} and {md_path}")
    return 0 if all(r.ready == r.sockets for r in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help=f"comma-separated, of {', '.join(VARIANTS)}",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", harness.DEFAULT_REDIS))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
