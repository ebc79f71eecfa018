"""Resume: a client that missed 1,000, 10,000 and 100,000 events on one stream.

The backlog is one incident stream (a new incident at WEN, reported through the
service) holding ``max(--missed)`` messages. The first ``--via-services`` messages are posted
through the hub's own service (``hub.incidents.services.message_post``: receipt,
authorization, message row, ``emit``), in-process against the bench database; the
rest go through a bulk path that writes the same rows (message, ``message.posted``
event, write receipt) with the same canonical form and hash chain
(``hub.events.chain``), 2,000 to a transaction. ``hub.events.audit.verify_stream``
then checks the whole chain. Both rates are reported.

Then two hub Daphne workers (``bench.harness.Hub``) serve it, and for each size a
client (alternating workers) connects, sends ``subscribe {after: head - missed}`` and
reads until ``caught_up``. Up to ``RESYNC_THRESHOLD`` (5,000) missed events this is
the WebSocket replay; beyond, the server answers ``resync_required`` and the client
does what ``hub.realtime.client`` does: it fetches the missing events over REST
(``GET /api/v1/streams/{stream}/events?after=…&limit=500``, one keep-alive
connection), then subscribes again from the head and waits for ``caught_up``. The
time until the client holds the state is connect → that ``caught_up``. The snapshot
alternative (``GET /api/v1/incidents/{ref}``) is timed too. Each received seq is
checked: every event exactly once, in order. Server CPU is user + system of both
workers over the resume.

Baseline in the same run: the raw read of the same events with psycopg (or sqlite3)
alone, ``SELECT … FROM events_event WHERE stream_id = … AND seq > … ORDER BY seq``,
its wall time and its client CPU.

    python -m bench.resume                                   # PostgreSQL and SQLite
    python -m bench.resume --missed 1000,10000 --repeats 3 --databases sqlite

Writes var/bench/resume.json and var/bench/resume.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Origin

from bench import harness

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
BATCH = 2000
PAGE = 2000  # what hub.realtime.client asks for (the API's maximum, MAX_PAGE)


# --- building the backlog (in-process Django; the bench runs it in a child) ----------


def new_incident(username: str, crossing_point: str = "WEN", title: str = "Resume bench") -> str:
    """Report a fresh incident through the service, as ``username``; returns its ref."""
    from datetime import timedelta

    from django.utils import timezone

    from hub.accounts.models import User
    from hub.incidents.services import incident_report

    result = incident_report(
        actor=User.objects.get(username=username),
        crossing_point=crossing_point,
        title=title,
        category="other",
        severity="low",
        occurred_at=timezone.now() - timedelta(minutes=5),
        description="Traffic for a benchmark.",
    )
    return str(result.incident.ref)


def body_for(i: int) -> str:
    return (
        f"Update {i}: queue at the pedestrian lane moving, truck {1000 + i % 900} cleared "
        "secondary inspection, seals checked and recorded."
    )


def build_backlog(ref: str, username: str, count: int, via_services: int) -> dict[str, Any]:
    """Append ``count`` messages to incident ``ref``'s stream as ``username``.

    The first ``via_services`` through ``message_post``; the rest in bulk, with the
    same rows and the same hash chain. Returns the head and how long each part took.
    """
    from django.db import transaction
    from django.utils import timezone

    from hub.accounts.models import User
    from hub.agencies.models import Agency
    from hub.events.audit import verify_stream
    from hub.events.chain import FORM_DIGEST, canonical_bytes, chain_hash, new_salt
    from hub.events.idempotency import fingerprint
    from hub.events.models import Event, Stream, WriteReceipt
    from hub.events.types import MessagePosted
    from hub.incidents.models import Incident, Message
    from hub.incidents.services import message_post

    actor = User.objects.get(username=username)
    agency = Agency.objects.get(code=username.split(".")[0].upper())
    incident = Incident.objects.get(ref=ref)
    name = incident.stream_name
    services = min(count, via_services)
    start = time.perf_counter()
    for i in range(services):
        message_post(actor=actor, ref=ref, body=body_for(i), client_msg_id=uuid.uuid4())
    services_s = time.perf_counter() - start

    start = time.perf_counter()
    done = services
    while done < count:
        n = min(BATCH, count - done)
        with transaction.atomic():
            stream = Stream.objects.select_for_update().get(name=name)
            seq, last = stream.last_seq, stream.last_hash
            now = timezone.now()
            messages = [
                Message(
                    incident=incident,
                    author=actor,
                    agency=agency,
                    body=body_for(done + k),
                    mentions=[],
                    client_msg_id=uuid.uuid4(),
                    seq=seq + 1 + k,
                    created_at=now,
                )
                for k in range(n)
            ]
            Message.objects.bulk_create(messages)
            events, receipts = [], []
            for message in messages:
                seq += 1
                data = MessagePosted(message_id=message.pk, body=message.body).model_dump(
                    mode="json"
                )
                salt = new_salt()
                digest = chain_hash(
                    last,
                    canonical_bytes(
                        form=FORM_DIGEST,
                        stream=name,
                        seq=seq,
                        kind=MessagePosted.KIND,
                        actor_id=actor.pk,
                        agency_id=agency.pk,
                        at=now,
                        payload=data,
                        salt=salt,
                    ),
                )
                events.append(
                    Event(
                        stream=stream,
                        seq=seq,
                        kind=MessagePosted.KIND,
                        actor=actor,
                        actor_agency=agency,
                        at=now,
                        payload=data,
                        prev_hash=last,
                        hash=digest,
                        salt=salt,
                        form=FORM_DIGEST,
                    )
                )
                receipts.append(
                    WriteReceipt(
                        actor=actor,
                        client_msg_id=message.client_msg_id,
                        action="message.post",
                        fingerprint=fingerprint(
                            "message.post", {"ref": ref, "body": message.body, "agency": None}
                        ),
                        stream=name,
                        seq=seq,
                        object_id=str(message.pk),
                    )
                )
                last = digest
            Event.objects.bulk_create(events)
            WriteReceipt.objects.bulk_create(receipts)
            Stream.objects.filter(pk=stream.pk).update(last_seq=seq, last_hash=last)
        done += n
    bulk_s = time.perf_counter() - start

    start = time.perf_counter()
    stream = Stream.objects.get(name=name)
    checked, broken = verify_stream(stream)
    verify_s = time.perf_counter() - start
    if broken is not None:
        raise RuntimeError(f"{name}: the chain is broken: {broken}")
    return {
        "ref": ref,
        "stream": name,
        "stream_id": stream.pk,
        "head": stream.last_seq,
        "via_services": services,
        "services_s": round(services_s, 3),
        "services_per_s": round(services / services_s, 1) if services else None,
        "bulk": count - services,
        "bulk_s": round(bulk_s, 3),
        "bulk_per_s": round((count - services) / bulk_s, 1) if count > services else None,
        "verified_events": checked,
        "verify_s": round(verify_s, 3),
    }


def child_build(args: argparse.Namespace) -> int:
    import django

    django.setup()
    ref = new_incident(harness.WRITER)
    print(json.dumps(build_backlog(ref, harness.WRITER, args.events, args.via_services)))
    return 0


# --- the client ------------------------------------------------------------------------


@dataclass
class ResumeRun:
    missed: int
    path: str  # "replay" or "resync + REST"
    connect_to_caught_up_s: float
    subscribe_to_caught_up_s: float
    events_ws: int
    events_rest: int
    in_order_once: bool
    server_cpu_s: float
    seqs: list[int] = field(default_factory=list, repr=False)


def fetch_page(conn: http.client.HTTPConnection, token: str, stream: str, after: int) -> Any:
    path = urllib.parse.quote(stream, safe=":")
    conn.request(
        "GET",
        f"/api/v1/streams/{path}/events?after={after}&limit={PAGE}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET events after {after}: {response.status} {body[:200]!r}")
    return json.loads(body)


async def resume_once(
    ws_url: str,
    rest_base: str,
    token: str,
    stream: str,
    after: int,
    *,
    cpu: Any = None,
    keep_seqs: bool = False,
    timeout: float = 600.0,
) -> ResumeRun:
    """Connect, subscribe from ``after`` and read until ``caught_up`` (via REST if told).

    ``cpu`` is a callable returning the server's CPU seconds so far (or None).
    """
    cpu0 = cpu() if cpu else 0.0
    parts = urllib.parse.urlsplit(rest_base)
    origin = f"{parts.scheme}://{parts.netloc}"
    seqs: list[int] = []
    last = after
    ok = True
    ws_events = rest_events = 0
    path = "replay"
    t0 = time.perf_counter()
    async with connect(
        ws_url,
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=Origin(origin),
        max_size=2**24,
        open_timeout=30,
    ) as ws:
        while True:  # welcome (and pending_alerts) come first
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if frame["type"] == "welcome":
                break
        t_sub = time.perf_counter()
        await ws.send(json.dumps({"type": "subscribe", "stream": stream, "after": after}))
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout)
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "event" and frame.get("stream") == stream:
                seq = frame["seq"]
                if seq <= last:
                    ok = False  # a duplicate: the guarantee says never
                    continue
                ok = ok and seq == last + 1
                last = seq
                ws_events += 1
                if keep_seqs:
                    seqs.append(seq)
            elif kind == "caught_up" and frame.get("stream") == stream:
                break
            elif kind == "resync_required" and frame.get("stream") == stream:
                path = "resync + REST"
                head = int(frame["head"])
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
                try:
                    while last < head:
                        # Off the event loop (as hub.realtime.client does), so the
                        # socket keeps answering the server's pings meanwhile.
                        page = await asyncio.to_thread(fetch_page, conn, token, stream, last)
                        for event in page["events"]:
                            seq = event["seq"]
                            if seq <= last:
                                ok = False
                                continue
                            ok = ok and seq == last + 1
                            last = seq
                            rest_events += 1
                            if keep_seqs:
                                seqs.append(seq)
                        if page.get("next_after") is None:
                            break
                finally:
                    conn.close()
                await ws.send(json.dumps({"type": "subscribe", "stream": stream, "after": last}))
            elif kind == "error":
                raise RuntimeError(f"error frame: {frame}")
        t1 = time.perf_counter()
    return ResumeRun(
        missed=0,
        path=path,
        connect_to_caught_up_s=t1 - t0,
        subscribe_to_caught_up_s=t1 - t_sub,
        events_ws=ws_events,
        events_rest=rest_events,
        in_order_once=ok,
        server_cpu_s=(cpu() - cpu0) if cpu else 0.0,
        seqs=seqs,
    )


def snapshot_once(rest_base: str, token: str, ref: str) -> float:
    """The snapshot alternative: ``GET /api/v1/incidents/{ref}`` (carries its seq)."""
    t0 = time.perf_counter()
    data = harness.get_json(f"{rest_base}/api/v1/incidents/{ref}", token)
    if "seq" not in data:
        raise RuntimeError(f"incident snapshot without seq: {sorted(data)}")
    return time.perf_counter() - t0


# --- the baseline ------------------------------------------------------------------------


def raw_read(database_url: str, stream_id: int, after: int) -> tuple[float, float, int]:
    """(wall s, client CPU s, rows) of reading the same events with the driver alone."""
    sql = (
        "SELECT seq, kind, at, actor_id, actor_agency_id, payload FROM events_event "
        "WHERE stream_id = {p} AND seq > {p} ORDER BY seq"
    )
    if harness.is_postgres(database_url):
        import psycopg

        with psycopg.connect(database_url) as conn:
            c0, t0 = time.process_time(), time.perf_counter()
            rows = conn.execute(sql.format(p="%s"), (stream_id, after)).fetchall()
            return time.perf_counter() - t0, time.process_time() - c0, len(rows)
    path = database_url.removeprefix("sqlite:///")
    lite = sqlite3.connect(path)
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        rows = lite.execute(sql.format(p="?"), (stream_id, after)).fetchall()
        # sqlite3 returns the JSON as text; decode it as psycopg's jsonb does.
        for row in rows:
            json.loads(row[5])
        return time.perf_counter() - t0, time.process_time() - c0, len(rows)
    finally:
        lite.close()


# --- the parent ----------------------------------------------------------------------------


def build(env: dict[str, str], database_url: str, events: int, via_services: int) -> Any:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.resume",
            "--build-child",
            "--events",
            str(events),
            "--via-services",
            str(via_services),
        ],
        cwd=harness.ROOT,
        env={**env, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"building the backlog failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_database(args: argparse.Namespace, database: str, sizes: list[int]) -> dict[str, Any]:
    run_dir = harness.OUT / f"resume-{uuid.uuid4().hex[:6]}"
    url_in = args.database_url if database == "postgres" else None
    with harness.hub_database(url_in, run_dir) as database_url:
        env = harness.bench_env(args.redis_url)
        env_db = {**env, "DATABASE_URL": database_url}
        harness.seed_hub(env_db)
        backlog = build(env, database_url, max(sizes), args.via_services)
        print(f"{database}: backlog {backlog}", file=sys.stderr)
        head, stream, stream_id = backlog["head"], backlog["stream"], backlog["stream_id"]
        rows: list[dict[str, Any]] = []
        with harness.Hub(env_db, workers=args.workers) as hub:
            token = hub.token(harness.WRITER)
            snapshots = [snapshot_once(hub.base(i), token, backlog["ref"]) for i in range(3)]
            for missed in sizes:
                runs: list[ResumeRun] = []
                raws: list[tuple[float, float, int]] = []
                # One warm-up at the smallest size (imports, connections, caches).
                asyncio.run(resume_once(hub.ws(0), hub.base(0), token, stream, head - 10))
                # Above 10,000 missed events a resume takes tens of seconds: once is enough.
                for r in range(args.repeats if missed <= 10_000 else 1):
                    run = asyncio.run(
                        resume_once(
                            hub.ws(r),
                            hub.base(r),
                            token,
                            stream,
                            head - missed,
                            cpu=hub.cpu,
                        )
                    )
                    run.missed = missed
                    if run.events_ws + run.events_rest != missed or not run.in_order_once:
                        raise SystemExit(f"{database} {missed}: wrong events: {run}")
                    runs.append(run)
                    raws.append(raw_read(database_url, stream_id, head - missed))
                rows.append(summarise(database, missed, runs, raws))
                print(json.dumps(rows[-1]), file=sys.stderr)
        return {
            "database": database,
            "backlog": backlog,
            "snapshot_ms": round(statistics.median(snapshots) * 1000, 1),
            "rows": rows,
        }


def summarise(
    database: str, missed: int, runs: list[ResumeRun], raws: list[tuple[float, float, int]]
) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    hub_s = med([r.connect_to_caught_up_s for r in runs])
    raw_s = med([w for w, _, _ in raws])
    hub_cpu = med([r.server_cpu_s for r in runs])
    raw_cpu = med([c for _, c, _ in raws])
    return {
        "database": database,
        "missed": missed,
        "path": runs[0].path,
        "repeats": len(runs),
        "connect_to_caught_up_ms": round(hub_s * 1000, 1),
        "subscribe_to_caught_up_ms": round(
            med([r.subscribe_to_caught_up_s for r in runs]) * 1000, 1
        ),
        "events_ws": runs[0].events_ws,
        "events_rest": runs[0].events_rest,
        "server_cpu_s": round(hub_cpu, 3),
        "raw_read_ms": round(raw_s * 1000, 1),
        "raw_cpu_s": round(raw_cpu, 3),
        "time_ratio": round(hub_s / raw_s, 1) if raw_s else None,
        "cpu_ratio": round(hub_cpu / raw_cpu, 1) if raw_cpu else None,
        "goal_10k_under_1s": (hub_s < 1.0) if missed == 10_000 else None,
        "all_runs_ms": [round(r.connect_to_caught_up_s * 1000, 1) for r in runs],
    }


def report(results: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    headers = [
        "database",
        "missed",
        "path",
        "connect→caught_up ms",
        "subscribe→caught_up ms",
        "events WS / REST",
        "server CPU s (2 workers)",
        "raw read ms",
        "raw CPU s",
        "time ÷ raw",
        "CPU ÷ raw",
    ]
    table_rows = [
        [
            r["database"],
            r["missed"],
            r["path"],
            r["connect_to_caught_up_ms"],
            r["subscribe_to_caught_up_ms"],
            f"{r['events_ws']:,} / {r['events_rest']:,}",
            r["server_cpu_s"],
            r["raw_read_ms"],
            r["raw_cpu_s"],
            r["time_ratio"],
            r["cpu_ratio"],
        ]
        for result in results
        for r in result["rows"]
    ]
    lines = [
        "## Resume after missed events (`bench/resume.py`)",
        "",
        f"**Command:** `{command}`",
        "",
        f"Medians of {args.repeats} resumes per size (one above 10,000 missed events), "
        f"{args.workers} hub workers, client "
        "alternating between them. Above 5,000 missed events the server answers "
        "`resync_required` and the client fetches the events over REST "
        f"({PAGE:,} a page) and "
        "subscribes again; the time runs from connect to the final `caught_up`. Every "
        "event was received exactly once and in order. Raw read: the same rows with the "
        "driver alone (one SELECT), its client CPU; the hub's CPU is its two workers'.",
        "",
        harness.markdown_table(headers, table_rows),
        "",
    ]
    for result in results:
        b = result["backlog"]
        lines.append(
            f"- {result['database']}: stream of {b['head']:,} events; "
            f"{b['via_services']:,} posted through `message_post` "
            f"({b['services_per_s'] or 0:,.0f}/s), {b['bulk']:,} by the bulk path "
            f"({b['bulk_per_s'] or 0:,.0f}/s, same rows and chain); `verify_stream` "
            f"checked {b['verified_events']:,} events in {b['verify_s']:.1f} s. "
            f"Snapshot `GET /api/v1/incidents/{{ref}}`: {result['snapshot_ms']} ms."
        )
    ten = [r for result in results for r in result["rows"] if r["missed"] == 10_000]
    for r in ten:
        verdict = "met" if r["goal_10k_under_1s"] else "missed"
        lines.append(
            f"- Goal (10,000 missed in under 1 s), {r['database']}: {verdict} "
            f"({r['connect_to_caught_up_ms']:,.0f} ms)."
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--missed", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--databases", default="postgres,sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--via-services",
        type=int,
        default=1000,
        help="messages posted through message_post before the bulk path (default 1000)",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_PG)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or harness.DEFAULT_REDIS)
    parser.add_argument("--build-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_child:
        return child_build(args)
    sizes = sorted(int(s) for s in args.missed.split(","))
    command = "python -m bench.resume " + " ".join(sys.argv[1:])
    results = [run_database(args, d, sizes) for d in args.databases.split(",")]
    markdown = report(results, args, command.strip())
    harness.write_report(
        "resume",
        {"versions": harness.versions(args.database_url), "command": command, "results": results},
        markdown,
    )
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
