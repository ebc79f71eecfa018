"""Writes on alerts: issue, update, cancel, acknowledge, escalate, expire.

Each write appends its event to ``crossing:<CODE>`` (and, for an alert linked
to an incident, to ``incident:<REF>``) in the same transaction, which
publishes after commit. Client writes are idempotent on ``client_msg_id``.
Escalation and expiry are jobs of the background loop (``hub.jobs``, run by
``manage.py run_escalations``), which lists what is due and calls
``alert_target_escalate`` or ``alert_expire`` for each item: a conditional
UPDATE claims it, so a restart loses none and none fires twice. Every function
takes ``now`` so tests can drive a clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access, Decision
from hub.agencies.models import Agency, CrossingPoint, Deployment, Role
from hub.agencies.selectors import access_for
from hub.alerts import permissions as perms
from hub.alerts.cap import CapAlert, incident_note, parse_cap
from hub.alerts.models import (
    Alert,
    AlertCategory,
    AlertSeverity,
    AlertStatus,
    AlertTarget,
    Certainty,
    Urgency,
)
from hub.alerts.notify import notify_officers
from hub.alerts.selectors import alert_facts, is_expired
from hub.errors import Conflict, InvalidInput, NotFound
from hub.events.idempotency import Written, new_client_msg_id, run_idempotent
from hub.events.models import Event, WriteReceipt
from hub.events.pipeline import emit, lock_streams
from hub.events.types import (
    AlertAcknowledged,
    AlertCancelled,
    AlertEscalated,
    AlertExpired,
    AlertIssued,
    AlertUpdated,
    FieldChange,
)
from hub.incidents.models import Incident
from hub.incidents.permissions import can_read_incident
from hub.incidents.selectors import incident_facts
from hub.security import acting_agency, refuse
from hub.text import clean_text

MAX_TITLE = 200
MAX_BODY = 10_000
MAX_REASON = 500
DEFAULT_URGENCY = {
    "critical": "Immediate",
    "high": "Immediate",
    "medium": "Expected",
    "low": "Future",
}
UPDATABLE = ("title", "body", "category", "severity", "urgency", "certainty", "expires_at")


@dataclass(frozen=True)
class AlertResult:
    alert: Alert
    stream: str
    seq: int
    duplicate: bool = False


def ack_window(severity: str) -> timedelta:
    """How long targeted agencies have to acknowledge (settings.HUB_ALERT_ACK_WINDOWS)."""
    seconds: int = settings.HUB_ALERT_ACK_WINDOWS[severity]
    return timedelta(seconds=seconds)


# --- validation ---------------------------------------------------------------------


def _text(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    return clean_text(value, field=field, max_length=max_length, required=required)


def _choice(value: Any, *, field: str, choices: type[Any]) -> str:
    allowed = [c.value for c in choices]
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of: {', '.join(allowed)}.")
    return str(value)


def _expiry(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise InvalidInput("expires_at must be a date and time with a time zone.")
    if value <= now:
        raise InvalidInput("expires_at must be in the future.")
    return value.replace(microsecond=0)  # CAP carries whole seconds


def _json(value: Any) -> str | int | None:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int):
        return value
    return str(value)


# --- helpers ---------------------------------------------------------------------------


def _acting(access: Access, decision: Decision, *, action: str, target: str) -> Agency:
    return acting_agency(access, decision, action=action, target=target)


def _locked_alert(access: Access, alert_id: int, *, action: str) -> Alert:
    if isinstance(alert_id, bool) or not isinstance(alert_id, int) or not 0 < alert_id < 2**62:
        raise NotFound("Not found.")
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("crossing_point", "incident", "issuing_agency")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        raise NotFound("Not found.")
    if not perms.can_read_crossing(access, alert.crossing_point_id):
        refuse(
            access,
            action=action,
            target=str(alert_id),
            reason="does not serve this crossing point",
            hide=True,
        )
    return alert


def _streams(alert: Alert) -> list[str]:
    names = [alert.stream_name]
    if alert.incident is not None:
        names.append(alert.incident.stream_name)
    return names


def _emit_all(
    alert: Alert, payload: Any, actor: User | None, agency: Agency | None, at: datetime
) -> int:
    """Emit on the crossing stream (and the linked incident's); returns the crossing seq."""
    lock_streams(_streams(alert))
    event = emit(stream=alert.stream_name, payload=payload, actor=actor, agency=agency, at=at)
    if alert.incident is not None:
        emit(stream=alert.incident.stream_name, payload=payload, actor=actor, agency=agency, at=at)
    return event.seq


def _replay(receipt: WriteReceipt) -> AlertResult:
    alert = Alert.objects.select_related("crossing_point").get(pk=int(receipt.object_id))
    return AlertResult(alert=alert, stream=receipt.stream, seq=receipt.seq or 0, duplicate=True)


def _live(alert: Alert, now: datetime) -> None:
    if alert.status == AlertStatus.CANCELLED:
        raise Conflict(f"Alert {alert.pk} was cancelled.", code="alert_cancelled")
    if is_expired(alert, now):
        raise Conflict(f"Alert {alert.pk} has expired.", code="alert_expired")


# --- issue --------------------------------------------------------------------------


def alert_issue(
    *,
    actor: User,
    crossing_point: str,
    category: str,
    severity: str,
    title: str,
    body: str = "",
    expires_at: datetime | None = None,
    targets: list[str] | None = None,
    ack_required: bool = True,
    incident: str | None = None,
    is_exercise: bool = False,
    urgency: str | None = None,
    certainty: str | None = None,
    agency: str | None = None,
    client_msg_id: uuid.UUID | None = None,
    source_identifier: str = "",
    now: datetime | None = None,
) -> AlertResult:
    """Issue an alert at a crossing point to the targeted agencies (default: all others there)."""
    now = now or timezone.now()
    access = access_for(actor)
    clean = {
        "title": _text(title, field="title", max_length=MAX_TITLE),
        "body": _text(body, field="body", max_length=MAX_BODY, required=False),
        "category": _choice(category, field="category", choices=AlertCategory),
        "severity": _choice(severity, field="severity", choices=AlertSeverity),
    }
    clean["urgency"] = _choice(
        urgency or DEFAULT_URGENCY[clean["severity"]], field="urgency", choices=Urgency
    )
    clean["certainty"] = _choice(certainty or "Likely", field="certainty", choices=Certainty)
    expiry = _expiry(expires_at, now)
    if not isinstance(ack_required, bool) or not isinstance(is_exercise, bool):
        raise InvalidInput("ack_required and is_exercise must be true or false.")
    if targets is not None and (
        not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)
    ):
        raise InvalidInput("targets must be a list of agency codes.")
    request = {
        **clean,
        "crossing_point": crossing_point,
        "expires_at": expiry,
        "targets": sorted(targets) if targets is not None else None,
        "ack_required": ack_required,
        "incident": incident,
        "is_exercise": is_exercise,
        "agency": agency,
    }

    def write() -> tuple[AlertResult, Written]:
        point = CrossingPoint.objects.filter(code=crossing_point, is_active=True).first()
        if point is None or not perms.can_read_crossing(access, point.pk):
            refuse(
                access,
                action="alert.issue",
                target=str(crossing_point)[:20],
                reason="does not serve this crossing point",
                hide=True,
            )
        acting = _acting(
            access,
            perms.can_issue_alert(access, crossing_point_id=point.pk, agency_code=agency),
            action="alert.issue",
            target=point.code,
        )
        deployed = {
            d.agency.code: d.agency
            for d in Deployment.objects.filter(
                crossing_point=point, is_active=True, agency__is_active=True
            ).select_related("agency")
        }
        if targets is None:
            chosen = [a for code, a in sorted(deployed.items()) if code != acting.code]
        else:
            unknown = sorted(set(targets) - set(deployed))
            if unknown:
                raise InvalidInput(
                    f"Not deployed at {point.code}: {', '.join(unknown)}.",
                    code="agency_not_deployed",
                )
            chosen = [deployed[code] for code in sorted(set(targets))]
        if not chosen:
            raise InvalidInput("An alert needs at least one targeted agency.")
        linked: Incident | None = None
        if incident is not None:
            linked = Incident.objects.filter(ref=incident).select_related("crossing_point").first()
            if linked is None or not can_read_incident(access, incident_facts(linked)):
                raise NotFound("No such incident.")
            if linked.crossing_point_id != point.pk:
                raise InvalidInput("The incident is at another crossing point.")
        alert = Alert.objects.create(
            crossing_point=point,
            issued_by=actor,
            issuing_agency=acting,
            expires_at=expiry,
            is_exercise=is_exercise,
            ack_required=ack_required,
            incident=linked,
            source_identifier=source_identifier[:300],
            created_at=now,
            updated_at=now,
            **clean,
        )
        due = now + ack_window(alert.severity) if ack_required else None
        AlertTarget.objects.bulk_create(
            [AlertTarget(alert=alert, agency=a, due_at=due) for a in chosen]
        )
        payload = AlertIssued(
            alert_id=alert.pk,
            version=1,
            crossing_point=point.code,
            category=alert.category,
            severity=alert.severity,
            urgency=alert.urgency,
            certainty=alert.certainty,
            title=alert.title,
            body=alert.body,
            expires_at=expiry,
            exercise=is_exercise,
            ack_required=ack_required,
            targets=[a.code for a in chosen],
            due_at=due,
            incident=linked.ref if linked else None,
            issuing_agency=acting.code,
        )
        seq = _emit_all(alert, payload, actor, acting, now)
        return (
            AlertResult(alert, alert.stream_name, seq),
            Written(alert.stream_name, seq, str(alert.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="alert.issue",
        request=request,
        write=write,
        replay=_replay,
    )


# --- update and cancel ---------------------------------------------------------------


def alert_update(
    *,
    actor: User,
    alert_id: int,
    changes: dict[str, Any],
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> AlertResult:
    """Change an active alert: a new version, with the old values in the record.

    A severity change also moves the acknowledgement deadline of the targets
    that still owe one (``_reschedule_acknowledgements``: the new severity's
    window from the issue time); the event's ``changes`` then carry ``due_at``.
    """
    now = now or timezone.now()
    access = access_for(actor)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    validators = {
        "title": lambda v: _text(v, field="title", max_length=MAX_TITLE),
        "body": lambda v: _text(v, field="body", max_length=MAX_BODY, required=False),
        "category": lambda v: _choice(v, field="category", choices=AlertCategory),
        "severity": lambda v: _choice(v, field="severity", choices=AlertSeverity),
        "urgency": lambda v: _choice(v, field="urgency", choices=Urgency),
        "certainty": lambda v: _choice(v, field="certainty", choices=Certainty),
        "expires_at": lambda v: _expiry(v, now),
    }
    clean = {name: validators[name](value) for name, value in changes.items()}

    def write() -> tuple[AlertResult, Written]:
        alert = _locked_alert(access, alert_id, action="alert.update")
        acting = _acting(
            access,
            perms.can_change_alert(access, alert_facts(alert)),
            action="alert.update",
            target=str(alert_id),
        )
        _live(alert, now)
        diff = {}
        for name, value in clean.items():
            old = getattr(alert, name)
            if old != value:
                diff[name] = FieldChange(old=_json(old), new=_json(value))
                setattr(alert, name, value)
        if not diff:
            raise Conflict("Nothing would change.", code="no_change")
        alert.version += 1
        alert.updated_at = now
        alert.save(update_fields=[*diff, "version", "updated_at"])
        if "severity" in diff and alert.ack_required:
            moved = _reschedule_acknowledgements(alert)
            if moved is not None:
                diff["due_at"] = moved
        payload = AlertUpdated(
            alert_id=alert.pk, version=alert.version, exercise=alert.is_exercise, changes=diff
        )
        seq = _emit_all(alert, payload, actor, acting, now)
        return AlertResult(alert, alert.stream_name, seq), Written(
            alert.stream_name, seq, str(alert.pk)
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="alert.update",
        request={"alert_id": alert_id, "changes": changes},
        write=write,
        replay=_replay,
    )


def _reschedule_acknowledgements(alert: Alert) -> FieldChange | None:
    """After a severity change: the new window, counted from the alert's issue time.

    Targets still owing an acknowledgement (neither acknowledged nor escalated)
    are due at ``created_at + ack_window(new severity)``: raising the severity
    shortens the deadline (possibly into the past, so the next sweep escalates
    at once: an agency that has not acknowledged a critical alert within the
    critical window is overdue), lowering it lengthens it. Acknowledged and
    escalated targets keep theirs. Caller holds the alert's row lock.
    """
    pending = AlertTarget.objects.filter(
        alert=alert, acknowledged_at__isnull=True, escalated_at__isnull=True
    )
    old = pending.exclude(due_at__isnull=True).order_by("due_at").values_list("due_at", flat=True)
    previous = old.first()
    new_due = alert.created_at + ack_window(alert.severity)
    if previous is None or (previous == new_due and old.last() == new_due):
        return None
    pending.update(due_at=new_due)
    return FieldChange(old=_json(previous), new=_json(new_due))


def alert_cancel(
    *,
    actor: User,
    alert_id: int,
    reason: str,
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> AlertResult:
    """Withdraw an alert; the original stays in the record."""
    now = now or timezone.now()
    access = access_for(actor)
    why = _text(reason, field="reason", max_length=MAX_REASON)

    def write() -> tuple[AlertResult, Written]:
        alert = _locked_alert(access, alert_id, action="alert.cancel")
        acting = _acting(
            access,
            perms.can_change_alert(access, alert_facts(alert)),
            action="alert.cancel",
            target=str(alert_id),
        )
        _live(alert, now)
        alert.status = AlertStatus.CANCELLED
        alert.cancel_reason = why
        alert.cancelled_at = now
        alert.version += 1
        alert.updated_at = now
        alert.save(
            update_fields=["status", "cancel_reason", "cancelled_at", "version", "updated_at"]
        )
        payload = AlertCancelled(
            alert_id=alert.pk, version=alert.version, exercise=alert.is_exercise, reason=why
        )
        seq = _emit_all(alert, payload, actor, acting, now)
        return AlertResult(alert, alert.stream_name, seq), Written(
            alert.stream_name, seq, str(alert.pk)
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="alert.cancel",
        request={"alert_id": alert_id, "reason": why},
        write=write,
        replay=_replay,
    )


# --- acknowledge ------------------------------------------------------------------------


def alert_acknowledge(
    *,
    actor: User,
    alert_id: int,
    client_msg_id: uuid.UUID,
    agency: str | None = None,
    now: datetime | None = None,
) -> AlertResult:
    """Acknowledge for the officer's (targeted) agency. A repeat returns the same seq."""
    now = now or timezone.now()
    access = access_for(actor)

    def write() -> tuple[AlertResult, Written]:
        alert = _locked_alert(access, alert_id, action="alert.acknowledge")
        facts = alert_facts(alert)
        acting = _acting(
            access,
            perms.can_acknowledge_alert(access, facts, agency_code=agency),
            action="alert.acknowledge",
            target=str(alert_id),
        )
        _live(alert, now)
        target = (
            AlertTarget.objects.select_for_update(of=("self",))
            .select_related("acknowledged_by")
            .get(alert=alert, agency_id=acting.pk)
        )
        if target.acknowledged_at is not None:
            who = target.acknowledged_by.display_name if target.acknowledged_by else "someone"
            raise Conflict(
                f"{acting.code} already acknowledged alert {alert.pk} ({who}).",
                code="already_acknowledged",
            )
        target.acknowledged_at = now
        target.acknowledged_by = actor
        pending = (
            sorted(
                AlertTarget.objects.filter(alert=alert, acknowledged_at__isnull=True)
                .exclude(pk=target.pk)
                .values_list("agency__code", flat=True)
            )
            if alert.ack_required
            else []
        )
        payload = AlertAcknowledged(
            alert_id=alert.pk, exercise=alert.is_exercise, agency=acting.code, pending=pending
        )
        seq = _emit_all(alert, payload, actor, acting, now)
        target.ack_seq = seq
        target.save(update_fields=["acknowledged_at", "acknowledged_by", "ack_seq"])
        return AlertResult(alert, alert.stream_name, seq), Written(
            alert.stream_name, seq, str(alert.pk)
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id,
        action="alert.acknowledge",
        request={"alert_id": alert_id, "agency": agency},
        write=write,
        replay=_replay,
    )


# --- escalation and expiry (claimed one item at a time by hub.jobs) -----------------------


def officers_to_notify(agency_id: int, crossing_point_id: int) -> list[User]:
    """Duty officers and coordinators of the agency serving the crossing point."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__agency_id=agency_id,
            memberships__is_active=True,
            memberships__role__in=[Role.DUTY_OFFICER, Role.COORDINATOR],
            memberships__crossing_points__id=crossing_point_id,
        )
        .distinct()
        .order_by("username")
    )


ClaimHook = Callable[[str], None]


def alert_target_escalate(
    *, target_id: int, now: datetime, on_claimed: ClaimHook | None = None
) -> tuple[int, str] | None:
    """Claim one overdue target and escalate it, in one transaction, at most once ever;
    returns (alert, agency), or None when there was nothing (any more) to escalate.

    Called by the job loop (``hub.jobs.alert_escalation``), which lists the targets
    due; the claim re-checks every condition. ``on_claimed`` (instrumentation and
    tests) is called inside the claim's transaction, after its event is written,
    with ``"alert-target:<id>"``; raising from it rolls the claim back.

    Locks are taken as the services take them — the alert row first, then the
    target — so an escalation and an acknowledgement or cancellation queue
    behind each other instead of deadlocking. Under the alert's lock each
    runner sees the last committed state: a target already escalated or
    acknowledged, or an alert cancelled or expired meanwhile, is left alone.
    """
    alert_id = AlertTarget.objects.filter(pk=target_id).values_list("alert_id", flat=True).first()
    if alert_id is None:
        return None
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("crossing_point", "incident")
            .get(pk=alert_id)
        )
        if (
            alert.status != AlertStatus.ACTIVE
            or not alert.ack_required
            or (alert.expires_at is not None and alert.expires_at <= now)
        ):
            return None
        claimed = AlertTarget.objects.filter(
            pk=target_id,
            escalated_at__isnull=True,
            acknowledged_at__isnull=True,
            due_at__lte=now,
        ).update(escalated_at=now)
        if not claimed:
            return None
        target = AlertTarget.objects.select_related("agency").get(pk=target_id)
        officers = officers_to_notify(target.agency_id, alert.crossing_point_id)
        assert target.due_at is not None
        payload = AlertEscalated(
            alert_id=alert.pk,
            exercise=alert.is_exercise,
            agency=target.agency.code,
            due_at=target.due_at,
            notified=[u.username for u in officers],
        )
        _emit_all(alert, payload, None, None, now)
        prefix = "[EXERCISE] " if alert.is_exercise else ""
        transaction.on_commit(
            partial(
                notify_officers,
                officers,
                subject=(
                    f"{prefix}Unacknowledged alert at {alert.crossing_point.code}: {alert.title}"
                ),
                body=(
                    f"{target.agency.code} has not acknowledged alert {alert.pk} "
                    f"({alert.severity}) at {alert.crossing_point.name}. "
                    "Acknowledge it in the Border Coordination Hub."
                ),
            ),
            robust=True,
        )
        if on_claimed is not None:
            on_claimed(f"alert-target:{target_id}")
        return alert.pk, target.agency.code


def alert_expire(*, alert_id: int, now: datetime, on_claimed: ClaimHook | None = None) -> bool:
    """Claim one alert past its expiry and mark it expired (with its event), at most
    once ever; False when it is not (any more) due. Called by ``hub.jobs.alert_expiry``;
    ``on_claimed`` as in ``alert_target_escalate``, with ``"alert-expiry:<id>"``.
    """
    with transaction.atomic():
        claimed = Alert.objects.filter(
            pk=alert_id, status=AlertStatus.ACTIVE, expires_at__lte=now
        ).update(status=AlertStatus.EXPIRED, expired_at=now, updated_at=now)
        if not claimed:
            return False
        alert = Alert.objects.select_related("crossing_point", "incident").get(pk=alert_id)
        _emit_all(
            alert,
            AlertExpired(alert_id=alert.pk, version=alert.version, exercise=alert.is_exercise),
            None,
            None,
            now,
        )
        if on_claimed is not None:
            on_claimed(f"alert-expiry:{alert_id}")
        return True


def _cap_link(access: Access, cap: CapAlert, point: CrossingPoint) -> str | None:
    """The first incident the document names that is at this point and readable here."""
    for ref in cap.incidents:
        incident = Incident.objects.filter(ref=ref, crossing_point=point).first()
        if incident is not None and can_read_incident(access, incident_facts(incident)):
            return ref
    return None


def _cap_body(cap: CapAlert, linked: str | None) -> str:
    """The alert body: the document's description, then the incidents it names but
    the alert is not linked to (see hub.alerts.cap)."""
    note = incident_note([ref for ref in cap.incidents if ref != linked])
    if not note:
        return cap.body
    return f"{cap.body}\n\n{note}" if cap.body.strip() else note


def alert_import_cap(*, actor: User, crossing_point: str, document: bytes) -> AlertResult:
    """Issue an alert from a CAP 1.2 document, once per document and crossing point.

    Access is checked first: an officer who does not serve the crossing point
    gets 404, whatever the document (nothing is revealed about what was
    imported there). The same document imported again (by anyone serving the
    point) returns the alert it made; the same sender and identifier with other
    content is 409 ``cap_identifier_reused``. ``<incidents>`` links the incident
    when it is at this point and the importer may read it; otherwise the
    reference is kept in the body (hub.alerts.cap).
    """
    access = access_for(actor)
    point = (
        CrossingPoint.objects.filter(code=crossing_point, is_active=True).first()
        if isinstance(crossing_point, str)
        else None
    )
    if point is None or not perms.can_issue_alert(access, crossing_point_id=point.pk):
        refuse(
            access,
            action="alert.issue",
            target=str(crossing_point)[:20],
            reason="does not serve this crossing point",
            hide=True,
        )
    cap = parse_cap(document)
    if cap.crossing_point is not None and cap.crossing_point != point.code:
        raise InvalidInput(
            f"The CAP area is crossing point {cap.crossing_point}, not {point.code}.",
            code="wrong_crossing_point",
        )
    source = f"{cap.sender},{cap.identifier}"[:300]

    def existing() -> AlertResult | None:
        alert = (
            Alert.objects.select_related("crossing_point", "incident")
            .filter(crossing_point=point, source_identifier=source)
            .first()
        )
        if alert is None:
            return None
        linked = alert.incident.ref if alert.incident is not None else None
        same = (linked is None or linked in cap.incidents) and (
            alert.title,
            alert.body,
            alert.category,
            alert.severity,
            alert.urgency,
            alert.certainty,
            alert.expires_at,
            alert.is_exercise,
            alert.ack_required,
        ) == (
            clean_text(cap.title, field="title", max_length=MAX_TITLE),
            clean_text(_cap_body(cap, linked), field="body", max_length=MAX_BODY, required=False),
            cap.category,
            cap.severity,
            cap.urgency,
            cap.certainty,
            cap.expires_at.replace(microsecond=0) if cap.expires_at else None,
            cap.is_exercise,
            cap.ack_required,
        )
        if not same:
            raise Conflict(
                f"CAP document {cap.identifier} from {cap.sender} was already imported "
                "with different content.",
                code="cap_identifier_reused",
            )
        seq = (
            Event.objects.filter(
                stream__name=alert.stream_name, kind="alert.issued", payload__alert_id=alert.pk
            )
            .values_list("seq", flat=True)
            .first()
            or 0
        )
        return AlertResult(alert=alert, stream=alert.stream_name, seq=seq, duplicate=True)

    found = existing()
    if found is not None:
        return found
    linked = _cap_link(access, cap, point)
    try:
        return alert_issue(
            actor=actor,
            crossing_point=point.code,
            category=cap.category,
            severity=cap.severity,
            urgency=cap.urgency,
            certainty=cap.certainty,
            title=cap.title,
            body=_cap_body(cap, linked),
            expires_at=cap.expires_at,
            targets=cap.targets,
            ack_required=cap.ack_required,
            incident=linked,
            is_exercise=cap.is_exercise,
            client_msg_id=cap.client_msg_id,
            source_identifier=source,
        )
    except IntegrityError:
        # Two officers imported it at the same moment: the other one won.
        found = existing()
        if found is None:
            raise
        return found
