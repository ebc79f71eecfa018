"""``manage.py run_escalations``: escalate overdue acknowledgements and tasks, expire alerts."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hub.operations.escalation import run_forever, sweep


class Command(BaseCommand):
    help = "Run the escalation loop (alerts and tasks) from the database; safe to restart."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one sweep and exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=settings.HUB_ESCALATION_INTERVAL,
            help="Seconds between sweeps.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            result = sweep()
            self.stdout.write(
                f"escalated {len(result.alerts_escalated)} alert acknowledgements, "
                f"expired {len(result.alerts_expired)} alerts, "
                f"escalated {len(result.tasks_escalated)} tasks"
            )
            return
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"escalation loop running every {options['interval']}s")
        sweeps = run_forever(
            interval=options["interval"],
            should_stop=lambda: stopping,
            sleep=_interruptible(lambda: stopping),
        )
        self.stdout.write(f"escalation loop stopped after {sweeps} sweeps")


def _interruptible(stopping: Any) -> Any:
    import time

    def sleep(seconds: float) -> None:
        end = time.monotonic() + seconds
        while not stopping() and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    return sleep
