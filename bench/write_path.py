"""Write path: messages persisted and acknowledged per second through the hub.

Two hub Daphne workers (``bench.harness.Hub``, settings ``bench.settings_bench``: the
production settings with only the per-connection WebSocket flood limit lifted) on a
fresh database. ``--streams`` incidents (default 50) are reported at WEN through the
service in setup. Each variant writes ``--messages`` messages as ``zm-imm.duty``:

- **WebSocket**: ``--ws-writers`` sockets (default 4, alternating workers), each with
  ``--in-flight`` ``message.send`` frames outstanding (default 8); a message counts
  when its ``ack`` arrives;
- **REST**: ``--rest-writers`` concurrent clients (default 8, keep-alive, alternating
  workers) each POSTing ``/api/v1/incidents/{ref}/messages`` and waiting for the 201;

on one stream, and spread over the 50 streams (message *i* to stream *i* mod 50).
Reported: messages/s, p50/p99 latency from send to ack, server CPU (both workers)
per message. After each variant the record is read back: every acknowledged message
must be in ``incidents_message`` exactly once, with its ``message.posted`` event at
the acknowledged seq.

Baseline in the same run, on the same database (run before and after the hub's
variants; the faster run is kept): the raw transaction with psycopg (or sqlite3)
alone, with ``--rest-writers`` threads each on its own connection: ``SELECT
… FROM events_stream WHERE id = … FOR UPDATE`` (SQLite: ``BEGIN IMMEDIATE``), INSERT
the message row, INSERT the event row with the next seq (and a sha256 of the previous
hash and the payload), UPDATE the stream's head, COMMIT. What the hub does in
addition, per message: it authenticates and re-reads the user/token (every WebSocket
frame; every REST request), loads the caller's access and the incident under a row
lock, checks permission and state, looks for and writes an idempotency receipt
(``events_writereceipt``), resolves mentions, validates the payload (pydantic), the
canonical form with a fresh salt and the chained hash, sets the message's seq
(a second UPDATE), encodes the ``event`` frame and publishes it to Redis after commit,
and answers in JSON.

    python -m bench.write_path                       # PostgreSQL and SQLite
    python -m bench.write_path --messages 300 --databases postgres

Writes var/bench/write_path.json and var/bench/write_path.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Origin

from bench import harness

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
BODY = (
    "Truck {i} cleared secondary inspection at the Zambian side; seals recorded, driver released."
)


# --- setup (in-process Django; the bench runs it in a child) ---------------------------


@dataclass
class Streams:
    """The incidents written to, and the ids the raw baseline needs."""

    refs: list[str]
    stream_ids: list[int]
    incident_ids: list[int]
    writer_id: int
    agency_id: int

    @property
    def names(self) -> list[str]:
        return [f"incident:{ref}" for ref in self.refs]


def setup_streams(username: str, count: int, crossing_point: str = "WEN") -> Streams:
    """Report ``count`` incidents at ``crossing_point`` through the service."""
    from datetime import timedelta

    from django.utils import timezone

    from hub.accounts.models import User
    from hub.agencies.models import Agency
    from hub.events.models import Stream
    from hub.incidents.services import incident_report

    actor = User.objects.get(username=username)
    refs, stream_ids, incident_ids = [], [], []
    for i in range(count):
        incident = incident_report(
            actor=actor,
            crossing_point=crossing_point,
            title=f"Write path bench {i}",
            category="other",
            severity="low",
            occurred_at=timezone.now() - timedelta(minutes=5),
        ).incident
        refs.append(str(incident.ref))
        incident_ids.append(incident.pk)
        stream_ids.append(Stream.objects.get(name=incident.stream_name).pk)
    agency = Agency.objects.get(code=username.split(".")[0].upper())
    return Streams(refs, stream_ids, incident_ids, actor.pk, agency.pk)


def child_setup(args: argparse.Namespace) -> int:
    import django

    django.setup()
    print(json.dumps(asdict(setup_streams(harness.WRITER, args.streams))))
    return 0


# --- the writers -------------------------------------------------------------------------


@dataclass
class WriteRun:
    variant: str
    streams: int
    sent: int
    acked: dict[str, tuple[str, int]] = field(
        default_factory=dict, repr=False
    )  # id -> (stream, seq)
    latencies: list[float] = field(default_factory=list, repr=False)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0


def plan(messages: int, names: Sequence[str]) -> list[tuple[str, str, str]]:
    """(client_msg_id, stream, body) for each message: message i goes to stream i mod n."""
    return [(str(uuid.uuid4()), names[i % len(names)], BODY.format(i=i)) for i in range(messages)]


async def ws_write(
    ws_urls: Sequence[str],
    origin_of: Callable[[str], str],
    token: str,
    work: list[tuple[str, str, str]],
    *,
    writers: int,
    in_flight: int,
    timeout: float = 120.0,
) -> WriteRun:
    """``writers`` sockets, each keeping ``in_flight`` ``message.send`` frames outstanding."""
    run = WriteRun("WebSocket message.send", 0, len(work))
    shares = [work[w::writers] for w in range(writers)]

    async def writer(w: int, share: list[tuple[str, str, str]]) -> None:
        url = ws_urls[w % len(ws_urls)]
        async with connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            origin=Origin(origin_of(url)),
            open_timeout=30,
        ) as ws:
            while json.loads(await asyncio.wait_for(ws.recv(), timeout))["type"] != "welcome":
                pass
            sent_at: dict[str, float] = {}
            window = asyncio.Semaphore(in_flight)
            done = asyncio.Event()
            remaining = len(share)

            async def reader() -> None:
                nonlocal remaining
                while remaining:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                    ref = frame.get("client_msg_id") or frame.get("ref")
                    if frame.get("type") == "ack":
                        run.acked[ref] = (frame["stream"], frame["seq"])
                    elif frame.get("type") == "error":
                        run.errors.append(f"{frame.get('code')}: {frame.get('detail')}")
                    else:
                        continue
                    if ref in sent_at:
                        run.latencies.append(time.perf_counter() - sent_at.pop(ref))
                        remaining -= 1
                        window.release()
                done.set()

            task = asyncio.create_task(reader())
            for cmid, stream, body in share:
                await window.acquire()
                sent_at[cmid] = time.perf_counter()
                await ws.send(
                    json.dumps(
                        {
                            "type": "message.send",
                            "stream": stream,
                            "client_msg_id": cmid,
                            "body": body,
                        }
                    )
                )
            if share:
                await asyncio.wait_for(done.wait(), timeout)
            await task

    await asyncio.gather(*(writer(w, s) for w, s in enumerate(shares)))
    return run


def rest_write(
    bases: Sequence[str], token: str, work: list[tuple[str, str, str]], *, writers: int
) -> WriteRun:
    """``writers`` threads, each POSTing its share over one keep-alive connection."""
    run = WriteRun("REST POST", 0, len(work))
    lock = threading.Lock()

    def writer(w: int) -> None:
        parts = urllib.parse.urlsplit(bases[w % len(bases)])
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            for cmid, stream, body in work[w::writers]:
                ref = stream.split(":", 1)[1]
                payload = json.dumps({"body": body, "client_msg_id": cmid})
                t0 = time.perf_counter()
                conn.request("POST", f"/api/v1/incidents/{ref}/messages", payload, headers)
                response = conn.getresponse()
                data = response.read()
                latency = time.perf_counter() - t0
                with lock:
                    if response.status in (200, 201):
                        run.acked[cmid] = (stream, json.loads(data)["seq"])
                        run.latencies.append(latency)
                    else:
                        run.errors.append(f"{response.status}: {data[:200]!r}")
        finally:
            conn.close()

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    return run


# --- reading the record back -------------------------------------------------------------


def connect_db(database_url: str) -> Any:
    if harness.is_postgres(database_url):
        import psycopg

        return psycopg.connect(database_url, autocommit=True)
    conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=60)
    conn.isolation_level = None  # autocommit; transactions are explicit
    return conn


def check_record(database_url: str, run: WriteRun) -> list[str]:
    """Problems with the acknowledged messages in the record (empty: each is there once)."""
    param = "%s" if harness.is_postgres(database_url) else "?"
    wanted = {uuid.UUID(k): v for k, v in run.acked.items()}
    conn = connect_db(database_url)
    try:
        rows = conn.execute(
            "SELECT m.client_msg_id, m.id, m.seq, i.ref FROM incidents_message m "
            "JOIN incidents_incident i ON i.id = m.incident_id"
        ).fetchall()
        found: Counter[uuid.UUID] = Counter()
        where: dict[uuid.UUID, tuple[int, str, int]] = {}
        for cmid, message_id, seq, ref in rows:
            key = cmid if isinstance(cmid, uuid.UUID) else uuid.UUID(str(cmid))
            if key in wanted:
                found[key] += 1
                where[key] = (message_id, f"incident:{ref}", seq)
        problems = [f"{k}: {n} rows" for k, n in found.items() if n != 1]
        problems += [f"{k}: acknowledged, not recorded" for k in wanted if k not in found]
        streams = sorted({stream for stream, _ in wanted.values()})
        events: dict[tuple[str, int], tuple[str, Any]] = {}
        for name in streams:
            for seq, kind, payload in conn.execute(
                (
                    "SELECT e.seq, e.kind, e.payload FROM events_event e "
                    "JOIN events_stream s ON s.id = e.stream_id WHERE s.name = ?"
                ).replace("?", param),
                (name,),
            ).fetchall():
                data = payload if isinstance(payload, dict) else json.loads(payload)
                events[(name, seq)] = (kind, data.get("message_id"))
    finally:
        conn.close()
    for key, (stream, seq) in wanted.items():
        if key not in where:
            continue
        message_id, recorded_stream, recorded_seq = where[key]
        if (recorded_stream, recorded_seq) != (stream, seq):
            problems.append(
                f"{key}: acked {stream}#{seq}, recorded {recorded_stream}#{recorded_seq}"
            )
        elif events.get((stream, seq)) != ("message.posted", message_id):
            problems.append(f"{key}: event {stream}#{seq} is {events.get((stream, seq))}")
    return problems


# --- the baseline ----------------------------------------------------------------------------


def raw_write(
    database_url: str, streams: Streams, work: list[tuple[str, str, str]], *, writers: int
) -> WriteRun:
    """The bare transaction per message with the driver alone, ``writers`` at once."""
    postgres = harness.is_postgres(database_url)
    param = "%s" if postgres else "?"
    ids = dict(
        zip(streams.names, zip(streams.stream_ids, streams.incident_ids, strict=True), strict=True)
    )
    run = WriteRun("raw transaction (driver alone)", 0, len(work))
    lock = threading.Lock()
    lock_sql = "SELECT last_seq, last_hash FROM events_stream WHERE id = ?"
    lock_sql = lock_sql.replace("?", "%s FOR UPDATE") if postgres else lock_sql
    message_sql = (
        "INSERT INTO incidents_message (incident_id, author_id, agency_id, body, mentions, "
        "client_msg_id, seq, created_at, edit_count, redaction_reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '') RETURNING id"
    ).replace("?", param)
    event_sql = (
        "INSERT INTO events_event (stream_id, seq, kind, actor_id, actor_agency_id, at, "
        "payload, prev_hash, hash, salt, form) "
        "VALUES (?, ?, 'message.posted', ?, ?, ?, ?, ?, ?, '', 3)"
    ).replace("?", param)
    head_sql = "UPDATE events_stream SET last_seq = ?, last_hash = ? WHERE id = ?".replace(
        "?", param
    )

    def writer(w: int) -> None:
        conn = connect_db(database_url)
        try:
            for cmid, stream, body in work[w::writers]:
                stream_id, incident_id = ids[stream]
                t0 = time.perf_counter()
                conn.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
                last_seq, last_hash = conn.execute(lock_sql, (stream_id,)).fetchone()
                seq = last_seq + 1
                now = datetime.now(UTC)
                at = now if postgres else now.isoformat()
                key = cmid if postgres else uuid.UUID(cmid).hex
                (message_id,) = conn.execute(
                    message_sql,
                    (incident_id, streams.writer_id, streams.agency_id, body, "[]", key, seq, at),
                ).fetchone()
                payload = json.dumps(
                    {"message_id": message_id, "body": body, "redacted": False, "mentions": []}
                )
                digest = hashlib.sha256((last_hash + payload).encode()).hexdigest()
                conn.execute(
                    event_sql,
                    (
                        stream_id,
                        seq,
                        streams.writer_id,
                        streams.agency_id,
                        at,
                        payload,
                        last_hash,
                        digest,
                    ),
                )
                conn.execute(head_sql, (seq, digest, stream_id))
                conn.execute("COMMIT")
                with lock:
                    run.acked[cmid] = (stream, seq)
                    run.latencies.append(time.perf_counter() - t0)
        finally:
            conn.close()

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    return run


# --- the parent -------------------------------------------------------------------------------


def timed(run_it: Callable[[], WriteRun], cpu: Callable[[], float] | None) -> WriteRun:
    cpu0 = cpu() if cpu else 0.0
    client0 = time.process_time()
    t0 = time.perf_counter()
    run = run_it()
    run.wall_s = time.perf_counter() - t0
    run.client_cpu_s = time.process_time() - client0
    run.server_cpu_s = (cpu() - cpu0) if cpu else 0.0
    return run


def row(database: str, run: WriteRun, raw: WriteRun | None) -> dict[str, Any]:
    latencies = sorted(run.latencies)
    n = len(run.acked)
    rate = n / run.wall_s if run.wall_s else 0.0
    raw_rate = len(raw.acked) / raw.wall_s if raw and raw.wall_s else None
    return {
        "database": database,
        "variant": run.variant,
        "streams": run.streams,
        "messages": n,
        "errors": len(run.errors),
        "first_errors": run.errors[:3],
        "per_s": round(rate, 1),
        "p50_ms": round(harness.percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(harness.percentile(latencies, 0.99) * 1000, 2),
        "server_cpu_ms_per_msg": round(run.server_cpu_s / n * 1000, 3) if n else None,
        "client_cpu_ms_per_msg": round(run.client_cpu_s / n * 1000, 3) if n else None,
        "ratio_to_raw": round(rate / raw_rate, 3) if raw_rate else None,
    }


def setup(env: dict[str, str], database_url: str, streams: int) -> Streams:
    done = subprocess.run(
        [sys.executable, "-m", "bench.write_path", "--setup-child", "--streams", str(streams)],
        cwd=harness.ROOT,
        env={**env, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"setup failed:\n{done.stderr[-3000:]}")
    return Streams(**json.loads(done.stdout.strip().splitlines()[-1]))


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"http://{parts.netloc}"


def run_database(args: argparse.Namespace, database: str) -> list[dict[str, Any]]:
    run_dir = harness.OUT / f"write_path-{uuid.uuid4().hex[:6]}"
    url_in = args.database_url if database == "postgres" else None
    rows: list[dict[str, Any]] = []
    with harness.hub_database(url_in, run_dir) as database_url:
        env = harness.bench_env(args.redis_url, DJANGO_SETTINGS_MODULE="bench.settings_bench")
        env_db = {**env, "DATABASE_URL": database_url}
        harness.seed_hub(env_db)
        streams = setup(env, database_url, args.streams)
        with harness.Hub(env_db, workers=args.workers) as hub:
            token = hub.token(harness.WRITER)
            ws_urls = [hub.ws(i) for i in range(args.workers)]
            bases = [hub.base(i) for i in range(args.workers)]
            # Warm-up: imports, connections, the pool's threads.
            warm = plan(20, streams.names[:1])
            asyncio.run(ws_write(ws_urls, origin_of, token, warm, writers=2, in_flight=2))
            rest_write(bases, token, plan(20, streams.names[:1]), writers=2)
            for count in (1, len(streams.names)):
                names = streams.names[:count]
                raw = timed(
                    lambda names=names: raw_write(  # type: ignore[misc]
                        database_url, streams, plan(args.messages, names), writers=args.rest_writers
                    ),
                    None,
                )
                raw.streams = count
                variants: list[WriteRun] = []
                ws = timed(
                    lambda names=names: asyncio.run(  # type: ignore[misc]
                        ws_write(
                            ws_urls,
                            origin_of,
                            token,
                            plan(args.messages, names),
                            writers=args.ws_writers,
                            in_flight=args.in_flight,
                        )
                    ),
                    hub.cpu,
                )
                ws.variant += f" ({args.ws_writers} sockets × {args.in_flight} in flight)"
                variants.append(ws)
                rest = timed(
                    lambda names=names: rest_write(  # type: ignore[misc]
                        bases, token, plan(args.messages, names), writers=args.rest_writers
                    ),
                    hub.cpu,
                )
                rest.variant += f" ({args.rest_writers} clients)"
                variants.append(rest)
                # The raw transaction again after the hub's variants: on a shared machine
                # one short run can land in a busy moment; the faster of the two is kept
                # (the conservative choice for the hub's ratio). Both are checked.
                raw_after = timed(
                    lambda names=names: raw_write(  # type: ignore[misc]
                        database_url, streams, plan(args.messages, names), writers=args.rest_writers
                    ),
                    None,
                )
                for run in (*variants, raw, raw_after):
                    run.streams = count
                    problems = check_record(database_url, run)
                    if problems or run.errors:
                        raise SystemExit(
                            f"{database} {run.variant}: {problems[:5]} {run.errors[:5]}"
                        )
                if raw_after.wall_s < raw.wall_s:
                    raw = raw_after
                raw.variant += f" ({args.rest_writers} connections, faster of 2 runs)"
                for run in (*variants, raw):
                    rows.append(row(database, run, None if run is raw else raw))
                    print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def report(rows: list[dict[str, Any]], command: str) -> str:
    headers = [
        "database",
        "streams",
        "variant",
        "messages",
        "messages/s",
        "p50 ms",
        "p99 ms",
        "server CPU ms/msg",
        "hub ÷ raw",
    ]
    table_rows = [
        [
            r["database"],
            r["streams"],
            r["variant"],
            r["messages"],
            r["per_s"],
            r["p50_ms"],
            r["p99_ms"],
            r["server_cpu_ms_per_msg"] if r["server_cpu_ms_per_msg"] else "-",
            f"{r['ratio_to_raw']:.0%}" if r["ratio_to_raw"] is not None else "-",
        ]
        for r in rows
    ]
    lines = [
        "## Write path (`bench/write_path.py`)",
        "",
        f"**Command:** `{command}`",
        "",
        "Messages persisted and acknowledged per second by two hub workers, and the raw "
        "transaction (lock the stream row, insert the message and the event, move the "
        "head, commit) with the driver alone on the same database, in the same run. "
        "Latency is from send to `ack`/201. Server CPU is both workers' (the raw rows: "
        "none measured; the database server's CPU is in neither). Every acknowledged "
        "message was checked in the record: exactly once, with its event at its seq.",
        "",
        harness.markdown_table(headers, table_rows),
        "",
    ]
    for r in rows:
        if r["streams"] == 1 and r["ratio_to_raw"] is not None:
            verdict = "met" if r["ratio_to_raw"] >= 0.25 else "missed"
            lines.append(
                f"- Goal (one stream ≥ 25% of raw), {r['database']}, {r['variant']}: "
                f"{verdict} ({r['ratio_to_raw']:.0%})."
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000, help="per variant")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--ws-writers", type=int, default=4)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--rest-writers", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--databases", default="postgres,sqlite")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_PG)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or harness.DEFAULT_REDIS)
    parser.add_argument("--setup-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup_child:
        return child_setup(args)
    command = ("python -m bench.write_path " + " ".join(sys.argv[1:])).strip()
    rows = [r for d in args.databases.split(",") for r in run_database(args, d)]
    markdown = report(rows, command)
    harness.write_report(
        "write_path",
        {"versions": harness.versions(args.database_url), "command": command, "rows": rows},
        markdown,
    )
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
