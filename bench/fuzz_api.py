"""The long API fuzz run (``make soak``): ``python -m bench.fuzz_api --max-examples 200``.

The same run as tests/integration/test_api_fuzz.py (``bench.api_fuzzing``: every
operation of /api/v1/openapi.json, every schemathesis check, as a duty officer, a
coordinator and a senior official), with more examples per operation. It makes a
fresh SQLite database in a temporary directory (or uses ``--database-url``, which it
migrates and seeds: never point it at data anyone needs), seeds the demo data, and
sends the requests in process to Django's WSGI handler, or with ``--daphne`` over
HTTP to a ``daphne hub.asgi:application`` it starts on that database.

Prints the operations, requests, answers by status and failures by check, then each
distinct finding with a curl to reproduce it; exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--daphne", action="store_true", help="through a real Daphne worker")
    parser.add_argument(
        "--only", help="only operations whose label contains one of these (comma-separated)"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="hub-fuzz-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'fuzz.sqlite3'}"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.fuzz_settings"
    os.environ.setdefault("HUB_TEST_ATTACHMENTS_DIR", str(workdir / "attachments"))
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command

    from bench.api_fuzzing import Target, fuzz, seed_world

    call_command("migrate", verbosity=0)
    seed_world()

    server = None
    if args.daphne:
        from django.db import connections

        from bench.harness import free_port, start_daphne

        connections.close_all()
        port = free_port()
        server = start_daphne("hub.asgi:application", dict(os.environ), port, name="fuzz")
        target = Target(base_url=f"http://127.0.0.1:{port}")
    else:
        from django.core.wsgi import get_wsgi_application

        target = Target(app=get_wsgi_application())

    started = time.monotonic()
    try:
        report = fuzz(
            target,
            max_examples=args.max_examples,
            include=(
                (lambda label: any(part in label for part in args.only.split(",")))
                if args.only
                else None
            ),
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print(f"API fuzz: max_examples={args.max_examples}, {'daphne' if server else 'in process'}")
    print(f"database: {database_url}")
    print(f"seconds: {time.monotonic() - started:.0f}")
    print(report.summary())
    if report.findings:
        print()
        print(report.details())
    return 1 if report.findings or report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
