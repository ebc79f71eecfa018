"""Review and search over a big record: p50/p95 of a filtered timeline page and of a
search, on SQLite and PostgreSQL, each against a baseline measured in the same run.

The record (built once per database, in bulk, with a valid hash chain):

- one incident at WDH with ``--big-events`` events (default 80,000), of which one
  in eight is a message (10,000 messages from three agencies); the rest are task
  changes, operation progress (automatic), alert acknowledgements and status
  changes, spread over 30 days;
- ``--small-incidents`` more incidents (default 400) with 50 events each, half of
  them messages (another 10,000): 100,000 events and 20,000 messages in all;
- a passport number written in two messages at WDH and in an incident's
  description at WVB (the search a trafficking case needs), and a vessel's name in
  many messages (a common word: the search reads only its first page).

What is measured, through the real request path (Django's test client, signed in
as NA-IMM's senior official; views, authorization, filters and JSON included):

- **review page**: ``GET /streams/incident:<BIG>/events`` filtered to messages of
  one agency, 50 rows, at random positions, paging backward (``before``) and
  forward (``after``); and the same with free text. Baseline: the unfiltered page
  (``after`` only, 50 rows), the stream's plain keyset read.
- **search**: ``GET /search`` for the passport number (3 hits), the vessel name
  (thousands: one page), and a two-word query. Baseline: the substring scan the
  search used before full-text indexing (``icontains`` over current message
  bodies and incident titles and descriptions, over the readable incidents, newest
  first, one page), run through the ORM on the same data.

    python -m bench.review_search                       # SQLite and PostgreSQL
    python -m bench.review_search --databases sqlite --requests 50

PostgreSQL is ``--database-url``/``DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/postgres): a fresh database is created for the
run and dropped after it. Prints a Markdown table and writes
var/bench/review_search.json. Timings are noisy on a shared machine: compare the
ratios, and the p95 against the targets (review page ≤ 10 ms, search ≤ 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "var" / "bench"
PASSPORT = "P7731904"
VESSEL = "Ondjaba"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


# --- the parent: one child process per database -----------------------------------------


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new, empty database on ``url``'s server for one run; dropped afterwards."""
    import psycopg

    name = f"hub_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_child(args: argparse.Namespace, database: str, url: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "HUB_ENV": "development",
        "REDIS_URL": "",
    }
    cmd = [
        sys.executable,
        "-m",
        "bench.review_search",
        "--child",
        database,
        "--big-events",
        str(args.big_events),
        "--small-incidents",
        str(args.small_incidents),
        "--requests",
        str(args.requests),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{database}: the benchmark failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | measurement | p50 ms | p95 ms | baseline p95 ms | p95 / baseline p95 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, m in r["measurements"].items():
            base = r["baselines"][m["baseline"]]
            lines.append(
                f"| {r['database']} | {name} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} | "
                f"{base['p95_ms']:.2f} ({m['baseline']}) | {m['p95_ms'] / base['p95_ms']:.2f} |"
            )
    return "\n".join(lines)


def parent(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    for database in args.databases.split(","):
        if database == "sqlite":
            OUT.mkdir(parents=True, exist_ok=True)
            path = OUT / f"review_search_{uuid.uuid4().hex[:8]}.sqlite3"
            try:
                results.append(run_child(args, "sqlite", f"sqlite:///{path}"))
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        elif database == "postgres":
            with fresh_postgres(args.database_url) as url:
                results.append(run_child(args, "postgres", url))
        else:
            raise SystemExit(f"unknown database {database!r} (sqlite, postgres)")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "review_search.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    for r in results:
        print(f"{r['database']}: record {r['record']}")
    return 0


# --- the child: build the record, measure --------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def timed(n: int, call: Callable[[int], object]) -> dict[str, Any]:
    for i in range(min(20, n)):  # warm caches and connections
        call(i)
    samples: list[float] = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "n": n,
        "p50_ms": statistics.median(samples),
        "p95_ms": percentile(samples, 95),
        "max_ms": max(samples),
    }


class Builder:
    """Bulk rows with a real hash chain, per stream."""

    def __init__(self) -> None:
        from hub.accounts.models import User
        from hub.agencies.models import Agency

        self.users = {u.username: u for u in User.objects.filter(username__contains=".")}
        self.agencies = {a.code: a for a in Agency.objects.all()}

    def chain(
        self, stream_name: str, rows: list[tuple[str, str | None, datetime, dict[str, Any]]]
    ) -> list[Any]:
        """Append ``rows`` (kind, username or None, at, payload) to the stream."""
        from hub.events.chain import canonical_bytes, chain_hash, new_salt
        from hub.events.models import Event, Stream

        stream = Stream.objects.get(name=stream_name)
        seq, last = stream.last_seq, stream.last_hash
        events = []
        for kind, username, at, payload in rows:
            seq += 1
            user = self.users[username] if username else None
            agency = self.agencies[username.split(".")[0].upper()] if username else None
            salt = new_salt()
            digest = chain_hash(
                last,
                canonical_bytes(
                    form=3,
                    stream=stream_name,
                    seq=seq,
                    kind=kind,
                    actor_id=user.pk if user else None,
                    agency_id=agency.pk if agency else None,
                    at=at,
                    payload=payload,
                    salt=salt,
                ),
            )
            events.append(
                Event(
                    stream=stream,
                    seq=seq,
                    kind=kind,
                    actor=user,
                    actor_agency=agency,
                    at=at,
                    payload=payload,
                    prev_hash=last,
                    hash=digest,
                    salt=salt,
                    form=3,
                )
            )
            last = digest
        Event.objects.bulk_create(events, batch_size=2000)
        Stream.objects.filter(pk=stream.pk).update(last_seq=seq, last_hash=last)
        return events


WORDS = tuple(
    [
        "secondary",
        "inspection",
        "queue",
        "passenger",
        "manifest",
        "cargo",
        "seal",
        "container",
        "lorry",
        "driver",
        "interpreter",
        "consulate",
        "referral",
        "shelter",
        "victim",
        "screening",
        "fingerprint",
        "visa",
        "foil",
        "overstay",
        "handover",
        "patrol",
        "berth",
        "crew",
        "list",
        "hold",
        "customs",
        "declaration",
    ]
)


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))).capitalize() + "."


def build(big_events: int, small_incidents: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import transaction

    from hub.agencies.demo import seed_reference_data
    from hub.incidents import services
    from hub.incidents.models import Message

    call_command("migrate", verbosity=0)
    seed_reference_data()
    rng = random.Random(2026)
    b = Builder()
    start = datetime.now(UTC) - timedelta(days=30)
    writers = ("na-imm.duty", "na-cus.duty", "na-pol.duty")

    def report(point: str, title: str, description: str) -> str:
        ref = services.incident_report(
            actor=b.users["na-imm.duty"],
            crossing_point=point,
            title=title,
            category="document_fraud",
            severity="medium",
            occurred_at=datetime.now(UTC) - timedelta(days=31),
            description=description,
        ).incident.ref
        return ref

    def fill(ref: str, n: int, every_message: int, span: timedelta, texts: dict[int, str]) -> int:
        from hub.events.models import Stream
        from hub.incidents.models import Incident

        incident = Incident.objects.get(ref=ref)
        first_seq = Stream.objects.get(name=f"incident:{ref}").last_seq + 1
        step = span / max(n, 1)
        progress = {
            "total": 8,
            "done": 0,
            "not_applicable": 0,
            "open": 8,
            "in_progress": 0,
            "blocked": 0,
            "overdue": 0,
        }
        with transaction.atomic():
            # Messages first (their ids go into the events), at the seqs their events get.
            messages = Message.objects.bulk_create(
                [
                    Message(
                        incident=incident,
                        author=b.users[writers[(i // every_message) % 3]],
                        agency=b.agencies[writers[(i // every_message) % 3].split(".")[0].upper()],
                        body=texts.get(i // every_message) or sentence(rng),
                        client_msg_id=uuid.uuid4(),
                        seq=first_seq + i,
                        created_at=start + step * i,
                    )
                    for i in range(0, n, every_message)
                ],
                batch_size=2000,
            )
            by_seq = {m.seq: m for m in messages}
            rows: list[tuple[str, str | None, datetime, dict[str, Any]]] = []
            for i in range(n):
                at = start + step * i
                message = by_seq.get(first_seq + i)
                if message is not None:
                    who = writers[(i // every_message) % 3]
                    payload = {"message_id": message.pk, "body": message.body, "mentions": []}
                    rows.append(("message.posted", who, at, payload))
                elif i % 4 == 1:
                    payload = {"ref": f"OP-{ref}", "title": "Screening", "progress": progress}
                    rows.append(("operation.progress", None, at, payload))
                elif i % 4 == 2:
                    payload = {
                        "ref": f"OP-{ref}",
                        "task_id": i,
                        "note": sentence(rng),
                        "evidence": "",
                    }
                    rows.append(("task.noted", writers[i % 3], at, payload))
                else:
                    payload = {"changes": {"people_count": {"old": i, "new": i + 1}}}
                    rows.append(("incident.updated", "na-imm.duty", at, payload))
            b.chain(f"incident:{ref}", rows)
        return len(messages)

    began = time.perf_counter()
    big = report("WDH", "Trafficking network at arrivals", "Several passengers, one facilitator.")
    for code in ("NA-CUS", "NA-POL"):
        services.incident_invite_agency(actor=b.users["na-imm.coord"], ref=big, agency=code)
    vessel = {k: f"Crew of the {VESSEL} seen again at berth 3." for k in range(0, 10_000, 7)}
    vessel[1234] = f"Facilitator travelled on passport {PASSPORT}."
    messages = fill(big, big_events, 8, timedelta(days=29), vessel)
    small_events = 50
    for n in range(small_incidents):
        point = "WVB" if n % 2 else "WDH"
        description = sentence(rng)
        if n == 7:
            description = f"Seaman's book and passport {PASSPORT.lower()} do not match."
        ref = report(point, f"Case {n}: {sentence(rng)[:60]}", description)
        texts = {3: f"Holder of {PASSPORT} refused entry."} if n == 10 else {}
        messages += fill(ref, small_events - 1, 2, timedelta(days=29), texts)
    from hub.events.models import Event

    return {
        "big_incident": big,
        "events": Event.objects.count(),
        "messages": messages,
        "incidents": 1 + small_incidents,
        "build_seconds": round(time.perf_counter() - began, 1),
    }


def baseline_scan(access: Any, q: str) -> list[Any]:
    """The pre-full-text search: substring scans, one page of each kind, newest first."""
    from django.db.models import Q

    from hub.incidents.models import Incident, Message
    from hub.incidents.selectors import visibility_filter

    readable = Incident.objects.filter(visibility_filter(access))
    messages = list(
        Message.objects.filter(
            incident__in=readable.values("pk"), redacted_at__isnull=True, body__icontains=q
        )
        .select_related("incident__crossing_point", "author", "agency")
        .order_by("-created_at", "-id")[:21]
    )
    incidents = list(
        readable.filter(Q(title__icontains=q) | Q(description__icontains=q))
        .select_related("crossing_point", "reported_by", "reporting_agency")
        .order_by("-created_at", "-id")[:21]
    )
    return messages + incidents


def scan(access: Any, q: str) -> Callable[[int], object]:
    return lambda _: baseline_scan(access, q)


def search(get: Callable[[str, dict[str, Any]], None], q: str) -> Callable[[int], object]:
    return lambda _: get("/api/v1/search", {"q": q})


def child(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from hub.accounts.models import User
    from hub.agencies.selectors import access_for

    record = build(args.big_events, args.small_incidents)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    client = Client()
    senior = User.objects.get(username="na-imm.senior")
    client.force_login(senior)
    stream = f"/api/v1/streams/incident:{record['big_incident']}/events"
    head = record["events"]  # an upper bound for positions in the big stream
    rng = random.Random(7)
    positions = [rng.randint(1, min(head, args.big_events)) for _ in range(args.requests)]

    def get(path: str, params: dict[str, Any]) -> None:
        response = client.get(path, params)
        if response.status_code != 200:
            raise SystemExit(f"{path} {params}: {response.status_code} {response.content[:300]!r}")

    n = args.requests
    baselines = {
        "unfiltered page": timed(n, lambda i: get(stream, {"after": positions[i], "limit": 50})),
        "substring scan": {},
    }
    measurements: dict[str, dict[str, Any]] = {
        "review page: messages of NA-CUS, backward": timed(
            n,
            lambda i: get(
                stream,
                {"group": "messages", "agency": "NA-CUS", "before": positions[i], "limit": 50},
            ),
        ),
        "review page: messages of NA-CUS, forward": timed(
            n,
            lambda i: get(
                stream,
                {"group": "messages", "agency": "NA-CUS", "after": positions[i], "limit": 50},
            ),
        ),
        "review page: text 'manifest', backward": timed(
            n, lambda i: get(stream, {"q": "manifest", "before": positions[i], "limit": 50})
        ),
    }
    for m in measurements.values():
        m["baseline"] = "unfiltered page"
    access = access_for(senior)
    queries = {"passport number": PASSPORT, "vessel name": VESSEL, "two words": "crew berth"}
    scans = [timed(n, scan(access, q)) for q in queries.values()]
    baselines["substring scan"] = {
        "n": n * len(queries),
        "p50_ms": statistics.median(s["p50_ms"] for s in scans),
        "p95_ms": max(s["p95_ms"] for s in scans),
    }
    for label, q in queries.items():
        found = client.get("/api/v1/search", {"q": q}).json()
        m = timed(n, search(get, q))
        m["baseline"] = "substring scan"
        m["hits_on_first_page"] = len(found["items"])
        measurements[f"search: {label}"] = m
    print(
        json.dumps(
            {
                "database": "postgres" if connection.vendor == "postgresql" else "sqlite",
                "record": record,
                "baselines": baselines,
                "measurements": measurements,
            }
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", DEFAULT_PG)
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else DEFAULT_PG,
    )
    parser.add_argument("--big-events", type=int, default=80_000)
    parser.add_argument("--small-incidents", type=int, default=400)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--child", choices=("sqlite", "postgres"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
