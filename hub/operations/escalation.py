"""The escalation loop: overdue alert acknowledgements, expired alerts, overdue tasks.

It works from the database alone, with no timers held in memory: each sweep
asks what is due at ``now`` and claims each item with a conditional UPDATE, so a
restarted loop picks up exactly what was left and nothing fires twice, even
with two loops running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import close_old_connections
from django.utils import timezone

from hub.alerts.services import alerts_escalate_due, alerts_expire_due
from hub.operations.services import tasks_escalate_due

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    alerts_escalated: list[tuple[int, str]] = field(default_factory=list)
    alerts_expired: list[int] = field(default_factory=list)
    tasks_escalated: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.alerts_escalated) + len(self.alerts_expired) + len(self.tasks_escalated)


def sweep(now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    return SweepResult(
        alerts_escalated=alerts_escalate_due(now=now),
        alerts_expired=alerts_expire_due(now=now),
        tasks_escalated=tasks_escalate_due(now=now),
    )


def run_forever(
    *,
    interval: float,
    clock: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
    max_sweeps: int | None = None,
) -> int:
    """Sweep every ``interval`` seconds until told to stop; returns the sweeps run."""
    sweeps = 0
    while not should_stop() and (max_sweeps is None or sweeps < max_sweeps):
        close_old_connections()
        try:
            result = sweep(clock())
            if result.total:
                logger.info(
                    "escalations: %d alert acknowledgements overdue, %d alerts expired, "
                    "%d tasks overdue",
                    len(result.alerts_escalated),
                    len(result.alerts_expired),
                    len(result.tasks_escalated),
                )
        except Exception:
            logger.exception("escalation sweep failed; retrying next interval")
        sweeps += 1
        if should_stop() or (max_sweeps is not None and sweeps >= max_sweeps):
            break
        sleep(interval)
    return sweeps
