"""``manage.py audit_verify``: recompute every hash chain and check the signed
checkpoints; exit 1 on a broken link.

The command runs with the server's own rights and verifies every stream (or the
named ones): ``hub.events.permissions.OPERATOR``. Safe to run while the hub is
taking writes (``hub.events.audit``). ``--witness FILE`` also compares the
database's checkpoints with a witness file (``HUB_WITNESS_FILE`` or a copy of it).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.events.audit import verify, verify_witness


class Command(BaseCommand):
    help = (
        "Verify the tamper-evident hash chains of all (or the named) streams and the "
        "signed checkpoints they are recorded in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("streams", nargs="*", help="Stream names (default: all).")
        parser.add_argument("--json", action="store_true", help="Print a JSON report.")
        parser.add_argument(
            "--witness",
            type=Path,
            help="Also compare the checkpoints with this witness file (one JSON line each).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify(options["streams"] or None)
        witness_path: Path | None = options["witness"]
        witness = verify_witness(witness_path) if witness_path is not None else []
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": report.ok and not witness,
                        "streams_checked": report.streams_checked,
                        "events_checked": report.events_checked,
                        "checkpoints_checked": report.checkpoints_checked,
                        "broken": [asdict(b) for b in report.broken],
                        "witness": [asdict(b) for b in witness],
                    }
                )
            )
        else:
            if report.ok:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"OK: {report.streams_checked} streams, "
                        f"{report.events_checked} events, "
                        f"{report.checkpoints_checked} checkpoints verified."
                    )
                )
            for link in report.broken:
                self.stdout.write(f"BROKEN {link.describe()}")
            if witness_path is not None and not witness:
                self.stdout.write(
                    self.style.SUCCESS(f"OK: the checkpoints match the witness {witness_path}.")
                )
            for link in witness:
                self.stdout.write(f"WITNESS {link.describe()}")
        if not report.ok:
            first = report.first_broken
            assert first is not None
            raise CommandError(f"first broken link: {first.describe()}")
        if witness:
            raise CommandError(f"the witness file disagrees: {witness[0].describe()}")
