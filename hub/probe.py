"""Container health probe: ``python -m hub.probe http://127.0.0.1:8000/readyz``.

Exit status 0 when the URL answers 200, 1 otherwise (with the reason on stderr),
which is what Docker's HEALTHCHECK and compose's ``healthcheck`` expect.

``python -m hub.probe --fresh PATH SECONDS`` checks a process without HTTP (the
escalation loop): 0 when PATH was written within the last SECONDS
(``run_escalations --heartbeat PATH`` writes it after every completed sweep).

Why a module and not ``urllib.request.urlopen(url)`` inline: production settings
answer 400 (DisallowedHost) to a request whose ``Host`` is not in ALLOWED_HOSTS,
and a probe from inside the container says ``Host: 127.0.0.1``. Rather than
adding loopback names to ALLOWED_HOSTS (the proxy forwards the client's Host, so
every replica would then also accept ``Host: localhost`` from outside), the
probe presents the first name the hub serves, read from the same ALLOWED_HOSTS
the server reads. It imports nothing from Django: it runs every few seconds.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

DEFAULT_TIMEOUT = 2.0


def probe_host(environ: Mapping[str, str]) -> str | None:
    """The ``Host`` to send: the first usable ALLOWED_HOSTS entry, or None (keep the URL's).

    A leading dot (``.example.org``, "this domain and its subdomains") is dropped;
    ``*`` is skipped, since any Host would do.
    """
    for entry in environ.get("ALLOWED_HOSTS", "").split(","):
        name = entry.strip()
        if not name or name == "*":
            continue
        return name[1:] if name.startswith(".") else name
    return None


def probe(url: str, *, host: str | None, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """GET ``url`` (with ``Host: host`` when given): None on 200, else why not."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url!r}"
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - scheme checked above
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status: int = response.status
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code} (Host: {host or 'from the URL'})"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {exc}"
    if status != 200:
        return f"{url} answered {status}"
    return None


def fresh(path: str, max_age: float, *, now: float | None = None) -> str | None:
    """None when ``path`` was modified within ``max_age`` seconds, else why not."""
    try:
        modified = os.stat(path).st_mtime
    except OSError as exc:
        return f"no heartbeat at {path}: {exc.strerror or exc}"
    age = (time.time() if now is None else now) - modified
    if age > max_age:
        return f"heartbeat {path} is {age:.0f}s old (more than {max_age:g}s)"
    return None


def _seconds(raw: str) -> float | None:
    """A positive, finite number of seconds, or None."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None  # NaN fails both


USAGE = (
    "usage: python -m hub.probe http://127.0.0.1:8000/healthz\n"
    "       python -m hub.probe --fresh PATH SECONDS"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--fresh"]:
        max_age = _seconds(args[2]) if len(args) == 3 else None
        if max_age is None:
            print(USAGE, file=sys.stderr)
            return 2
        problem = fresh(args[1], max_age)
    elif len(args) == 1:
        problem = probe(args[0], host=probe_host(os.environ))
    else:
        print(USAGE, file=sys.stderr)
        return 2
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
