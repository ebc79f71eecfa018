"""Job: alerts past their expiry are marked expired once, with ``alert.expired``
(``hub.alerts.services.alert_expire``)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hub.alerts.models import Alert, AlertStatus
from hub.alerts.services import alert_expire
from hub.jobs.claims import ClaimHook, claim_each

NAME = "alerts_expire_due"


def alerts_expire_due(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None
) -> list[int]:
    """Expire every alert past its expiry at ``now``, each exactly once; returns their ids.

    One transaction per alert; a failure is logged with the alert's id and the
    alert is retried on the next sweep.
    """
    at = now or timezone.now()
    ids = list(
        Alert.objects.filter(status=AlertStatus.ACTIVE, expires_at__lte=at)
        .order_by("expires_at", "pk")
        .values_list("pk", flat=True)
    )

    def claim(alert_id: int) -> int | None:
        return alert_id if alert_expire(alert_id=alert_id, now=at, on_claimed=on_claimed) else None

    return claim_each(ids, claim, what="expiry of alert")
