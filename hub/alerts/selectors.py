"""Reads of alerts, scoped to what the caller may see."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from hub.agencies.access import READER_ROLES, Access
from hub.agencies.models import CrossingPoint
from hub.alerts.models import Alert, AlertStatus, AlertTarget
from hub.alerts.permissions import AlertFacts, can_read_crossing
from hub.security import log_denial


def alert_facts(alert: Alert) -> AlertFacts:
    rows = list(
        AlertTarget.objects.filter(alert_id=alert.pk).values_list("agency_id", "acknowledged_at")
    )
    return AlertFacts(
        id=alert.pk,
        crossing_point_id=alert.crossing_point_id,
        issuing_agency_id=alert.issuing_agency_id,
        issued_by_id=alert.issued_by_id,
        status=alert.status,
        target_agency_ids=frozenset(a for a, _ in rows),
        acknowledged_agency_ids=frozenset(a for a, at in rows if at is not None),
    )


def _base() -> QuerySet[Alert]:
    return Alert.objects.select_related(
        "crossing_point", "issuing_agency", "issued_by", "incident"
    ).prefetch_related(
        Prefetch(
            "target_rows",
            queryset=AlertTarget.objects.select_related("agency", "acknowledged_by").order_by(
                "agency__code"
            ),
        )
    )


def point_for(access: Access, code: str, *, action: str) -> CrossingPoint | None:
    """The crossing point if the caller may read its alerts (refusals are logged)."""
    if not isinstance(code, str) or len(code) > 6:
        return None
    point = CrossingPoint.objects.filter(code=code, is_active=True).first()
    if point is None:
        return None
    if not can_read_crossing(access, point.pk):
        log_denial(access, action=action, target=code, reason="does not serve this crossing point")
        return None
    return point


def alert_for(access: Access, alert_id: int, *, action: str = "alert.read") -> Alert | None:
    if isinstance(alert_id, bool) or not isinstance(alert_id, int) or not 0 < alert_id < 2**62:
        return None
    alert = _base().filter(pk=alert_id).first()
    if alert is None:
        return None
    if not can_read_crossing(access, alert.crossing_point_id):
        log_denial(
            access, action=action, target=str(alert_id), reason="does not serve this crossing point"
        )
        return None
    return alert


def alert_readable_point_ids(access: Access) -> frozenset[int]:
    """The crossing points whose alerts the caller reads (``can_read_crossing``), for
    queries over many alerts (search); the same rule as ``alert_for``."""
    return frozenset(p for p in access.crossing_point_ids if can_read_crossing(access, p))


def is_expired(alert: Alert, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return alert.status == AlertStatus.EXPIRED or (
        alert.expires_at is not None and alert.expires_at <= now
    )


def alerts_at(point: CrossingPoint, *, current_only: bool, limit: int = 100) -> list[Alert]:
    """Newest first; ``current_only`` leaves out cancelled and expired alerts."""
    qs = _base().filter(crossing_point=point)
    if current_only:
        now = timezone.now()
        qs = qs.filter(status=AlertStatus.ACTIVE).exclude(expires_at__lte=now)
    return list(qs.order_by("-id")[: max(1, min(limit, 500))])


def pending_alerts_for(access: Access, crossing_point_ids: set[int] | None = None) -> list[Alert]:
    """Active alerts that one of the caller's agencies has yet to acknowledge."""
    now = timezone.now()
    pairs: set[tuple[int, int]] = set()
    for grant in access.grants:
        if grant.role in READER_ROLES:
            for point in grant.crossing_point_ids:
                if crossing_point_ids is None or point in crossing_point_ids:
                    pairs.add((point, grant.agency_id))
    if not pairs:
        return []
    points = {p for p, _ in pairs}
    agencies = {a for _, a in pairs}
    rows = (
        AlertTarget.objects.filter(
            alert__crossing_point_id__in=points,
            agency_id__in=agencies,
            acknowledged_at__isnull=True,
            alert__ack_required=True,
            alert__status=AlertStatus.ACTIVE,
        )
        .exclude(alert__expires_at__lte=now)
        .values_list("alert_id", "alert__crossing_point_id", "agency_id")
    )
    ids = sorted({alert_id for alert_id, point, agency in rows if (point, agency) in pairs})
    return list(_base().filter(pk__in=ids).order_by("id"))


# --- stream registration -----------------------------------------------------------


def crossing_stream_readable(access: Access, key: str) -> bool:
    return point_for(access, key, action="stream.read") is not None


def crossing_stream_names(access: Access) -> list[str]:
    points = CrossingPoint.objects.filter(pk__in=access.crossing_point_ids).values_list(
        "pk", "code"
    )
    return [f"crossing:{code}" for pk, code in points if can_read_crossing(access, pk)]
