"""The escalation loop: overdue alert acknowledgements, expired alerts, overdue tasks.

It works from the database alone, with no timers held in memory: each sweep
asks what is due at ``now`` and claims each item with a conditional UPDATE, so a
restarted loop picks up exactly what was left and nothing fires twice, even
with two loops running or a loop killed in the middle of a claim (the claim's
transaction rolls back with it).

Failures are contained: every item is claimed in its own transaction, and an
item that fails is logged with its id and retried on the next sweep while the
items after it still escalate; a phase that fails as a whole (its listing
query) does not stop the other phases; a sweep that fails does not stop the
loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from django.db import close_old_connections
from django.utils import timezone

from hub.alerts.services import alerts_escalate_due, alerts_expire_due
from hub.operations.services import tasks_escalate_due

logger = logging.getLogger(__name__)

ClaimHook = Callable[[str], None]
T = TypeVar("T")


@dataclass
class SweepResult:
    alerts_escalated: list[tuple[int, str]] = field(default_factory=list)
    alerts_expired: list[int] = field(default_factory=list)
    tasks_escalated: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.alerts_escalated) + len(self.alerts_expired) + len(self.tasks_escalated)


def _phase(name: str, run: Callable[[], list[T]]) -> list[T]:
    try:
        return run()
    except Exception:
        logger.exception("escalation phase %s failed; retrying on the next sweep", name)
        return []


def sweep(now: datetime | None = None, *, on_claimed: ClaimHook | None = None) -> SweepResult:
    """One pass over everything due at ``now``.

    ``on_claimed`` is called inside each item's claim transaction (see the
    services); tests use it to stop a loop in the middle of a claim.
    """
    at = now or timezone.now()
    return SweepResult(
        alerts_escalated=_phase(
            "alerts_escalate_due", lambda: alerts_escalate_due(now=at, on_claimed=on_claimed)
        ),
        alerts_expired=_phase(
            "alerts_expire_due", lambda: alerts_expire_due(now=at, on_claimed=on_claimed)
        ),
        tasks_escalated=_phase(
            "tasks_escalate_due", lambda: tasks_escalate_due(now=at, on_claimed=on_claimed)
        ),
    )


def run_forever(
    *,
    interval: float,
    clock: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
    max_sweeps: int | None = None,
    on_claimed: ClaimHook | None = None,
    on_swept: Callable[[], None] | None = None,
) -> int:
    """Sweep every ``interval`` seconds until told to stop; returns the sweeps run.

    ``on_swept`` is called after each sweep that completed (not after a failed
    one): the command's heartbeat, which the container health check reads.
    """
    sweeps = 0
    while not should_stop() and (max_sweeps is None or sweeps < max_sweeps):
        close_old_connections()
        try:
            result = sweep(clock(), on_claimed=on_claimed)
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
        else:
            if on_swept is not None:
                on_swept()
        sweeps += 1
        if should_stop() or (max_sweeps is not None and sweeps >= max_sweeps):
            break
        sleep(interval)
    return sweeps
