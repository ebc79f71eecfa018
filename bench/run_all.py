"""``make bench``: every benchmark in turn, one subprocess each, one report.

Runs, in order: fanout, connections, resume, write_path, review_search,
checkpoint_verify, attachments_upload (``python -m bench.<name>``). A module that does
not exist yet is skipped with a line saying so; a module that fails is reported and the
run goes on (the exit status is then 1). Each module's Markdown (``var/bench/<name>.md``
when it wrote one during this run, else what it printed) is collected into
``var/bench/RESULTS-latest.md`` under a header with the versions (cores, CPU, Python,
packages, PostgreSQL) and the exact commands.

``DATABASE_URL`` defaults to the local PostgreSQL
(postgres://postgres@127.0.0.1:5432/postgres; each benchmark creates and drops its own
databases on that server) and ``REDIS_URL`` to the local Redis.

    python -m bench.run_all                  # the full run (≤ 30 minutes; estimate printed)
    python -m bench.run_all --quick          # smaller sizes (about 10 minutes)
    python -m bench.run_all --only resume,write_path
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import harness

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Bench:
    name: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    minutes: float  # rough wall time of the full run on 2 shared cores
    quick_minutes: float
    pass_database_url: bool = False  # the module does not read DATABASE_URL itself


BENCHES = [
    Bench(
        "fanout",
        (),
        ("--subscribers", "100,500", "--seconds", "3", "--saturation-messages", "200"),
        9,
        3,
    ),
    Bench("connections", (), ("--sockets", "1000"), 3, 1),
    Bench(
        "resume", (), ("--missed", "1000,10000", "--repeats", "2", "--via-services", "500"), 7, 2.5
    ),
    Bench("write_path", (), ("--messages", "300"), 5, 2.5),
    Bench(
        "review_search",
        (),
        ("--big-events", "10000", "--small-incidents", "50", "--requests", "50"),
        4,
        1,
    ),
    Bench(
        "checkpoint_verify",
        (),
        ("--streams", "1000", "--repeat", "2"),
        3,
        0.5,
        pass_database_url=True,
    ),
    Bench("attachments_upload", (), ("--small", "8", "--large", "2", "--no-memory"), 2, 1),
]


def exists(name: str) -> bool:
    return importlib.util.find_spec(f"bench.{name}") is not None


def weed_available() -> bool:
    return bool(shutil.which("weed") or (Path(sys.executable).parent / "weed").exists())


def command_for(bench: Bench, quick: bool, database_url: str) -> list[str]:
    args = list(bench.quick if quick else bench.full)
    if bench.pass_database_url or bench.name == "attachments_upload":
        args += ["--database-url", database_url]
    if bench.name == "attachments_upload" and not weed_available():
        args += ["--storages", "filesystem"]
    return [sys.executable, "-m", f"bench.{bench.name}", *args]


def shown(command: list[str]) -> str:
    return shlex.join(["python", *command[1:]])


def run_one(bench: Bench, command: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run a module, streaming its output; returns (status, its Markdown, seconds)."""
    md = harness.OUT / f"{bench.name}.md"
    started = time.time()
    process = subprocess.Popen(
        command,
        cwd=harness.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,  # progress lines go straight to the terminal
        text=True,
    )
    assert process.stdout is not None
    printed: list[str] = []
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        printed.append(line)
    status = process.wait()
    seconds = time.time() - started
    fresh = md.exists() and md.stat().st_mtime >= started
    text = md.read_text() if fresh else "".join(printed)
    return status, text, seconds


def header(env: dict[str, str], quick: bool, argv: list[str]) -> str:
    info = harness.versions(env["DATABASE_URL"])
    lines = [
        "# Benchmark results (latest `make bench` run)",
        "",
        f"**Command:** `{shlex.join(['python', '-m', 'bench.run_all', *argv])}`"
        + (" (quick sizes)" if quick else ""),
        "",
        "**Machine and versions:** "
        + ", ".join(f"{key} {value}" for key, value in info.items())
        + ".",
        "",
        "PostgreSQL: a fresh database per benchmark on "
        f"`{env['DATABASE_URL']}`; Redis: `{env['REDIS_URL']}`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 10 minutes")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--estimate", action="store_true", help="print the estimate and exit")
    raw_argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(raw_argv)
    env = dict(os.environ)
    env["DATABASE_URL"] = env.get("DATABASE_URL") or DEFAULT_PG
    env["REDIS_URL"] = env.get("REDIS_URL") or harness.DEFAULT_REDIS
    wanted = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")

    total = sum(b.quick_minutes if args.quick else b.minutes for b in wanted if exists(b.name))
    print(f"Estimated time: about {total:.0f} minutes ({'quick' if args.quick else 'full'} run)")
    for bench in wanted:
        state = "" if exists(bench.name) else "  (not written yet: will be skipped)"
        minutes = bench.quick_minutes if args.quick else bench.minutes
        print(f"  {bench.name:20} ~{minutes:g} min{state}")
    if args.estimate:
        return 0

    sections = [header(env, args.quick, raw_argv)]
    failed: list[str] = []
    for bench in wanted:
        if not exists(bench.name):
            line = f"skipped {bench.name}: bench/{bench.name}.py does not exist yet"
            print(line)
            sections.append(f"## {bench.name}\n\n{line}.\n")
            continue
        command = command_for(bench, args.quick, env["DATABASE_URL"])
        print(f"\n=== {bench.name}: {shown(command)}", flush=True)
        status, text, seconds = run_one(bench, command, env)
        note = f"`{shown(command)}` — {seconds / 60:.1f} min"
        if status != 0:
            failed.append(bench.name)
            note += f", FAILED (exit status {status})"
        print(f"=== {bench.name}: {note}", flush=True)
        sections.append(f"<!-- {bench.name} -->\n\n*{note}*\n\n{text.strip()}\n")

    harness.OUT.mkdir(parents=True, exist_ok=True)
    out = harness.OUT / "RESULTS-latest.md"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.write_text("\n".join(sections) + f"\n_Written {stamp}._\n")
    print(f"\nWrote {out.relative_to(harness.ROOT)}")
    if failed:
        print(f"Failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
