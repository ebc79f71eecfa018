"""The loop that runs every job (``manage.py run_escalations``).

It works from the database alone, with no timers held in memory: each sweep asks
every job what is due at ``now``, and each job claims its items one by one
(``hub.jobs``), so a restarted loop picks up exactly what was left and nothing
fires twice, even with two loops running or a loop killed in the middle of a
claim (the claim's transaction rolls back with it).

Failures are contained: every item is claimed in its own transaction, and an
item that fails is logged with its id and retried on the next sweep while the
items after it still run; a job that fails as a whole (its listing query) does
not stop the other jobs; a sweep that fails does not stop the loop.
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

from hub.jobs import (
    alert_escalation,
    alert_expiry,
    attachment_cleanup,
    attachment_derivatives,
    checkpoints,
    sitrep_reminders,
    task_escalation,
)
from hub.jobs.claims import ClaimHook

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["ClaimHook", "SweepResult", "run_forever", "sweep"]


@dataclass
class SweepResult:
    """What one sweep claimed, job by job."""

    alerts_escalated: list[tuple[int, str]] = field(default_factory=list)  # (alert, agency)
    alerts_expired: list[int] = field(default_factory=list)  # alert ids
    tasks_escalated: list[int] = field(default_factory=list)  # task ids
    sitreps_reminded: list[str] = field(default_factory=list)  # incident:/operation: streams
    checkpoints_signed: list[int] = field(default_factory=list)  # checkpoint numbers
    witnessed: list[tuple[int, str]] = field(default_factory=list)  # (checkpoint, target)
    attachments_derived: list[int] = field(default_factory=list)  # attachment ids
    attachments_discarded: list[int] = field(default_factory=list)  # attachment ids
    orphans_deleted: list[str] = field(default_factory=list)  # storage names

    @property
    def total(self) -> int:
        """Items claimed by the due-work jobs (checkpoints are counted on their own)."""
        return (
            len(self.alerts_escalated)
            + len(self.alerts_expired)
            + len(self.tasks_escalated)
            + len(self.sitreps_reminded)
        )

    def summary(self) -> str:
        return (
            f"escalated {len(self.alerts_escalated)} alert acknowledgements, "
            f"expired {len(self.alerts_expired)} alerts, "
            f"escalated {len(self.tasks_escalated)} tasks, "
            f"reminded {len(self.sitreps_reminded)} situation reports, "
            f"signed {len(self.checkpoints_signed)} checkpoints"
        )


def _job(name: str, run: Callable[[], list[T]]) -> list[T]:
    try:
        return run()
    except Exception:
        logger.exception("escalation phase %s failed; retrying on the next sweep", name)
        return []


def sweep(now: datetime | None = None, *, on_claimed: ClaimHook | None = None) -> SweepResult:
    """One pass of every job over what is due at ``now``.

    ``on_claimed`` is called inside each item's claim transaction (see
    ``hub.jobs.claims``); tests use it to stop a loop in the middle of a claim.
    Each job is looked up on its module at call time, so a test can replace one.
    """
    at = now or timezone.now()
    return SweepResult(
        alerts_escalated=_job(
            alert_escalation.NAME,
            lambda: alert_escalation.alerts_escalate_due(now=at, on_claimed=on_claimed),
        ),
        alerts_expired=_job(
            alert_expiry.NAME,
            lambda: alert_expiry.alerts_expire_due(now=at, on_claimed=on_claimed),
        ),
        tasks_escalated=_job(
            task_escalation.NAME,
            lambda: task_escalation.tasks_escalate_due(now=at, on_claimed=on_claimed),
        ),
        sitreps_reminded=_job(
            sitrep_reminders.NAME,
            lambda: sitrep_reminders.sitreps_remind_due(now=at, on_claimed=on_claimed),
        ),
        checkpoints_signed=_job(
            checkpoints.NAME,
            lambda: checkpoints.checkpoints_sign_due(now=at, on_claimed=on_claimed),
        ),
        witnessed=_job(
            checkpoints.WITNESS_NAME,
            lambda: checkpoints.witness_deliver(now=at, on_claimed=on_claimed),
        ),
        attachments_derived=_job(
            attachment_derivatives.NAME,
            lambda: attachment_derivatives.attachments_derive_pending(
                now=at, on_claimed=on_claimed
            ),
        ),
        attachments_discarded=_job(
            attachment_cleanup.NAME,
            lambda: attachment_cleanup.attachments_discard_unreferenced(
                now=at, on_claimed=on_claimed
            ),
        ),
        orphans_deleted=_job(
            attachment_cleanup.ORPHANS_NAME,
            lambda: attachment_cleanup.attachments_discard_orphans_due(now=at),
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
            if result.attachments_derived:
                logger.info("derivatives: %d images", len(result.attachments_derived))
            if result.attachments_discarded or result.orphans_deleted:
                logger.info(
                    "evidence files: %d unreferenced discarded, %d orphan objects deleted",
                    len(result.attachments_discarded),
                    len(result.orphans_deleted),
                )
            if result.total or result.checkpoints_signed or result.witnessed:
                logger.info(
                    "escalations: %d alert acknowledgements overdue, %d alerts expired, "
                    "%d tasks overdue, %d situation reports overdue, %d checkpoints signed, "
                    "%d witness deliveries",
                    len(result.alerts_escalated),
                    len(result.alerts_expired),
                    len(result.tasks_escalated),
                    len(result.sitreps_reminded),
                    len(result.checkpoints_signed),
                    len(result.witnessed),
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
