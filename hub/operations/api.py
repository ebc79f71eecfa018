"""REST: SOP checklist templates, joint operations and their tasks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import Field, StrictBool, StrictInt, StrictStr

from hub.agencies.access import Access
from hub.agencies.selectors import access_for
from hub.auth import request_user
from hub.errors import InvalidFields, InvalidInput, NotFound
from hub.events.types import Progress
from hub.incidents.permissions import can_read_incident
from hub.incidents.selectors import incident_facts
from hub.operations import services
from hub.operations.models import ChecklistTemplate, Operation, Task
from hub.operations.selectors import (
    progress_of,
    template_diff_for,
    template_for,
    template_version,
    template_versions_for,
    templates_for,
)
from hub.operations.template_diff import TemplateDiff
from hub.operations.templates import (
    CODE_PATTERN,
    KEY_PATTERN,
    MAX_DUE_OFFSET_MINUTES,
    MAX_ITEMS,
    MAX_POSITION,
    MAX_TEXT,
    MAX_TITLE,
    ItemDraft,
)
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
from hub.sitreps.schemas import SitrepStateOut
from hub.sitreps.selectors import (
    SitrepView,
    operation_detail_with_sitrep,
    operation_state_with_sitrep,
    operations_with_sitreps,
)

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
    key: str = Field(description="The same item in every version: send it back to keep the item.")
    position: int
    title: str
    guidance: str
    agency_kind: str
    due_offset_minutes: int
    requires_note: bool
    requires_cosign: bool


TemplateSourceOut = Literal["browser", "code"]


def _publisher(t: ChecklistTemplate) -> UserRef | None:
    user = t.published_by
    if user is None:
        return None
    return UserRef(id=user.pk, username=user.username, name=user.display_name)


class TemplateOut(Schema):
    code: str
    version: int
    title: str
    description: str
    current: bool
    source: TemplateSourceOut = Field(
        description="`browser`: written by an administrator; `code`: loaded by load_sops."
    )
    published_at: datetime
    published_by: UserRef | None = Field(description="None for a version loaded from code.")
    publisher_agency: str | None
    stream: str = Field(description="`template:<CODE>`: one template.published per version.")
    seq: int | None = Field(
        description="The seq of this version's event on `stream` (subscribe after it to hear "
        "of newer versions); None for a version not recorded yet (run load_sops)."
    )
    items: list[TemplateItemOut]

    @staticmethod
    def of(t: ChecklistTemplate) -> TemplateOut:
        return TemplateOut(
            code=t.code,
            version=t.version,
            title=t.title,
            description=t.description,
            current=t.is_current,
            source="browser" if t.source == "browser" else "code",
            published_at=t.published_at,
            published_by=_publisher(t),
            publisher_agency=t.publisher_agency.code if t.publisher_agency else None,
            stream=t.stream_name,
            seq=t.seq,
            items=[
                TemplateItemOut(
                    key=i.key,
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


class TemplateVersionOut(Schema):
    version: int
    title: str
    current: bool
    source: TemplateSourceOut
    published_at: datetime
    published_by: UserRef | None
    publisher_agency: str | None
    items: int = Field(description="How many items the version has.")
    seq: int | None

    @staticmethod
    def of(t: ChecklistTemplate) -> TemplateVersionOut:
        return TemplateVersionOut(
            version=t.version,
            title=t.title,
            current=t.is_current,
            source="browser" if t.source == "browser" else "code",
            published_at=t.published_at,
            published_by=_publisher(t),
            publisher_agency=t.publisher_agency.code if t.publisher_agency else None,
            items=getattr(t, "item_count", 0),
            seq=t.seq,
        )


class TemplateItemIn(StrictIn):
    key: StrictStr | None = Field(
        None,
        max_length=40,
        pattern=KEY_PATTERN,
        description="The item's key in the version being edited; leave it out for a new item.",
    )
    position: StrictInt = Field(ge=1, le=MAX_POSITION, description="Distinct within the version.")
    title: RequiredText = Field(min_length=1, max_length=MAX_TITLE)
    guidance: Text = Field("", max_length=MAX_TEXT)
    agency_kind: AgencyKindIn
    due_offset_minutes: StrictInt = Field(
        ge=0, le=MAX_DUE_OFFSET_MINUTES, description="Due this long after the operation starts."
    )
    requires_note: StrictBool = False
    requires_cosign: StrictBool = False

    def draft(self) -> ItemDraft:
        return ItemDraft(**self.model_dump())


class TemplateCreateIn(StrictIn):
    code: StrictStr = Field(min_length=2, max_length=60, pattern=CODE_PATTERN)
    title: RequiredText = Field(min_length=1, max_length=MAX_TITLE)
    description: Text = Field("", max_length=MAX_TEXT)
    items: list[TemplateItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    client_msg_id: UUID | None = None


class TemplateVersionIn(StrictIn):
    base_version: StrictInt = Field(
        ge=1,
        le=2**53,
        description="The version this edit started from; 409 `template_version_conflict` if "
        "another has been published since.",
    )
    title: RequiredText = Field(min_length=1, max_length=MAX_TITLE)
    description: Text = Field("", max_length=MAX_TEXT)
    items: list[TemplateItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    client_msg_id: UUID | None = None


class TemplateDiffQuery(Schema):
    from_version: int = Field(alias="from", ge=1, le=2**53, description="The older version, say.")
    to_version: int = Field(alias="to", ge=1, le=2**53)


@contextmanager
def _fields_refused() -> Iterator[None]:
    """Service refusals field by field (``InvalidFields``) answer exactly as request
    validation does: 422 with ``errors`` of ``{loc, msg, type}``, ``loc`` in the body."""
    try:
        yield
    except InvalidFields as refused:
        raise ValidationError(
            [
                {"loc": ("body", "payload", *p.loc), "msg": p.msg, "type": p.type}
                for p in refused.problems
            ]
        ) from refused


# Template reads refuse (403) a signed-in account without a membership.
ERRORS_TEMPLATE_READ = {**ERRORS_READ, 403: ErrorOut}


class TaskFileOut(Schema):
    """An evidence file of the task (a file of the operation's incident). Its name,
    type and hash are shown only to readers of that incident (null for others); a
    withdrawn file stays listed, marked, and no longer counts as evidence."""

    id: int
    filename: str | None
    content_type: str | None
    sha256: str | None
    withdrawn: bool


def _task_files(task: Task, *, visible: bool) -> list[TaskFileOut]:
    return [
        TaskFileOut(
            id=link.attachment_id,
            filename=link.attachment.filename if visible else None,
            content_type=link.attachment.content_type if visible else None,
            sha256=link.attachment.sha256 if visible else None,
            withdrawn=link.attachment.withdrawn_at is not None,
        )
        for link in task.evidence_links.all()
    ]


def _incident_files_visible(op: Operation, access: Access) -> bool:
    return op.incident is not None and can_read_incident(access, incident_facts(op.incident))


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
    attachments: list[TaskFileOut] = Field(
        description="Its evidence files, in the order they were added (PATCH the task "
        "with `attachments` to add more)."
    )


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
    sitrep: SitrepStateOut | None = Field(
        description="The latest situation report and the report cadence, as of `seq`; "
        "null while there has been neither."
    )

    @staticmethod
    def of(op: Operation, seq: int, sitrep: SitrepView | None, *, access: Access) -> OperationOut:
        """``op`` and the seq of its stream that it reflects, with its situation reports'
        state (read together, under ``stream_snapshot``: see
        ``hub.sitreps.selectors.operation_detail_with_sitrep``), as ``access`` sees it
        (evidence files' names only for readers of the incident)."""
        from django.utils import timezone

        now = timezone.now()
        tasks = [t for t in op.tasks.all() if t.removed_at is None]
        files_visible = any(t.evidence_links.all() for t in tasks) and _incident_files_visible(
            op, access
        )
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
                    attachments=_task_files(t, visible=files_visible),
                )
                for t in tasks
            ],
            stream=op.stream_name,
            seq=seq,
            sitrep=SitrepStateOut.maybe(sitrep),
        )


class TaskAssignmentIn(StrictIn):
    position: StrictInt = Field(ge=1, le=2**53)
    agency: Code | None = Field(max_length=20)


class OperationIn(StrictIn):
    crossing_point: Code = Field(max_length=6)
    template: Code = Field(max_length=60)
    template_version: StrictInt | None = Field(None, ge=1, le=2**53)
    incident: Code | None = Field(None, max_length=32)
    title: RequiredText | None = Field(None, min_length=1, max_length=200)
    agency: Code | None = Field(None, max_length=20, description="Lead for this agency.")
    assignments: list[TaskAssignmentIn] | None = Field(
        None,
        max_length=200,
        description="Per task position, the deployed agency it goes to instead of the "
        "hub's choice (or null: no agency yet).",
    )
    client_msg_id: UUID | None = None


class OperationListQuery(Schema):
    crossing_point: str | None = Field(None, max_length=6)
    status: Literal["active", "closed"] | None = None
    limit: int = Field(50, ge=1, le=200)


class TaskPatch(StrictIn):
    status: TaskStatusIn | None = None
    note: Text | None = Field(None, max_length=5_000)
    evidence: Text | None = Field(None, max_length=500)
    reason: Text | None = Field(None, max_length=500)
    attachments: list[Annotated[StrictInt, Field(ge=1, le=2**53)]] | None = Field(
        None,
        max_length=10,
        description="Ids of evidence files of the operation's incident (uploaded with "
        "`POST /api/v1/incidents/{ref}/attachments`) to add to the task as evidence; "
        "files already added stay, nothing is removed (withdraw a file on the file). "
        "422 `attachment_unknown` for a file that is not one of that incident's, 409 "
        "`attachment_withdrawn` for a withdrawn one.",
    )
    assigned_agency: Code | None = Field(None, max_length=20)
    assignees: list[Code] | None = Field(None, max_length=20)
    client_msg_id: UUID | None = None


class TaskIn(StrictIn):
    title: RequiredText = Field(min_length=1, max_length=200)
    agency_kind: AgencyKindIn
    guidance: Text = Field("", max_length=5_000)
    agency: Code | None = Field(None, max_length=20)
    due_in_minutes: StrictInt = Field(60, ge=0, le=60 * 24 * 30)
    requires_note: StrictBool = False
    requires_cosign: StrictBool = False
    client_msg_id: UUID | None = None


class CosignIn(StrictIn):
    note: Text = Field("", max_length=500)
    client_msg_id: UUID | None = None


class RemoveIn(StrictIn):
    reason: RequiredText = Field(min_length=1, max_length=500)
    client_msg_id: UUID | None = None


class CloseIn(StrictIn):
    note: Text = Field("", max_length=5_000)
    client_msg_id: UUID | None = None


def _out(request: HttpRequest, ref: str) -> OperationOut:
    """The operation after a write, as the writer sees it."""
    access = access_for(request_user(request))
    return OperationOut.of(*operation_state_with_sitrep(ref), access=access)


@router.get(
    "/checklist-templates",
    response={200: list[TemplateOut], **ERRORS_TEMPLATE_READ},
    summary="Current SOP checklist templates",
)
def template_list(request: HttpRequest) -> list[TemplateOut]:
    return [TemplateOut.of(t) for t in templates_for(request_user(request))]


@router.post(
    "/checklist-templates",
    response={201: TemplateOut, 200: TemplateOut, **ERRORS_WRITE},
    summary="Write a new SOP template (administrators): version 1 of a new code",
    description=(
        "Refused field by field (422 with `errors`); 409 `template_exists` when the code is "
        "taken. A repeat of a `client_msg_id` answers 200 with the original version."
    ),
)
def template_create(request: HttpRequest, payload: TemplateCreateIn) -> Status[TemplateOut]:
    with _fields_refused():
        result = services.template_create(
            actor=request_user(request),
            code=payload.code,
            title=payload.title,
            description=payload.description,
            items=[item.draft() for item in payload.items],
            client_msg_id=payload.client_msg_id,
        )
    return Status(200 if result.duplicate else 201, _template_out(result))


@router.get(
    "/checklist-templates/{code}",
    response={200: TemplateOut, **ERRORS_TEMPLATE_READ},
    summary="One template (the current version, or ?version=N)",
)
def template_detail(request: HttpRequest, code: str, version: int | None = None) -> TemplateOut:
    return TemplateOut.of(template_for(request_user(request), code, version))


@router.get(
    "/checklist-templates/{code}/versions",
    response={200: list[TemplateVersionOut], **ERRORS_TEMPLATE_READ},
    summary="Every version of a template, newest first: who published it, when, from where",
)
def template_versions(request: HttpRequest, code: str) -> list[TemplateVersionOut]:
    return [TemplateVersionOut.of(t) for t in template_versions_for(request_user(request), code)]


@router.post(
    "/checklist-templates/{code}/versions",
    response={201: TemplateOut, 200: TemplateOut, **ERRORS_WRITE},
    summary="Publish a new version of a template (administrators)",
    description=(
        "Items that carry a `key` of `base_version` are those items, edited; items without "
        "one are new. Earlier versions stay; running operations keep theirs; `load_sops` "
        "never overwrites a version written here. Refused field by field (422 with "
        "`errors`); 409 `template_version_conflict` when `base_version` is no longer "
        "current, 409 `no_change` when nothing changed. A repeat of a `client_msg_id` "
        "answers 200 with the original version."
    ),
)
def template_version_create(
    request: HttpRequest, code: str, payload: TemplateVersionIn
) -> Status[TemplateOut]:
    with _fields_refused():
        result = services.template_revise(
            actor=request_user(request),
            code=code,
            base_version=payload.base_version,
            title=payload.title,
            description=payload.description,
            items=[item.draft() for item in payload.items],
            client_msg_id=payload.client_msg_id,
        )
    return Status(200 if result.duplicate else 201, _template_out(result))


@router.get(
    "/checklist-templates/{code}/diff",
    response={200: TemplateDiff, **ERRORS_TEMPLATE_READ},
    summary="What one version of a template changed against another (?from=1&to=2)",
    description=(
        "Items are matched by their stable `key`: added, removed, and changed (each changed "
        "field with its old and new value); the template's own changed fields in `fields`."
    ),
)
def template_diff(request: HttpRequest, code: str, query: Query[TemplateDiffQuery]) -> TemplateDiff:
    return template_diff_for(request_user(request), code, query.from_version, query.to_version)


def _template_out(result: services.TemplateResult) -> TemplateOut:
    found = template_version(result.template.code, result.template.version)
    assert found is not None  # versions are never deleted
    return TemplateOut.of(found)


@router.get(
    "/operations",
    response={200: list[OperationOut], **ERRORS_READ},
    summary="Joint operations you may see",
)
def operation_list(request: HttpRequest, query: Query[OperationListQuery]) -> list[OperationOut]:
    access = access_for(request_user(request))
    ops = operations_with_sitreps(
        access, crossing_point=query.crossing_point, status=query.status, limit=query.limit
    )
    return [OperationOut.of(*row, access=access) for row in ops]


@router.post(
    "/operations",
    response={201: OperationOut, 200: OperationOut, **ERRORS_WRITE},
    summary="Start a joint operation from an SOP template",
    openapi_extra=refuses_valid(
        "a task position assigned twice (`duplicate_position`) or not in the template "
        "(`unknown_task`), or to an agency not deployed here (`agency_not_deployed`)",
        "an incident at another crossing point",
    ),
)
def operation_create(request: HttpRequest, payload: OperationIn) -> Status[OperationOut]:
    positions = [a.position for a in payload.assignments or []]
    if len(positions) != len(set(positions)):
        raise InvalidInput("Each task position may be assigned once.", code="duplicate_position")
    result = services.operation_start(
        actor=request_user(request),
        crossing_point=payload.crossing_point,
        template=payload.template,
        template_version_number=payload.template_version,
        incident=payload.incident,
        title=payload.title,
        agency=payload.agency,
        assignments=(
            {a.position: a.agency for a in payload.assignments}
            if payload.assignments is not None
            else None
        ),
        client_msg_id=payload.client_msg_id,
    )
    return Status(200 if result.duplicate else 201, _out(request, result.operation.ref))


@router.get(
    "/operations/{ref}", response={200: OperationOut, **ERRORS_READ}, summary="One joint operation"
)
def operation_detail(request: HttpRequest, ref: str) -> OperationOut:
    access = access_for(request_user(request))
    found = operation_detail_with_sitrep(access, ref)
    if found is None:
        raise NotFound("Not found.")
    return OperationOut.of(*found, access=access)


@router.patch(
    "/operations/{ref}/tasks/{task_id}",
    response={200: OperationOut, **ERRORS_WRITE},
    summary="Move a task (status, note, evidence, evidence files, reason) or assign it "
    "(agency, officers)",
    openapi_extra=refuses_valid(
        "nothing to do (no status, note, evidence or files), or an assignment together "
        "with work on the task",
        "an assigned agency not deployed here (`agency_not_deployed`), or unknown or "
        "inactive assignees",
    ),
)
def task_patch(request: HttpRequest, ref: str, task_id: int, payload: TaskPatch) -> OperationOut:
    actor = request_user(request)
    fields = payload.model_dump(exclude_unset=True, exclude={"client_msg_id"})
    assigning = {"assigned_agency", "assignees"} & set(fields)
    working = {"status", "note", "evidence", "reason", "attachments"} & set(fields)
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
            attachments=fields.get("attachments"),
            client_msg_id=payload.client_msg_id,
        )
    return _out(request, ref)


@router.post(
    "/operations/{ref}/tasks",
    response={201: OperationOut, 200: OperationOut, **ERRORS_WRITE},
    summary="Add an ad-hoc task (a repeat of a client_msg_id answers 200 with no new task)",
    openapi_extra=refuses_valid(
        "an agency not deployed at the crossing point (`agency_not_deployed`)",
    ),
)
def task_create(request: HttpRequest, ref: str, payload: TaskIn) -> Status[OperationOut]:
    result = services.task_add(actor=request_user(request), ref=ref, **payload.model_dump())
    return Status(200 if result.duplicate else 201, _out(request, ref))


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
    return _out(request, ref)


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
    return _out(request, ref)


@router.post(
    "/operations/{ref}/close",
    response={200: OperationOut, **ERRORS_WRITE},
    summary="Close an operation",
)
def operation_close(request: HttpRequest, ref: str, payload: CloseIn) -> OperationOut:
    services.operation_close(
        actor=request_user(request), ref=ref, note=payload.note, client_msg_id=payload.client_msg_id
    )
    return _out(request, ref)
