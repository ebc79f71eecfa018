"""hub.probe: the container health check sends the Host the hub serves."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.probe import fresh, main, probe, probe_host


@pytest.mark.parametrize(
    ("allowed_hosts", "expected"),
    [
        ("hub.example.org", "hub.example.org"),
        (" hub.example.org , other.example.org", "hub.example.org"),
        (".example.org", "example.org"),
        ("*,hub.example.org", "hub.example.org"),
        ("", None),
        (",", None),
    ],
)
def test_probe_host_is_the_first_served_name(allowed_hosts: str, expected: str | None) -> None:
    assert probe_host({"ALLOWED_HOSTS": allowed_hosts}) == expected


def test_probe_host_without_allowed_hosts_keeps_the_url_host() -> None:
    assert probe_host({}) is None


class HostCheckingHandler(http.server.BaseHTTPRequestHandler):
    """Answers like Django with ALLOWED_HOSTS=hub.example.org: 400 for any other Host."""

    def do_GET(self) -> None:
        status = 200 if self.headers.get("Host") == "hub.example.org" else 400
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def server_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostCheckingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_probe_sends_the_host_header(server_url: str) -> None:
    assert probe(server_url, host="hub.example.org") is None
    problem = probe(server_url, host=None)
    assert problem is not None
    assert "answered 400" in problem


def test_main_exit_status_follows_the_answer(
    server_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "hub.example.org")
    assert main([server_url]) == 0
    monkeypatch.setenv("ALLOWED_HOSTS", "elsewhere.example.org")
    assert main([server_url]) == 1
    assert "answered 400" in capsys.readouterr().err


def test_main_fails_when_nothing_listens() -> None:
    # Port 1 on loopback refuses connections.
    assert main(["http://127.0.0.1:1/healthz"]) == 1


@pytest.mark.parametrize("argv", [[], ["a", "b"]])
def test_main_usage(argv: list[str]) -> None:
    assert main(argv) == 2


def test_probe_refuses_other_schemes() -> None:
    assert probe("file:///etc/passwd", host=None) == "not an http(s) URL: 'file:///etc/passwd'"


def test_fresh_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    beat.write_text("now")
    assert fresh(str(beat), 60) is None
    assert main(["--fresh", str(beat), "60"]) == 0


def test_stale_heartbeat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    beat = tmp_path / "beat"
    beat.write_text("then")
    old = beat.stat().st_mtime - 120
    os.utime(beat, (old, old))
    problem = fresh(str(beat), 60)
    assert problem is not None
    assert "old (more than 60s)" in problem
    assert main(["--fresh", str(beat), "60"]) == 1
    assert "old" in capsys.readouterr().err


def test_missing_heartbeat(tmp_path: Path) -> None:
    problem = fresh(str(tmp_path / "none"), 60)
    assert problem is not None
    assert problem.startswith("no heartbeat at")
    assert main(["--fresh", str(tmp_path / "none"), "60"]) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--fresh"],
        ["--fresh", "x"],
        ["--fresh", "x", "soon"],
        ["--fresh", "x", "nan"],
        ["--fresh", "x", "0"],
        ["--fresh", "x", "-5"],
        ["--fresh", "x", "inf"],
    ],
)
def test_fresh_usage(argv: list[str]) -> None:
    assert main(argv) == 2
