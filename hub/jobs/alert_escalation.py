"""Job: alert acknowledgements overdue. Each targeted agency that has not acknowledged
an active alert by its ``due_at`` is escalated once: ``alert.escalated`` on the
crossing point's stream (and the linked incident's), and an e-mail to the agency's
duty officers and coordinators serving the point (``hub.alerts.services``)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from hub.alerts.models import AlertStatus, AlertTarget
from hub.alerts.services import alert_target_escalate
from hub.jobs.claims import ClaimHook, claim_each

NAME = "alerts_escalate_due"


def due(now: datetime) -> QuerySet[AlertTarget]:
    """Targets overdue at ``now``. The claim re-checks each condition under the alert's
    lock, so an alert cancelled or acknowledged after this listing is not escalated."""
    return AlertTarget.objects.filter(
        acknowledged_at__isnull=True,
        escalated_at__isnull=True,
        due_at__lte=now,
        alert__ack_required=True,
        alert__status=AlertStatus.ACTIVE,
    ).exclude(alert__expires_at__lte=now)


def alerts_escalate_due(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None
) -> list[tuple[int, str]]:
    """Escalate every target overdue at ``now``, each exactly once; returns (alert, agency).

    Each target is its own transaction: one that fails (logged with its id) is
    rolled back and left for the next sweep, and the others still escalate.
    """
    at = now or timezone.now()
    ids = list(due(at).values_list("pk", flat=True).order_by("due_at", "pk"))

    def claim(target_id: int) -> tuple[int, str] | None:
        return alert_target_escalate(target_id=target_id, now=at, on_claimed=on_claimed)

    return claim_each(ids, claim, what="escalation of alert target")
