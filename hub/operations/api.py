"""REST: SOP checklist templates, joint operations and their tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field, StrictBool, StrictInt, StrictStr

from hub.agencies.selectors import access_for
from hub.auth import request_user
from hub.errors import InvalidInput, NotFound
from hub.events.types import Progress
from hub.operations import services
from hub.operations.models import ChecklistTemplate, Operation
from hub.operations.selectors import (
    operation_snapshot,
    operation_state,
    operations_snapshot,
    progress_of,
    template_version,
    templates_current,
)
from hub.schemas import ERRORS_READ, ERRORS_WRITE, StrictIn, UserRef

router = Router(tags=["joint operations"])
TaskStatusIn = Literal["open", "in_progress", "done", "blocked", "not_applicable"]
AgencyKindIn = Literal[
    "immigration",
    "customs",
    "coastguard",
    "airport_authority",
    "port_authority",
    "police",
    "health",
    "other",
]


class TemplateItemOut(Schema):
    position: int
    title: str
    guidance: str
    agency_kind: str
    due_offset_minutes: int
    requires_note: bool
    requires_cosign: bool


class TemplateOut(Schema):
    code: str
    version: int
    title: str
    description: str
    current: bool
    published_at: datetime
    items: list[TemplateItemOut]

    @staticmethod
    def of(t: ChecklistTemplate) -> TemplateOut:
        return TemplateOut(
            code=t.code,
            version=t.version,
            title=t.title,
            description=t.description,
            current=t.is_current,
            published_at=t.published_at,
            items=[
                TemplateItemOut(
                    position=i.position,
                    title=i.title,
                    guidance=i.guidance,
                    agency_kind=i.agency_kind,
                    due_offset_minutes=i.due_offset_minutes,
                    requires_note=i.requires_note,
                    requires_cosign=i.requires_cosign,
                )
                for i in t.items.all()
            ],
        )


class TaskOut(Schema):
    id: int
    position: int
    title: str
    guidance: str
    agency_kind: str
    assigned_agency: str | None
    assignees: list[str]
    due_at: datetime | None
    overdue: bool
    status: str
    requires_note: bool
    requires_cosign: bool
    note: str
    evidence: str
    reason: str
    completed_by: str | None
    completed_at: datetime | None
    cosigned_by: str | None
    cosigned_agency: str | None
    cosigned_at: datetime | None
    adhoc: bool
    escalated_at: datetime | None


class OperationOut(Schema):
    ref: str
    crossing_point: str
    title: str
    status: str
    template: str
    template_version: int
    incident: str | None
    lead_agency: str
    started_by: UserRef
    started_at: datetime
    closed_at: datetime | None
    close_note: str
    progress: Progress
    tasks: list[TaskOut]
    stream: str
    seq: int

    @staticmethod
    def of(op: Operation, seq: int) -> OperationOut:
        """``op`` and the seq of its stream that it reflects (read together, under
        ``stream_snapshot``: see ``hub.operations.selectors.operation_snapshot``)."""
        from django.utils import timezone

        now = timezone.now()
        tasks = [t for t in op.tasks.all() if t.removed_at is None]
        return OperationOut(
            ref=op.ref,
            crossing_point=op.crossing_point.code,
            title=op.title,
            status=op.status,
            template=op.template.code,
            template_version=op.template.version,
            incident=op.incident.ref if op.incident else None,
            lead_agency=op.lead_agency.code,
            started_by=UserRef(
                id=op.started_by.pk,
                username=op.started_by.username,
                name=op.started_by.display_name,
            ),
            started_at=op.started_at,
            closed_at=op.closed_at,
            close_note=op.close_note,
            progress=progress_of(list(op.tasks.all()), now),
            tasks=[
                TaskOut(
                    id=t.pk,
                    position=t.position,
                    title=t.title,
                    guidance=t.guidance,
                    agency_kind=t.agency_kind,
                    assigned_agency=t.assigned_agency.code if t.assigned_agency else None,
                    assignees=sorted(u.username for u in t.assignees.all()),
                    due_at=t.due_at,
                    overdue=t.status in ("open", "in_progress", "blocked")
                    and t.due_at is not None
                    and t.due_at <= now,
                    status=t.status,
                    requires_note=t.requires_note,
                    requires_cosign=t.requires_cosign,
                    note=t.note,
                    evidence=t.evidence,
                    reason=t.reason,
                    completed_by=t.completed_by.username if t.completed_by else None,
                    completed_at=t.completed_at,
                    cosigned_by=t.cosigned_by.username if t.cosigned_by else None,
                    cosigned_agency=t.cosigned_agency.code if t.cosigned_agency else None,
                    cosigned_at=t.cosigned_at,
                    adhoc=t.is_adhoc,
                    escalated_at=t.escalated_at,
                )
                for t in tasks
            ],
            stream=op.stream_name,
            seq=seq,
        )


class OperationIn(StrictIn):
    crossing_point: StrictStr = Field(max_length=6)
    template: StrictStr = Field(max_length=60)
    template_version: StrictInt | None = Field(None, ge=1)
    incident: StrictStr | None = Field(None, max_length=32)
    title: StrictStr | None = Field(None, min_length=1, max_length=200)
    agency: StrictStr | None = Field(None, max_length=20, description="Lead for this agency.")
    client_msg_id: UUID | None = None


class OperationListQuery(Schema):
    crossing_point: str | None = Field(None, max_length=6)
    status: Literal["active", "closed"] | None = None
    limit: int = Field(50, ge=1, le=200)


class TaskPatch(StrictIn):
    status: TaskStatusIn | None = None
    note: StrictStr | None = Field(None, max_length=5_000)
    evidence: StrictStr | None = Field(None, max_length=500)
    reason: StrictStr | None = Field(None, max_length=500)
    assigned_agency: StrictStr | None = Field(None, max_length=20)
    assignees: list[StrictStr] | None = Field(None, max_length=20)
    client_msg_id: UUID | None = None


class TaskIn(StrictIn):
    title: StrictStr = Field(min_length=1, max_length=200)
    agency_kind: AgencyKindIn
    guidance: StrictStr = Field("", max_length=5_000)
    agency: StrictStr | None = Field(None, max_length=20)
    due_in_minutes: StrictInt = Field(60, ge=0, le=60 * 24 * 30)
    requires_note: StrictBool = False
    requires_cosign: StrictBool = False
    client_msg_id: UUID | None = None


class CosignIn(StrictIn):
    note: StrictStr = Field("", max_length=500)
    client_msg_id: UUID | None = None


class RemoveIn(StrictIn):
    reason: StrictStr = Field(min_length=1, max_length=500)
    client_msg_id: UUID | None = None


class CloseIn(StrictIn):
    note: StrictStr = Field("", max_length=5_000)
    client_msg_id: UUID | None = None


def _out(ref: str) -> OperationOut:
    return OperationOut.of(*operation_state(ref))


@router.get(
    "/checklist-templates",
    response={200: list[TemplateOut], **ERRORS_READ},
    summary="Current SOP checklist templates",
)
def template_list(request: HttpRequest) -> list[TemplateOut]:
    return [TemplateOut.of(t) for t in templates_current()]


@router.get(
    "/checklist-templates/{code}",
    response={200: TemplateOut, **ERRORS_READ},
    summary="One template (the current version, or ?version=N)",
)
def template_detail(request: HttpRequest, code: str, version: int | None = None) -> TemplateOut:
    found = template_version(code, version)
    if found is None:
        raise NotFound("No such checklist template.")
    return TemplateOut.of(found)


@router.get(
    "/operations",
    response={200: list[OperationOut], **ERRORS_READ},
    summary="Joint operations you may see",
)
def operation_list(request: HttpRequest, query: Query[OperationListQuery]) -> list[OperationOut]:
    access = access_for(request_user(request))
    ops = operations_snapshot(
        access, crossing_point=query.crossing_point, status=query.status, limit=query.limit
    )
    return [OperationOut.of(op, seq) for op, seq in ops]


@router.post(
    "/operations",
    response={201: OperationOut, 200: OperationOut, **ERRORS_WRITE},
    summary="Start a joint operation from an SOP template",
)
def operation_create(request: HttpRequest, payload: OperationIn) -> Status[OperationOut]:
    result = services.operation_start(
        actor=request_user(request),
        crossing_point=payload.crossing_point,
        template=payload.template,
        template_version_number=payload.template_version,
        incident=payload.incident,
        title=payload.title,
        agency=payload.agency,
        client_msg_id=payload.client_msg_id,
    )
    return Status(200 if result.duplicate else 201, _out(result.operation.ref))


@router.get(
    "/operations/{ref}", response={200: OperationOut, **ERRORS_READ}, summary="One joint operation"
)
def operation_detail(request: HttpRequest, ref: str) -> OperationOut:
    found = operation_snapshot(access_for(request_user(request)), ref)
    if found is None:
        raise NotFound("Not found.")
    return OperationOut.of(*found)


@router.patch(
    "/operations/{ref}/tasks/{task_id}",
    response={200: OperationOut, **ERRORS_WRITE},
    summary="Move a task (status, note, evidence, reason) or assign it (agency, officers)",
)
def task_patch(request: HttpRequest, ref: str, task_id: int, payload: TaskPatch) -> OperationOut:
    actor = request_user(request)
    fields = payload.model_dump(exclude_unset=True, exclude={"client_msg_id"})
    assigning = {"assigned_agency", "assignees"} & set(fields)
    working = {"status", "note", "evidence", "reason"} & set(fields)
    if assigning and working:
        raise InvalidInput("Assign a task and work on it in separate requests.")
    if assigning:
        services.task_assign(
            actor=actor,
            ref=ref,
            task_id=task_id,
            agency=fields.get("assigned_agency"),
            assignees=fields.get("assignees"),
            client_msg_id=payload.client_msg_id,
        )
    else:
        services.task_update(
            actor=actor,
            ref=ref,
            task_id=task_id,
            status=fields.get("status"),
            note=fields.get("note"),
            evidence=fields.get("evidence"),
            reason=fields.get("reason"),
            client_msg_id=payload.client_msg_id,
        )
    return _out(ref)


@router.post(
    "/operations/{ref}/tasks",
    response={201: OperationOut, 200: OperationOut, **ERRORS_WRITE},
    summary="Add an ad-hoc task (a repeat of a client_msg_id answers 200 with no new task)",
)
def task_create(request: HttpRequest, ref: str, payload: TaskIn) -> Status[OperationOut]:
    result = services.task_add(actor=request_user(request), ref=ref, **payload.model_dump())
    return Status(200 if result.duplicate else 201, _out(ref))


@router.post(
    "/operations/{ref}/tasks/{task_id}/cosign",
    response={200: OperationOut, **ERRORS_WRITE},
    summary="Co-sign a task (an officer of another agency)",
)
def task_cosign(request: HttpRequest, ref: str, task_id: int, payload: CosignIn) -> OperationOut:
    services.task_cosign(
        actor=request_user(request),
        ref=ref,
        task_id=task_id,
        note=payload.note,
        client_msg_id=payload.client_msg_id,
    )
    return _out(ref)


@router.post(
    "/operations/{ref}/tasks/{task_id}/remove",
    response={200: OperationOut, **ERRORS_WRITE},
    summary="Remove an ad-hoc task",
)
def task_remove(request: HttpRequest, ref: str, task_id: int, payload: RemoveIn) -> OperationOut:
    services.task_remove(
        actor=request_user(request),
        ref=ref,
        task_id=task_id,
        reason=payload.reason,
        client_msg_id=payload.client_msg_id,
    )
    return _out(ref)


@router.post(
    "/operations/{ref}/close",
    response={200: OperationOut, **ERRORS_WRITE},
    summary="Close an operation",
)
def operation_close(request: HttpRequest, ref: str, payload: CloseIn) -> OperationOut:
    services.operation_close(
        actor=request_user(request), ref=ref, note=payload.note, client_msg_id=payload.client_msg_id
    )
    return _out(ref)
