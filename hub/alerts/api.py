"""REST: alerts per crossing point, acknowledgement, CAP 1.2 and Atom."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field, StrictBool
from pydantic.json_schema import SkipJsonSchema

from hub.agencies.selectors import access_for
from hub.alerts import services
from hub.alerts.atom import alerts_feed
from hub.alerts.cap import alert_to_cap
from hub.alerts.models import Alert
from hub.alerts.selectors import alert_for, alerts_at, is_expired, point_for
from hub.auth import request_user
from hub.errors import HubError, NotFound
from hub.events.types import AlertCategory, Certainty, Severity, Urgency
from hub.schemas import (
    ERRORS_READ,
    ERRORS_WRITE,
    Code,
    ErrorOut,
    RequiredText,
    StrictIn,
    Text,
    UserRef,
    refuses_valid,
)

router = Router(tags=["alerts"])
CAP_TYPES = {"application/cap+xml", "application/xml", "text/xml"}


class TargetOut(Schema):
    agency: str
    due_at: datetime | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: UserRef | None
    overdue: bool = Field(description="Past due and not acknowledged (escalated).")
    escalated_at: datetime | None


class AlertOut(Schema):
    id: int
    crossing_point: str
    category: str
    severity: str
    urgency: str
    certainty: str
    title: str
    body: str
    exercise: bool
    ack_required: bool
    status: str = Field(description="active, cancelled or expired")
    version: int
    incident: str | None
    issuing_agency: str
    issued_by: UserRef
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    cancel_reason: str
    targets: list[TargetOut]
    pending: list[str] = Field(description="Targeted agencies that have not acknowledged.")
    stream: str

    @staticmethod
    def of(alert: Alert) -> AlertOut:
        from django.utils import timezone

        now = timezone.now()
        rows = list(alert.target_rows.all())
        status = "expired" if alert.status == "active" and is_expired(alert, now) else alert.status
        live = status == "active"
        return AlertOut(
            id=alert.pk,
            crossing_point=alert.crossing_point.code,
            category=alert.category,
            severity=alert.severity,
            urgency=alert.urgency,
            certainty=alert.certainty,
            title=alert.title,
            body=alert.body,
            exercise=alert.is_exercise,
            ack_required=alert.ack_required,
            status=status,
            version=alert.version,
            incident=alert.incident.ref if alert.incident else None,
            issuing_agency=alert.issuing_agency.code,
            issued_by=UserRef(
                id=alert.issued_by.pk,
                username=alert.issued_by.username,
                name=alert.issued_by.display_name,
            ),
            created_at=alert.created_at,
            updated_at=alert.updated_at,
            expires_at=alert.expires_at,
            cancel_reason=alert.cancel_reason,
            targets=[
                TargetOut(
                    agency=t.agency.code,
                    due_at=t.due_at,
                    acknowledged=t.acknowledged_at is not None,
                    acknowledged_at=t.acknowledged_at,
                    acknowledged_by=UserRef(
                        id=t.acknowledged_by.pk,
                        username=t.acknowledged_by.username,
                        name=t.acknowledged_by.display_name,
                    )
                    if t.acknowledged_by
                    else None,
                    overdue=bool(
                        live
                        and alert.ack_required
                        and t.acknowledged_at is None
                        and t.due_at is not None
                        and t.due_at <= now
                    ),
                    escalated_at=t.escalated_at,
                )
                for t in rows
            ],
            pending=[
                t.agency.code for t in rows if alert.ack_required and t.acknowledged_at is None
            ],
            stream=f"crossing:{alert.crossing_point.code}",
        )


class AlertIn(StrictIn):
    category: AlertCategory
    severity: Severity
    title: RequiredText = Field(min_length=1, max_length=200)
    body: Text = Field("", max_length=10_000)
    urgency: Urgency | None = None
    certainty: Certainty | None = None
    expires_at: datetime | None = None
    targets: list[Code] | None = Field(
        None, max_length=50, description="Default: every other agency here."
    )
    ack_required: StrictBool = True
    incident: Code | None = Field(None, max_length=32)
    exercise: StrictBool = False
    agency: Code | None = Field(None, max_length=20, description="Issue for this agency.")
    client_msg_id: UUID | None = None


class AlertPatch(StrictIn):
    """Only the fields sent change. Null clears ``expires_at`` (no expiry); no other
    field may be null (the service refuses it), so the schema offers null only there."""

    category: AlertCategory | SkipJsonSchema[None] = None
    severity: Severity | SkipJsonSchema[None] = None
    urgency: Urgency | SkipJsonSchema[None] = None
    certainty: Certainty | SkipJsonSchema[None] = None
    title: Annotated[RequiredText, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = (
        None
    )
    body: Annotated[Text, Field(max_length=10_000)] | SkipJsonSchema[None] = None
    expires_at: datetime | None = None
    client_msg_id: UUID | None = None


class CancelIn(StrictIn):
    reason: RequiredText = Field(min_length=1, max_length=500)
    client_msg_id: UUID | None = None


class AckIn(StrictIn):
    client_msg_id: UUID
    agency: Code | None = Field(None, max_length=20)


class AckOut(Schema):
    alert: AlertOut
    stream: str
    seq: int
    duplicate: bool


class AlertListQuery(Schema):
    current: bool = Field(True, description="Only active alerts that have not expired.")
    limit: int = Field(100, ge=1, le=500)


def _load(alert_id: int) -> Alert:
    from hub.alerts.selectors import _base

    return _base().get(pk=alert_id)


@router.get(
    "/crossing-points/{code}/alerts",
    response={200: list[AlertOut], **ERRORS_READ},
    summary="Alerts at a crossing point (newest first)",
)
def alert_list(request: HttpRequest, code: str, query: Query[AlertListQuery]) -> list[AlertOut]:
    point = point_for(access_for(request_user(request)), code, action="alert.read")
    if point is None:
        raise NotFound("Not found.")
    return [AlertOut.of(a) for a in alerts_at(point, current_only=query.current, limit=query.limit)]


@router.post(
    "/crossing-points/{code}/alerts",
    response={201: AlertOut, 200: AlertOut, **ERRORS_WRITE},
    summary="Issue an alert to agencies at a crossing point",
    openapi_extra=refuses_valid(
        "`expires_at` not in the future",
        "target agencies not deployed at this crossing point (`agency_not_deployed`)",
    ),
)
def alert_create(request: HttpRequest, code: str, payload: AlertIn) -> Status[AlertOut]:
    data = payload.model_dump()
    result = services.alert_issue(
        actor=request_user(request),
        crossing_point=code,
        is_exercise=data.pop("exercise"),
        **data,
    )
    return Status(200 if result.duplicate else 201, AlertOut.of(_load(result.alert.pk)))


@router.get("/alerts/{alert_id}", response={200: AlertOut, **ERRORS_READ}, summary="One alert")
def alert_detail(request: HttpRequest, alert_id: int) -> AlertOut:
    alert = alert_for(access_for(request_user(request)), alert_id)
    if alert is None:
        raise NotFound("Not found.")
    return AlertOut.of(alert)


@router.patch(
    "/alerts/{alert_id}",
    response={200: AlertOut, **ERRORS_WRITE},
    summary="Update an alert (new version)",
    openapi_extra=refuses_valid("`expires_at` not in the future"),
)
def alert_patch(request: HttpRequest, alert_id: int, payload: AlertPatch) -> AlertOut:
    changes = payload.model_dump(exclude_unset=True, exclude={"client_msg_id"})
    result = services.alert_update(
        actor=request_user(request),
        alert_id=alert_id,
        changes=changes,
        client_msg_id=payload.client_msg_id,
    )
    return AlertOut.of(_load(result.alert.pk))


@router.post(
    "/alerts/{alert_id}/cancel", response={200: AlertOut, **ERRORS_WRITE}, summary="Cancel an alert"
)
def alert_cancel(request: HttpRequest, alert_id: int, payload: CancelIn) -> AlertOut:
    result = services.alert_cancel(
        actor=request_user(request),
        alert_id=alert_id,
        reason=payload.reason,
        client_msg_id=payload.client_msg_id,
    )
    return AlertOut.of(_load(result.alert.pk))


@router.post(
    "/alerts/{alert_id}/ack",
    response={200: AckOut, **ERRORS_WRITE},
    summary="Acknowledge an alert for your agency (idempotent on client_msg_id)",
)
def alert_ack(request: HttpRequest, alert_id: int, payload: AckIn) -> AckOut:
    result = services.alert_acknowledge(
        actor=request_user(request),
        alert_id=alert_id,
        client_msg_id=payload.client_msg_id,
        agency=payload.agency,
    )
    return AckOut(
        alert=AlertOut.of(_load(result.alert.pk)),
        stream=result.stream,
        seq=result.seq,
        duplicate=result.duplicate,
    )


@router.get(
    "/alerts/{alert_id}/cap",
    response={200: None, **ERRORS_READ},
    summary="The alert as an OASIS CAP 1.2 document (application/cap+xml)",
)
def alert_cap(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_for(access_for(request_user(request)), alert_id)
    if alert is None:
        raise NotFound("Not found.")
    response = HttpResponse(alert_to_cap(alert), content_type="application/cap+xml; charset=utf-8")
    response["Content-Disposition"] = (
        f'inline; filename="alert-{alert.pk}-v{alert.version}.cap.xml"'
    )
    return response


class UnsupportedMediaType(HubError):
    status = 415
    default_code = "unsupported_media_type"


@router.post(
    "/crossing-points/{code}/alerts/cap",
    response={201: AlertOut, 200: AlertOut, 415: ErrorOut, **ERRORS_WRITE},
    summary="Import a CAP 1.2 alert (XML body); DTDs and entities are refused",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "An OASIS CAP 1.2 `<alert>` document, UTF-8 (no DTD, no entities). "
            "Any other media type is answered 415.",
            "content": {media: {"schema": {"type": "string"}} for media in sorted(CAP_TYPES)},
        },
        **refuses_valid(
            "a body that is not a CAP 1.2 alert document (XML, the CAP namespace and its "
            "required elements), or one with a DTD or entities"
        ),
    },
)
def alert_cap_import(request: HttpRequest, code: str) -> Status[AlertOut]:
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type not in CAP_TYPES:
        raise UnsupportedMediaType(f"Send the CAP document as {', '.join(sorted(CAP_TYPES))}.")
    result = services.alert_import_cap(
        actor=request_user(request), crossing_point=code, document=request.body
    )
    return Status(200 if result.duplicate else 201, AlertOut.of(_load(result.alert.pk)))


@router.get(
    "/crossing-points/{code}/alerts.atom",
    response={200: None, **ERRORS_READ},
    summary="Atom feed of a crossing point's current alerts",
)
def alert_feed(request: HttpRequest, code: str) -> HttpResponse:
    point = point_for(access_for(request_user(request)), code, action="alert.read")
    if point is None:
        raise NotFound("Not found.")
    base = f"{request.scheme}://{request.get_host()}"
    body = alerts_feed(point, alerts_at(point, current_only=True), base_url=base)
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")
