"""Real server processes for tests: Daphne workers on free ports.

The workers share the test database (committed data only, so tests that use
them need ``transactional_db``) and, when given, a Redis URL and key prefix.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def database_url_for(settings_dict: Mapping[str, Any]) -> str:
    """DATABASE_URL of the (already created) test database."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    if engine.endswith("postgresql"):
        user = settings_dict.get("USER") or ""
        password = settings_dict.get("PASSWORD") or ""
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    raise ValueError(f"unsupported engine {engine}")


class DaphneWorker:
    """One ``daphne hub.asgi:application`` process."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str | None = None,
        redis_prefix: str | None = None,
        name: str = "worker",
        extra_env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "hub.settings_test",
            "HUB_ENV": "test",
            "DEBUG": "false",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        if redis_prefix:
            self.env["HUB_REDIS_PREFIX"] = redis_prefix
        if extra_env:
            self.env.update(extra_env)
        self.log_path = (log_dir or ROOT / "var") / f"daphne-{name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self, timeout: float = 30.0) -> DaphneWorker:
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the process without waiting for it to answer (see ``start_all``)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--websocket-max-message-size",
                "131072",
                "--websocket-max-frame-size",
                "131072",
                "hub.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; log:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the worker dies without any cleanup."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> DaphneWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_all(
    workers: list[DaphneWorker],
    timeout: float = 30.0,
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Start several workers side by side (their imports overlap), then wait for each.

    ``meanwhile`` runs after the processes are launched and before waiting for
    them (e.g. seeding the database, which they do not read until asked).
    """
    try:
        for worker in workers:
            worker.launch()
        if meanwhile is not None:
            meanwhile()
        for worker in workers:
            worker.wait_ready(timeout)
    except BaseException:
        stop_all(workers)
        raise


def stop_all(workers: list[DaphneWorker]) -> None:
    """Stop several workers side by side (each may take a moment to shut down)."""
    for worker in workers:
        if worker.process and worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.stop()
