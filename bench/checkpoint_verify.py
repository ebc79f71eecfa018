"""Signed checkpoints and verification at scale, on SQLite and PostgreSQL, each
against a baseline measured in the same run.

The record: ``--streams`` streams (default 10,000) of ``--events-per-stream``
form-3 events each (default 10: 100,000 events), written in bulk with real hash
chains (the canonical form of ``hub.record.canonical``).

- **checkpoint**: ``checkpoint_now()`` over every stream's head (read the heads,
  build the RFC 6962 tree, sign with Ed25519, append the row with its leaves), after
  one new event each time so that a head moved. CPU seconds of this process, and
  wall time. Baseline: reading the same heads alone (``current_leaves()``).
- **verify**: ``hub.events.audit.verify()`` over every stream and the checkpoint log
  (what ``manage.py audit_verify`` runs), in CPU seconds per 100,000 events.
  Baseline: reading the same events' columns in one pass, without hashing.

    python -m bench.checkpoint_verify                        # SQLite and PostgreSQL
    python -m bench.checkpoint_verify --databases sqlite --streams 2000

PostgreSQL as in ``bench.review_search`` (a fresh database, dropped after the run).
Prints a Markdown table; writes var/bench/checkpoint_verify.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.review_search import DEFAULT_PG, OUT, ROOT, fresh_postgres


def run_child(args: argparse.Namespace, database: str, url: str, key_dir: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "HUB_ENV": "development",
        "REDIS_URL": "",
        "HUB_SIGNING_KEY_FILE": str(Path(key_dir) / "bench-ed25519.pem"),
    }
    cmd = [
        sys.executable,
        "-m",
        "bench.checkpoint_verify",
        "--child",
        database,
        "--streams",
        str(args.streams),
        "--events-per-stream",
        str(args.events_per_stream),
        "--repeat",
        str(args.repeat),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{database}: the benchmark failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | measurement | CPU s (median) | wall s (median) | baseline CPU s | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, m in r["measurements"].items():
            base = r["baselines"][m["baseline"]]
            lines.append(
                f"| {r['database']} | {name} | {m['cpu_s']:.3f} | {m['wall_s']:.3f} | "
                f"{base['cpu_s']:.3f} ({m['baseline']}) | {m['cpu_s'] / base['cpu_s']:.2f} |"
            )
    return "\n".join(lines)


def parent(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as key_dir:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key = Path(key_dir) / "bench-ed25519.pem"
        key.write_bytes(pem)
        key.chmod(0o600)
        for database in args.databases.split(","):
            if database == "sqlite":
                OUT.mkdir(parents=True, exist_ok=True)
                path = OUT / f"checkpoint_verify_{uuid.uuid4().hex[:8]}.sqlite3"
                try:
                    results.append(run_child(args, "sqlite", f"sqlite:///{path}", key_dir))
                finally:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{path}{suffix}").unlink(missing_ok=True)
            elif database == "postgres":
                with fresh_postgres(args.database_url) as url:
                    results.append(run_child(args, "postgres", url, key_dir))
            else:
                raise SystemExit(f"unknown database {database!r} (sqlite, postgres)")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "checkpoint_verify.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    for r in results:
        print(f"{r['database']}: record {r['record']}")
    return 0


# --- the child ---------------------------------------------------------------------------


def build(streams: int, per_stream: int) -> dict[str, Any]:
    """``streams`` streams of ``per_stream`` form-3 events, chained, in bulk."""
    from django.core.management import call_command
    from django.db import transaction

    from hub.events.chain import new_salt
    from hub.events.models import Event, Stream
    from hub.record.canonical import (
        FORM_DIGEST,
        GENESIS_HASH,
        canonical_time,
        event_canonical,
        event_hash,
        payload_digest,
    )

    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    start = datetime.now(UTC) - timedelta(days=1)
    for first in range(0, streams, 1000):
        with transaction.atomic():
            rows = Stream.objects.bulk_create(
                [Stream(name=f"bench:{n:06d}") for n in range(first, min(first + 1000, streams))]
            )
            events: list[Event] = []
            heads: list[tuple[int, str]] = []
            for stream in Stream.objects.filter(pk__in=[r.pk for r in rows]):
                last = GENESIS_HASH
                for seq in range(1, per_stream + 1):
                    at = start + timedelta(seconds=seq)
                    payload = {"n": seq, "note": f"bench event {seq} of {stream.name}"}
                    salt = new_salt()
                    canonical = event_canonical(
                        form=FORM_DIGEST,
                        stream=stream.name,
                        seq=seq,
                        kind="bench.noted",
                        actor=None,
                        agency=None,
                        at=canonical_time(at),
                        digest=payload_digest(salt, payload),
                    )
                    digest = event_hash(last, canonical)
                    events.append(
                        Event(
                            stream=stream,
                            seq=seq,
                            kind="bench.noted",
                            at=at,
                            payload=payload,
                            prev_hash=last,
                            hash=digest,
                            salt=salt,
                            form=FORM_DIGEST,
                        )
                    )
                    last = digest
                heads.append((stream.pk, last))
            Event.objects.bulk_create(events, batch_size=2000)
            for pk, last in heads:
                Stream.objects.filter(pk=pk).update(last_seq=per_stream, last_hash=last)
    return {
        "streams": streams,
        "events": Event.objects.count(),
        "build_seconds": round(time.perf_counter() - began, 1),
    }


def measure(
    repeat: int, before: Callable[[], object], call: Callable[[], object]
) -> dict[str, Any]:
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(repeat):
        before()
        c0, w0 = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"n": repeat, "cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall)}


def child(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.db import connection, transaction

    from hub.events.audit import verify
    from hub.events.checkpoints import checkpoint_now, current_leaves
    from hub.events.models import Event
    from hub.events.pipeline import emit

    record = build(args.streams, args.events_per_stream)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    moved = {"n": 0}
    payload = bench_payload()

    def move_a_head() -> None:
        """One new event, so the next checkpoint has a head that moved."""
        moved["n"] += 1
        with transaction.atomic():
            emit(
                stream=f"bench:{moved['n'] % args.streams:06d}",
                payload=payload,
                actor=None,
                agency=None,
            )

    def made() -> None:
        if checkpoint_now() is None:
            raise SystemExit("checkpoint_now() made no checkpoint")

    baselines = {
        "read the heads": measure(args.repeat, lambda: None, current_leaves),
        "read the events": measure(
            1,
            lambda: None,
            lambda: sum(
                1
                for _ in Event.objects.order_by("stream_id", "seq")
                .values_list(
                    "stream_id", "seq", "kind", "at", "payload", "prev_hash", "hash", "salt"
                )
                .iterator(chunk_size=5000)
            ),
        ),
    }
    measurements = {
        f"checkpoint over {args.streams:,} streams": {
            **measure(args.repeat, move_a_head, made),
            "baseline": "read the heads",
        },
    }
    report = verify()
    if not report.ok:
        raise SystemExit(f"verify() found {report.first_broken}")
    events = Event.objects.count()
    result = measure(1, lambda: None, verify)
    per = 100_000 / events
    measurements[f"audit verify, per 100,000 events ({events:,} verified)"] = {
        "n": 1,
        "cpu_s": result["cpu_s"] * per,
        "wall_s": result["wall_s"] * per,
        "baseline": "read the events",
    }
    baselines["read the events"]["cpu_s"] *= per
    baselines["read the events"]["wall_s"] *= per
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


def bench_payload() -> Any:
    """A registered event payload that needs nothing else in the database."""
    from hub.events.types import OperationProgress, Progress

    progress = Progress(
        total=1, done=0, not_applicable=0, open=1, in_progress=0, blocked=0, overdue=0
    )
    return OperationProgress(ref="OP-BENCH", title="bench", progress=progress)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--events-per-stream", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", choices=("sqlite", "postgres"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
