"""``manage.py seed_demo``: load the demo region and activity, print the logins.

Idempotent: reference data converges with update_or_create, the SOP checklists
load exactly as ``manage.py load_sops`` loads them (a new version only when
changed), and activity (incidents, messages, alerts, operations) goes through
the services with fixed client_msg_ids. The document-fraud and trafficking demo
incidents get generated specimen pictures and letters as evidence files
(``hub.demo.evidence``), referred to from their chat, with derivatives made at
once. On a fresh database it first writes
five weeks of history at every crossing point (``hub.demo.history``), each step
at its own past instant, so review, search and metrics have a record to show.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.agencies.demo import DEMO_PASSWORD, seed_reference_data
from hub.demo.activity import seed_activity
from hub.demo.evidence import seed_evidence
from hub.demo.history import SPAN, seed_history
from hub.incidents.demo import seed_incidents
from hub.operations.sops import load_sops


class Command(BaseCommand):
    help = "Create or refresh the demo crossing points, agencies and officers (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet-logins", action="store_true", help="Do not print the demo logins."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.HUB_ENV == "production":
            raise CommandError(
                "seed_demo creates users with a published password; "
                "it refuses to run with HUB_ENV=production."
            )
        logins = seed_reference_data()
        templates = load_sops()  # the same code as manage.py load_sops
        # The weeks of history first, so each stream's events stay in time order.
        history = seed_history()
        incidents = seed_incidents()
        seed_activity()
        evidence = seed_evidence(incidents)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(logins)} demo officers, {len(templates)} SOP checklists, "
                f"{len(incidents)} incidents ({', '.join(sorted(incidents.values()))}), "
                "alerts and a joint operation."
            )
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Evidence files: {evidence.files} on {', '.join(evidence.incidents)} "
                f"({evidence.added} added this time, {evidence.derived} derived)."
            )
        )
        if history.skipped:
            self.stdout.write(
                "History left out: this database has the demo activity without it "
                "(weeks of past events after it would be out of time order); "
                "seed a fresh database for it."
            )
        else:
            per_point = ", ".join(f"{p} {n}" for p, n in sorted(history.incidents.items()))
            self.stdout.write(
                self.style.SUCCESS(
                    f"History: {(SPAN.days + 6) // 7} weeks before now, "
                    f"{sum(history.incidents.values())} incidents ({per_point}), "
                    f"{history.alerts} alerts, {history.operations} joint operations; "
                    f"{history.written} events written this time."
                )
            )
        if options["quiet_logins"]:
            return
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        self.stdout.write(
            f"  {'username':<16} {'role':<16} {'agency':<7} {'crossing points':<24} name"
        )
        for login in logins:
            self.stdout.write(
                f"  {login.username:<16} {login.role:<16} {login.agency:<7} "
                f"{','.join(login.crossing_points):<24} {login.name}"
            )
        self.stdout.write("")
        self.stdout.write("Admin site: log in as any *.admin user (reference data) at /admin/.")
