"""Smoke test of the README's first command: ``make run`` on the embedded defaults.

    python3 tests/smoke/make_run.py [--port N] [--timeout SECONDS]

Starts ``make run PORT=<free port>`` in its own process group with DATABASE_URL,
REDIS_URL and HUB_ENV unset (SQLite under var/, the in-memory channel layer),
then checks what a new user does:

1. ``/healthz`` answers 200;
2. ``/admin/login/`` renders the login form;
3. a demo administrator login *parsed from make run's printed output* signs in
   (CSRF token and session cookie, as a browser would);
4. the admin index loads as that user, with the reference data on it.

It stops the whole process group (make, Daphne and the run_escalations loop)
whatever happens, and exits 0 only when every step passed. Standard library
only, so it runs before or without the virtual environment. .ci/run calls it
after the embedded test pass; run it by hand from a clone the same way.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
UNSET = ("DATABASE_URL", "REDIS_URL", "HUB_ENV", "DJANGO_SETTINGS_MODULE")


class SmokeFailure(Exception):
    pass


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def parse_admin_login(output: str) -> DemoLogin:
    """The first ``*.admin`` demo login (and the shared password) that make run printed."""
    password = re.search(r"^Demo logins \(password for all: (\S+)\)$", output, re.M)
    username = re.search(r"^\s+(\S+\.admin)\s+admin\s", output, re.M)
    if password is None or username is None:
        raise SmokeFailure("make run printed no demo administrator login")
    return DemoLogin(username=username.group(1), password=password.group(1))


class Browser:
    """Cookies, CSRF and redirects, like a browser on the admin."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.base + path))  # noqa: S310 - http://127.0.0.1

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1
            self.base + path, data=body, method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("Referer", self.base + path)
        return self._open(request)

    def _open(self, request: urllib.request.Request) -> tuple[int, str, str]:
        """(status, final URL after redirects, body)."""
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.url, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.url, exc.read().decode("utf-8", "replace")

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


def wait_for_healthz(base: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SmokeFailure(f"make run exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
                last = f"status {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"status {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(1)
    raise SmokeFailure(f"/healthz did not answer 200 within {timeout:.0f} s ({last})")


def check_admin(base: str, login: DemoLogin) -> None:
    browser = Browser(base)
    status, _url, page = browser.get("/admin/login/?next=/admin/")
    if status != 200 or 'name="username"' not in page or 'name="password"' not in page:
        raise SmokeFailure(f"/admin/login/ did not render the login form (status {status})")
    print("ok: /admin/login/ renders the login form")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None or browser.cookie("csrftoken") is None:
        raise SmokeFailure("/admin/login/ set no CSRF token")

    status, url, page = browser.post(
        "/admin/login/?next=/admin/",
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": login.username,
            "password": login.password,
            "next": "/admin/",
        },
    )
    if status != 200 or urllib.parse.urlsplit(url).path != "/admin/":
        raise SmokeFailure(
            f"logging in as {login.username} did not reach /admin/ (status {status}, at {url})"
        )
    if browser.cookie("sessionid") is None:
        raise SmokeFailure(f"logging in as {login.username} set no session cookie")
    print(f"ok: the printed demo login {login.username} signs in to the admin")

    status, url, page = browser.get("/admin/")
    if status != 200 or urllib.parse.urlsplit(url).path != "/admin/":
        raise SmokeFailure(f"/admin/ as {login.username}: status {status} at {url}")
    for expected in ("/admin/agencies/crossingpoint/", 'action="/admin/logout/"'):
        if expected not in page:
            raise SmokeFailure(f"/admin/ as {login.username} does not show {expected!r}")
    print(f"ok: the admin index loads as {login.username}, with the reference data")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group (make, Daphne, run_escalations); SIGKILL what is left."""
    pgid = process.pid  # start_new_session: the group is led by make
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if process.poll() is None:
                time.sleep(0.2)
                continue
            try:
                os.killpg(pgid, 0)  # anyone left in the group?
            except ProcessLookupError:
                return
            time.sleep(0.2)
    process.wait(timeout=10)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return
    raise SmokeFailure(f"processes of group {pgid} survived SIGKILL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--timeout",
        type=float,
        default=180.0,
        help="seconds for make run to install, build, migrate, seed and serve (default 180)",
    )
    args = parser.parse_args(argv)
    port = args.port or free_port()
    base = f"http://{HOST}:{port}"
    env = {k: v for k, v in os.environ.items() if k not in UNSET}

    with tempfile.NamedTemporaryFile(prefix="make-run-", suffix=".log", delete=False) as log_file:
        log = Path(log_file.name)
    print(f"make run PORT={port} (embedded defaults); output in {log}")
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "run", f"PORT={port}", f"HOST={HOST}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    failure: str | None = None
    try:
        wait_for_healthz(base, process, args.timeout)
        print("ok: /healthz answers 200")
        check_admin(base, parse_admin_login(log.read_text(errors="replace")))
    except SmokeFailure as exc:
        failure = str(exc)
    finally:
        try:
            stop_group(process)
        except SmokeFailure as exc:
            failure = failure or str(exc)
    if failure is not None:
        tail = log.read_text(errors="replace")[-4000:]
        print(f"FAILED: {failure}\n--- make run output (tail) ---\n{tail}", file=sys.stderr)
        return 1
    print("make run smoke passed; the server and the escalation loop are stopped")
    log.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
