"""``manage.py run_escalations``: the loop of every background job (``hub.jobs``).

It escalates overdue acknowledgements and tasks, expires alerts and reminds lead
coordinators of overdue situation reports; the name is the one deployments know.
"""

from __future__ import annotations

import argparse
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from hub.jobs.control import FileControl
from hub.jobs.runner import ClaimHook, run_forever, sweep


class Command(BaseCommand):
    help = (
        "Run the background jobs (alert and task escalation, alert expiry, situation "
        "report reminders, signed checkpoints of the record and their witness, evidence "
        "file derivatives and the discard of unreferenced evidence files) from the "
        "database; safe to restart."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one sweep and exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=settings.HUB_ESCALATION_INTERVAL,
            help="Seconds between sweeps.",
        )
        parser.add_argument(
            "--heartbeat",
            type=Path,
            help="Touch this file after every completed sweep (for a health check: "
            "python -m hub.probe --fresh PATH SECONDS).",
        )
        # Tests only (HUB_ENV=test): a file clock and a claim gate, see hub.jobs.control.
        parser.add_argument("--test-control", type=Path, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        clock: Callable[[], datetime] = timezone.now
        on_claimed: ClaimHook | None = None
        if options["test_control"] is not None:
            if settings.HUB_ENV != "test":
                raise CommandError("--test-control is for the test suite only (HUB_ENV=test).")
            control = FileControl(options["test_control"])
            clock, on_claimed = control.now, control.claimed
        heartbeat: Path | None = options["heartbeat"]

        def beat() -> None:
            if heartbeat is not None:
                heartbeat.parent.mkdir(parents=True, exist_ok=True)
                heartbeat.write_text(timezone.now().isoformat() + "\n")

        if options["once"]:
            result = sweep(clock(), on_claimed=on_claimed)
            beat()
            self.stdout.write(result.summary())
            return
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"escalation loop running every {options['interval']}s")
        self.stdout.flush()
        sweeps = run_forever(
            interval=options["interval"],
            clock=clock,
            should_stop=lambda: stopping,
            sleep=_interruptible(lambda: stopping),
            on_claimed=on_claimed,
            on_swept=beat,
        )
        self.stdout.write(f"escalation loop stopped after {sweeps} sweeps")


def _interruptible(stopping: Callable[[], bool]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        end = time.monotonic() + seconds
        while not stopping() and time.monotonic() < end:
            time.sleep(max(0.0, min(0.2, end - time.monotonic())))

    return sleep
