"""``manage.py verify_export FILE [--public-key FILE]``: verify an export offline.

It touches no database and runs no system checks: it only calls the pure verifier
(``hub.record.verify``), exactly as ``python -m hub.record.verify`` does. Exit 0:
verified, with what was proved; exit 1: the first problem, named.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from hub.record.verify import run


class Command(BaseCommand):
    help = (
        "Verify a JSON export offline (chain, checkpoint signature, inclusion proof); "
        "exit 0 if verified, 1 naming the first problem. Touches no database."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the JSON export")
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            help="the hub's Ed25519 public key (PEM); repeat for older keys. Without "
            "it, only the key embedded in the file is used (self-consistency only).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = run(options["file"], options["public_key"], out=self.stdout)
        if code:
            raise SystemExit(code)
