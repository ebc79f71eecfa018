"""What every benchmark and the soak share: processes, databases, the demo hub, reports.

A benchmark run starts its own processes on 127.0.0.1 (Daphne workers of the hub and
of the baselines), on its own database (a fresh SQLite file, or a fresh database on
the PostgreSQL server that ``DATABASE_URL`` names, dropped afterwards) and its own
Redis key prefix. Server CPU is read from /proc (user + system of each server
process), memory from ``/proc/<pid>/status`` (VmRSS). Nothing here talks to anything
but loopback.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "var" / "bench"
TICKS = os.sysconf("SC_CLK_TCK")
PASSWORD = "border-demo-2026"  # noqa: S105 (the demo officers' published password)
# Officers of the five agencies at the Wenela–Sesheke OSBP (WEN); its demo incident is
# shared by all of them, so each may subscribe to its stream.
READERS = [
    f"{agency}.{role}"
    for agency in ("na-imm", "na-cus", "na-pol", "zm-imm", "zm-cus")
    for role in ("duty", "coord", "senior")
]
WRITER = "zm-imm.duty"
# The same limits as production (Makefile ``serve``).
DAPHNE_FLAGS = ["--websocket-max-message-size", "131072", "--websocket-max-frame-size", "131072"]
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft limit of open files towards ``wanted`` (capped by the
    hard limit); processes started afterwards inherit it. Returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """Resident memory of one process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def start_daphne(
    app: str, env: dict[str, str], port: int, *, ready_path: str = "/healthz", name: str = ""
) -> subprocess.Popen[bytes]:
    """One Daphne process serving ``app`` with production flags; returns once it answers."""
    return start_server(
        ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *DAPHNE_FLAGS, app],
        env,
        port,
        ready_path=ready_path,
        name=name or app.split(".")[0],
    )


def start_server(
    args: Sequence[str], env: dict[str, str], port: int, *, ready_path: str, name: str
) -> subprocess.Popen[bytes]:
    """``python <args>`` as a server on ``port`` (its log in var/bench/<name>-<port>.log);
    returns once ``ready_path`` answers over HTTP."""
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"{name}-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    wait_http(f"http://127.0.0.1:{port}{ready_path}", process, log_path)
    return process


def wait_http(
    url: str, process: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"{url}: the server exited ({process.returncode}):\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    if process is not None:
        process.kill()
    raise RuntimeError(f"{url} did not answer within 60 s")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        data: dict[str, Any] = json.load(response)
        return data


def get_json(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def is_postgres(url: str | None) -> bool:
    return bool(url) and urllib.parse.urlsplit(url or "").scheme in {"postgres", "postgresql"}


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new, empty database on ``url``'s server for one run; dropped afterwards."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def hub_database(database_url: str | None, run_dir: Path) -> Iterator[str]:
    """A fresh PostgreSQL database when ``database_url`` names one, else a SQLite file."""
    if is_postgres(database_url):
        with fresh_postgres(database_url or "") as url:
            yield url
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{run_dir / 'hub.sqlite3'}"


def bench_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's server processes (no DATABASE_URL: each adds its own)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "HUB_ENV": "development",
        "DEBUG": "false",
        "REDIS_URL": redis_url,
        "HUB_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
        "HUB_LOG_LEVEL": "WARNING",
        # Thousands of sockets per demo officer.
        "HUB_WS_MAX_CONNECTIONS_PER_USER": "100000",
        **extra,
    }
    env.pop("DATABASE_URL", None)
    return env


def manage(env: dict[str, str], *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def seed_hub(env: dict[str, str]) -> None:
    """Migrate ``env``'s database and load the demo data (its officers and incidents)."""
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo", "--quiet-logins")


@dataclass
class Hub:
    """Daphne workers of the hub sharing one database and one Redis (when given)."""

    env: dict[str, str]
    workers: int = 2
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def start(self) -> Hub:
        for i in range(self.workers):
            port = free_port()
            self.ports.append(port)
            self.processes.append(
                start_daphne("hub.asgi:application", self.env, port, name=f"hub{i}")
            )
        return self

    def restart_worker(self, i: int) -> None:
        """Start worker ``i`` again on its port (after it was killed)."""
        stop(self.processes[i])
        self.processes[i] = start_daphne(
            "hub.asgi:application", self.env, self.ports[i], name=f"hub{i}"
        )

    def stop(self) -> None:
        for process in self.processes:
            stop(process)

    def base(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[i % len(self.ports)]}"

    def ws(self, i: int = 0) -> str:
        return f"ws://127.0.0.1:{self.ports[i % len(self.ports)]}/ws/"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss_kib(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids)

    def token(self, username: str) -> str:
        if username not in self.tokens:
            self.tokens[username] = post_json(
                f"{self.base()}/api/v1/auth/token", {"username": username, "password": PASSWORD}
            )["token"]
        return self.tokens[username]

    def shared_incident(self) -> dict[str, Any]:
        """The WEN demo incident every agency of READERS may read."""
        page = get_json(f"{self.base()}/api/v1/incidents?crossing_point=WEN", self.token(WRITER))
        incident: dict[str, Any] = page["items"][0]
        return incident

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def versions(database_url: str | None = None) -> dict[str, str]:
    """What a result was measured with: cores, Python and the packages that matter."""
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cores": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
    }
    for package in ("django", "channels", "channels-redis", "daphne", "twisted", "websockets"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "-"
    try:
        info["redis-py"] = metadata.version("redis")
    except metadata.PackageNotFoundError:
        info["redis-py"] = "-"
    if is_postgres(database_url):
        import psycopg

        with psycopg.connect(database_url or "") as conn:
            row = conn.execute("show server_version").fetchone()
            info["postgresql"] = str(row[0]).split()[0] if row else "?"
    return info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(name: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``var/bench/<name>.json`` and ``var/bench/<name>.md``; returns both paths."""
    OUT.mkdir(parents=True, exist_ok=True)
    json_path, md_path = OUT / f"{name}.json", OUT / f"{name}.md"
    json_path.write_text(json.dumps(data, indent=2, default=str))
    md_path.write_text(markdown + "\n")
    return json_path, md_path


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank; NaN when empty."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values)) - 1))
    return sorted_values[rank]
