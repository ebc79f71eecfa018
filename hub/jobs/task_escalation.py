"""Job: overdue tasks of active operations are escalated once: ``task.overdue`` on the
operation's stream (progress on the linked incident's) and an e-mail to whoever owns
the task (``hub.operations.services.task_escalate``)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from hub.jobs.claims import ClaimHook, claim_each
from hub.operations.models import OperationStatus, Task
from hub.operations.services import task_escalate

NAME = "tasks_escalate_due"


def due(now: datetime) -> QuerySet[Task]:
    """Tasks overdue at ``now``; the claim re-checks each condition under the
    operation's lock (a task done after this listing is not escalated)."""
    return Task.objects.filter(
        escalated_at__isnull=True,
        removed_at__isnull=True,
        due_at__lte=now,
        status__in=["open", "in_progress", "blocked"],
        operation__status=OperationStatus.ACTIVE,
    )


def tasks_escalate_due(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None
) -> list[int]:
    """Flag and escalate every task overdue at ``now``, each exactly once; returns their ids.

    Each task is its own transaction: one that fails is logged with its id,
    rolled back and retried on the next sweep, and the others still escalate.
    """
    at = now or timezone.now()
    ids = list(due(at).values_list("pk", flat=True).order_by("due_at", "pk"))

    def claim(task_id: int) -> int | None:
        return task_id if task_escalate(task_id=task_id, now=at, on_claimed=on_claimed) else None

    return claim_each(ids, claim, what="escalation of task")
