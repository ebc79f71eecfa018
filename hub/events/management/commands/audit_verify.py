"""``manage.py audit_verify``: recompute every hash chain; exit 1 on a broken link.

The command runs with the server's own rights and verifies every stream (or the
named ones): ``hub.events.permissions.OPERATOR``. Safe to run while the hub is
taking writes (``hub.events.audit``).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.events.audit import verify


class Command(BaseCommand):
    help = "Verify the tamper-evident hash chains of all (or the named) streams."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("streams", nargs="*", help="Stream names (default: all).")
        parser.add_argument("--json", action="store_true", help="Print a JSON report.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify(options["streams"] or None)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": report.ok,
                        "streams_checked": report.streams_checked,
                        "events_checked": report.events_checked,
                        "broken": [b.__dict__ for b in report.broken],
                    }
                )
            )
        elif report.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"OK: {report.streams_checked} streams, "
                    f"{report.events_checked} events verified."
                )
            )
        else:
            for link in report.broken:
                self.stdout.write(f"BROKEN {link.stream} seq {link.seq}: {link.reason}")
        if not report.ok:
            first = report.first_broken
            assert first is not None
            raise CommandError(f"first broken link: {first.stream} seq {first.seq}")
