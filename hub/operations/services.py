"""Writes on templates, joint operations and tasks.

Every change locks the operation row, then its streams (``operation:<REF>`` and
the linked incident's), appends events, and publishes after commit. Task events
carry the operation's progress; the linked incident gets ``operation.progress``.
Client writes are idempotent on ``client_msg_id``; overdue tasks escalate from
the database (``task_escalate``, called by the ``hub.jobs`` loop), exactly once
each. Functions take ``now`` so tests can drive a clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access, Decision
from hub.agencies.models import Agency, AgencyKind, CrossingPoint, Deployment, Membership, Role
from hub.agencies.selectors import access_for
from hub.alerts.notify import notify_officers
from hub.alerts.services import officers_to_notify
from hub.attachments.selectors import attachments_mark_referenced, attachments_to_refer
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.events.control import stream_access_changed
from hub.events.idempotency import Written, new_client_msg_id, run_idempotent
from hub.events.models import WriteReceipt
from hub.events.pipeline import emit, lock_streams
from hub.events.types import (
    OperationClosed,
    OperationProgress,
    OperationStarted,
    TaskAdded,
    TaskAssigned,
    TaskCosigned,
    TaskNoted,
    TaskOverdue,
    TaskRemoved,
    TaskStatusChanged,
    TemplateItemSnapshot,
    TemplatePublished,
    TemplateSource,
)
from hub.incidents.models import Incident
from hub.incidents.permissions import can_read_incident
from hub.incidents.selectors import incident_facts
from hub.operations import permissions as perms
from hub.operations.models import (
    ChecklistTemplate,
    Operation,
    OperationCounter,
    OperationStatus,
    Task,
    TaskAttachment,
    TaskStatus,
    TemplateItem,
    template_stream_name,
)
from hub.operations.selectors import (
    operation_facts,
    progress_of,
    task_snapshot,
    template_publication,
    template_version,
)
from hub.operations.templates import (
    ItemDraft,
    TemplateDraft,
    check_code,
    check_template,
    new_item_key,
)
from hub.security import acting_agency, log_denial, refuse
from hub.text import clean_text

MAX_TITLE = 200
MAX_TEXT = 5_000
MAX_SHORT = 500


@dataclass(frozen=True)
class OperationResult:
    operation: Operation
    seq: int
    duplicate: bool = False


@dataclass(frozen=True)
class ItemSpec:
    title: str
    agency_kind: str
    due_offset_minutes: int
    guidance: str = ""
    requires_note: bool = False
    requires_cosign: bool = False


# --- validation and helpers ------------------------------------------------------------


def _text(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    return clean_text(value, field=field, max_length=max_length, required=required)


def _acting(access: Access, decision: Decision, *, action: str, target: str) -> Agency:
    return acting_agency(access, decision, action=action, target=target)


def _locked_operation(access: Access, ref: str, *, action: str) -> Operation:
    if not isinstance(ref, str) or len(ref) > 40:
        raise NotFound("Not found.")
    operation = (
        Operation.objects.select_for_update(of=("self",))
        .select_related("crossing_point", "incident", "lead_agency")
        .filter(ref=ref)
        .first()
    )
    if operation is None:
        raise NotFound("Not found.")
    if not perms.can_read_operation(access, operation_facts(operation)):
        refuse(access, action=action, target=ref, reason="cannot see this operation", hide=True)
    return operation


def _active(operation: Operation) -> None:
    if operation.status != OperationStatus.ACTIVE:
        raise Conflict(f"{operation.ref} is closed.", code="operation_closed")


def _task(operation: Operation, task_id: int) -> Task:
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        raise NotFound("Not found.")
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("assigned_agency")
        .filter(pk=task_id, operation=operation, removed_at__isnull=True)
        .first()
    )
    if task is None:
        raise NotFound("Not found.")
    return task


def _emit(
    operation: Operation, payload: Any, actor: User | None, agency: Agency | None, at: datetime
) -> int:
    """Emit on the operation stream and push progress to the incident; returns the seq."""
    streams = [operation.stream_name]
    if operation.incident is not None:
        streams.append(operation.incident.stream_name)
    lock_streams(streams)
    event = emit(stream=operation.stream_name, payload=payload, actor=actor, agency=agency, at=at)
    if operation.incident is not None:
        progress = progress_of(list(Task.objects.filter(operation=operation)), at)
        emit(
            stream=operation.incident.stream_name,
            payload=OperationProgress(ref=operation.ref, title=operation.title, progress=progress),
            actor=actor,
            agency=agency,
            at=at,
        )
    return event.seq


def _progress(operation: Operation, now: datetime) -> Any:
    return progress_of(list(Task.objects.filter(operation=operation)), now)


def _task_assigned(
    *, ref: str, task_id: int, agency: str | None, assignees: list[str], cosign_cleared: str | None
) -> TaskAssigned:
    """The task.assigned payload; says whose co-sign the reassignment cleared, if any."""
    return TaskAssigned(
        ref=ref, task_id=task_id, agency=agency, assignees=assignees, cosign_cleared=cosign_cleared
    )


def _replay(receipt: WriteReceipt) -> OperationResult:
    operation = Operation.objects.get(pk=int(receipt.object_id))
    return OperationResult(operation=operation, seq=receipt.seq or 0, duplicate=True)


def _written(operation: Operation, seq: int) -> tuple[OperationResult, Written]:
    return OperationResult(operation, seq), Written(operation.stream_name, seq, str(operation.pk))


def _refuse_cosign(
    access: Access, problem: perms.CosignProblem, *, target: str, action: str
) -> NoReturn:
    """Log and raise a co-sign that cannot count (403 self_cosign / same_agency_cosign)."""
    log_denial(access, action=action, target=target, reason=problem.reason)
    raise Forbidden(
        f"{problem.reason[:1].upper()}{problem.reason[1:]}: the co-sign must come from another "
        "officer, of an agency other than the task's and the completing officer's.",
        code=problem.code,
    )


def _choose_agency(point: CrossingPoint, kind: str, lead: Agency) -> Agency | None:
    """The agency of ``kind`` at the point: the lead's own, then its country's, then any."""
    candidates = [
        d.agency
        for d in Deployment.objects.filter(
            crossing_point=point, is_active=True, agency__is_active=True, agency__kind=kind
        ).select_related("agency")
    ]
    if not candidates:
        return None
    lead_country = Agency.objects.filter(pk=lead.pk).values_list("country_id", flat=True).first()
    return sorted(
        candidates, key=lambda a: (a.pk != lead.pk, a.country_id != lead_country, a.code)
    )[0]


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateResult:
    template: ChecklistTemplate
    seq: int  # of its template.published event on template:<CODE>
    duplicate: bool = False


def _template_event(template: ChecklistTemplate) -> TemplatePublished:
    """The ``template.published`` payload of a version (items read in position order)."""
    return template_publication(template)


def template_record_unrecorded(*, code: str) -> int:
    """Append ``template.published`` for each version of ``code`` that has no event yet.

    Versions published before template streams existed have ``seq`` None; they are
    recorded in version order (each at its own ``published_at``, by its publisher)
    before any newer version, so ``template:<CODE>`` lists every version in order.
    Returns how many were recorded.

    Precondition: inside a transaction holding ``template:<CODE>`` (``lock_streams``).
    """
    unrecorded = list(
        ChecklistTemplate.objects.filter(code=code, seq__isnull=True)
        .select_related("published_by", "publisher_agency")
        .prefetch_related("items")
        .order_by("version")
    )
    for template in unrecorded:
        event = emit(
            stream=template.stream_name,
            payload=_template_event(template),
            actor=template.published_by,
            agency=template.publisher_agency,
            at=template.published_at,
        )
        ChecklistTemplate.objects.filter(pk=template.pk).update(seq=event.seq)
    return len(unrecorded)


def _publish_version(
    *,
    code: str,
    draft: TemplateDraft,
    source: TemplateSource,
    publisher: User | None,
    agency: Agency | None,
    now: datetime,
) -> ChecklistTemplate:
    """Write the next version of ``code`` from a checked draft whose items all have keys,
    and append its ``template.published``.

    Precondition: inside a transaction holding ``template:<CODE>`` (``lock_streams``),
    so versions of one code are numbered one after the other.
    """
    template_record_unrecorded(code=code)
    previous = ChecklistTemplate.objects.filter(code=code).order_by("-version").first()
    ChecklistTemplate.objects.filter(code=code, is_current=True).update(is_current=False)
    template = ChecklistTemplate.objects.create(
        code=code,
        version=(previous.version + 1) if previous else 1,
        title=draft.title,
        description=draft.description,
        is_current=True,
        source=source,
        published_by=publisher,
        publisher_agency_id=agency.pk if agency else None,
        published_at=now,
    )
    TemplateItem.objects.bulk_create(
        [
            TemplateItem(
                template=template,
                key=item.key or "",
                position=item.position,
                title=item.title,
                guidance=item.guidance,
                agency_kind=item.agency_kind,
                due_offset_minutes=item.due_offset_minutes,
                requires_note=item.requires_note,
                requires_cosign=item.requires_cosign,
            )
            for item in draft.items
        ]
    )
    event = emit(
        stream=template.stream_name,
        payload=_template_event(template),
        actor=publisher,
        agency=agency,
        at=now,
    )
    template.seq = event.seq
    template.save(update_fields=["seq"])
    return template


def _with_keys(draft: TemplateDraft, keys: dict[int, str]) -> TemplateDraft:
    """The draft with every item keyed: ``keys`` by position, else a fresh key."""
    taken = {item.key for item in draft.items if item.key} | set(keys.values())
    items = []
    for item in draft.items:
        key = item.key or keys.get(item.position)
        if key is None:
            key = new_item_key(taken)
            taken.add(key)
        items.append(replace(item, key=key))
    return replace(draft, items=tuple(items))


@transaction.atomic
def template_publish(
    *,
    code: str,
    title: str,
    description: str,
    items: list[ItemSpec],
    now: datetime | None = None,
) -> ChecklistTemplate:
    """Publish a new version of an SOP from code (``load_sops``, tests): earlier versions,
    and the operations started from them, stay as they are.

    Items are numbered 1..n in the order given; each keeps the key of the item with
    the same title in the version before (so a diff shows it as changed, not as
    removed and added). Refused field by field (``InvalidFields``), writing nothing.
    """
    now = now or timezone.now()
    problems = check_code(code)
    drafts = [
        ItemDraft(
            position=i,
            title=item.title,
            agency_kind=item.agency_kind,
            due_offset_minutes=item.due_offset_minutes,
            guidance=item.guidance,
            requires_note=item.requires_note,
            requires_cosign=item.requires_cosign,
        )
        for i, item in enumerate(items, start=1)
    ]
    draft = check_template(title=title, description=description, items=drafts, problems=problems)
    lock_streams([template_stream_name(code)])
    previous = template_version(code)
    by_title: dict[str, str] = {}
    if previous is not None:
        for old in previous.items.all():
            by_title.setdefault(old.title, old.key)
    keys: dict[int, str] = {}
    for item in draft.items:
        key = by_title.pop(item.title, None)
        if key is not None:
            keys[item.position] = key
    return _publish_version(
        code=code,
        draft=_with_keys(draft, keys),
        source="code",
        publisher=None,
        agency=None,
        now=now,
    )


def _template_writer(access: Access, actor: User, *, action: str, target: str) -> Agency | None:
    """The agency an administrator publishes for (None for a superuser without an
    admin membership), or a logged 403."""
    decision = perms.can_write_templates(access, is_superuser=actor.is_superuser)
    if not decision:
        refuse(access, action=action, target=target[:60], reason=decision.reason)
    if decision.grant is None:
        return None
    grant = decision.grant
    return Agency(pk=grant.agency_id, code=grant.agency_code, kind=grant.agency_kind)


def _template_replay(receipt: WriteReceipt) -> TemplateResult:
    template = ChecklistTemplate.objects.get(pk=int(receipt.object_id))
    return TemplateResult(template=template, seq=receipt.seq or 0, duplicate=True)


def _template_request(
    title: Any, description: Any, items: list[ItemDraft], **more: Any
) -> dict[str, Any]:
    return {
        **more,
        "title": title,
        "description": description,
        "items": [asdict(item) for item in items],
    }


def template_create(
    *,
    actor: User,
    code: str,
    title: str,
    description: str = "",
    items: list[ItemDraft],
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> TemplateResult:
    """An administrator writes a new SOP template: version 1 of a new code.

    Refused: 403 for anyone but an administrator (``can_write_templates``); 422
    field by field (``InvalidFields``: the code, the title, the items); 409
    ``template_exists`` when the code is taken. Nothing is written on a refusal.
    """
    now = now or timezone.now()
    access = access_for(actor)

    def write() -> tuple[TemplateResult, Written]:
        agency = _template_writer(access, actor, action="template.create", target=str(code))
        draft = check_template(
            title=title, description=description, items=items, problems=check_code(code)
        )
        lock_streams([template_stream_name(code)])
        if ChecklistTemplate.objects.filter(code=code).exists():
            raise Conflict(
                f"A template with the code {code!r} exists; publish a new version of it "
                "instead, or choose another code.",
                code="template_exists",
            )
        template = _publish_version(
            code=code,
            draft=_with_keys(draft, {}),
            source="browser",
            publisher=actor,
            agency=agency,
            now=now,
        )
        return _template_written(template)

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="template.create",
        request=_template_request(title, description, items, code=code),
        write=write,
        replay=_template_replay,
    )


def _template_written(template: ChecklistTemplate) -> tuple[TemplateResult, Written]:
    seq = template.seq or 0
    return TemplateResult(template, seq), Written(template.stream_name, seq, str(template.pk))


def template_revise(
    *,
    actor: User,
    code: str,
    base_version: int,
    title: str,
    description: str = "",
    items: list[ItemDraft],
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> TemplateResult:
    """An administrator publishes a new version of a template, edited from ``base_version``.

    Items that keep their ``key`` are the same items as in ``base_version``; items
    without one are new. The old versions stay, and running operations keep theirs.
    Once a template has a version written here, ``load_sops`` leaves it alone.

    Refused: 403 for anyone but an administrator; 404 for an unknown code; 409
    ``template_version_conflict`` when ``base_version`` is no longer the current
    version (someone published since: nothing is overwritten unseen); 422 field by
    field; 409 ``no_change`` when the content is the current version's. Nothing is
    written on a refusal.
    """
    now = now or timezone.now()
    access = access_for(actor)

    def write() -> tuple[TemplateResult, Written]:
        agency = _template_writer(access, actor, action="template.revise", target=str(code))
        if not isinstance(code, str) or check_code(code):
            raise NotFound("No such checklist template.")
        if not ChecklistTemplate.objects.filter(code=code).exists():
            raise NotFound("No such checklist template.")
        lock_streams([template_stream_name(code)])
        current = template_version(code)
        assert current is not None  # versions are never deleted, and one is current
        if base_version != current.version:
            raise Conflict(
                f"This edit started from version {base_version}, but version "
                f"{current.version} is current now: reload it and edit again.",
                code="template_version_conflict",
            )
        known = {item.key: item.position for item in current.items.all()}
        draft = check_template(title=title, description=description, items=items, known_keys=known)
        keyed = _with_keys(draft, {})
        if _same_content(keyed, _template_event(current)):
            raise Conflict(f"Nothing changed since version {current.version}.", code="no_change")
        template = _publish_version(
            code=code, draft=keyed, source="browser", publisher=actor, agency=agency, now=now
        )
        return _template_written(template)

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="template.revise",
        request=_template_request(title, description, items, code=code, base=base_version),
        write=write,
        replay=_template_replay,
    )


def _item_content(item: ItemDraft | TemplateItemSnapshot) -> tuple[object, ...]:
    return (
        item.key,
        item.position,
        item.title,
        item.guidance,
        item.agency_kind,
        item.due_offset_minutes,
        item.requires_note,
        item.requires_cosign,
    )


def _same_content(draft: TemplateDraft, current: TemplatePublished) -> bool:
    """Would ``draft`` publish exactly ``current`` again (same items, keys and positions)?"""
    return (draft.title, draft.description, [_item_content(i) for i in draft.items]) == (
        current.title,
        current.description,
        [_item_content(i) for i in current.items],
    )


# --- operations ------------------------------------------------------------------------------


def operation_start(
    *,
    actor: User,
    crossing_point: str,
    template: str,
    template_version_number: int | None = None,
    incident: str | None = None,
    title: str | None = None,
    agency: str | None = None,
    assignments: dict[int, str | None] | None = None,
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OperationResult:
    """Start a joint operation from an SOP: concrete tasks with due times and agencies.

    Each task goes to the deployed agency of its kind (``_choose_agency``) unless
    ``assignments`` names another for its position (an agency deployed at the
    point, or None for no agency yet), as the start dialog lets a coordinator do.
    """
    now = now or timezone.now()
    access = access_for(actor)
    clean_title = _text(title, field="title", max_length=MAX_TITLE) if title is not None else None
    chosen = dict(assignments or {})
    if not all(isinstance(k, int) and (v is None or isinstance(v, str)) for k, v in chosen.items()):
        raise InvalidInput("assignments map task positions to agency codes.")

    def write() -> tuple[OperationResult, Written]:
        point = CrossingPoint.objects.filter(code=crossing_point, is_active=True).first()
        if point is None or not access.grants_at(point.pk):
            refuse(
                access,
                action="operation.start",
                target=str(crossing_point)[:20],
                reason="does not serve this crossing point",
                hide=True,
            )
        lead = _acting(
            access,
            perms.can_start_operation(access, crossing_point_id=point.pk, agency_code=agency),
            action="operation.start",
            target=point.code,
        )
        sop = template_version(template, template_version_number)
        if sop is None:
            raise NotFound("No such checklist template.")
        linked: Incident | None = None
        if incident is not None:
            linked = Incident.objects.filter(ref=incident).first()
            if linked is None or not can_read_incident(access, incident_facts(linked)):
                raise NotFound("No such incident.")
            if linked.crossing_point_id != point.pk:
                raise InvalidInput("The incident is at another crossing point.")
        year = now.astimezone(ZoneInfo(point.timezone)).year
        counter, _ = OperationCounter.objects.select_for_update().get_or_create(
            crossing_point=point, year=year
        )
        counter.last_number += 1
        counter.save(update_fields=["last_number"])
        operation = Operation.objects.create(
            ref=f"OP-{point.code}-{year}-{counter.last_number:04d}",
            crossing_point=point,
            incident=linked,
            template=sop,
            title=clean_title or (f"{sop.title} — {linked.ref}" if linked else sop.title),
            started_by=actor,
            lead_agency=lead,
            started_at=now,
        )
        items = list(sop.items.all())
        unknown = sorted(set(chosen) - {item.position for item in items})
        if unknown:
            raise InvalidInput(
                f"The template has no task at position {unknown[0]}.", code="unknown_task"
            )
        named = {code for code in chosen.values() if code is not None}
        deployed = {
            d.agency.code: d.agency
            for d in Deployment.objects.filter(
                crossing_point=point, is_active=True, agency__is_active=True, agency__code__in=named
            ).select_related("agency")
        }
        for position, code in sorted(chosen.items()):
            if code is not None and code not in deployed:
                raise InvalidInput(
                    f"Task {position}: {code} is not deployed at {point.code}.",
                    code="agency_not_deployed",
                )
        tasks = [
            Task(
                operation=operation,
                position=item.position,
                title=item.title,
                guidance=item.guidance,
                agency_kind=item.agency_kind,
                assigned_agency=(
                    (deployed[code] if (code := chosen[item.position]) is not None else None)
                    if item.position in chosen
                    else _choose_agency(point, item.agency_kind, lead)
                ),
                due_at=now + timedelta(minutes=item.due_offset_minutes),
                requires_note=item.requires_note,
                requires_cosign=item.requires_cosign,
            )
            for item in items
        ]
        Task.objects.bulk_create(tasks)
        tasks = list(
            Task.objects.filter(operation=operation)
            .select_related("assigned_agency")
            .order_by("position")
        )
        payload = OperationStarted(
            ref=operation.ref,
            crossing_point=point.code,
            title=operation.title,
            template=sop.code,
            template_version=sop.version,
            incident=linked.ref if linked else None,
            tasks=[task_snapshot(t) for t in tasks],
            progress=progress_of(tasks, now),
        )
        return _written(operation, _emit(operation, payload, actor, lead, now))

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="operation.start",
        request={
            "crossing_point": crossing_point,
            "template": template,
            "version": template_version_number,
            "incident": incident,
            "title": title,
            "agency": agency,
            "assignments": {str(k): v for k, v in sorted(chosen.items())},
        },
        write=write,
        replay=_replay,
    )


def operation_close(
    *,
    actor: User,
    ref: str,
    note: str = "",
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OperationResult:
    now = now or timezone.now()
    access = access_for(actor)
    clean_note = _text(note, field="note", max_length=MAX_TEXT, required=False)

    def write() -> tuple[OperationResult, Written]:
        operation = _locked_operation(access, ref, action="operation.close")
        acting = _acting(
            access,
            perms.can_manage_operation(access, operation_facts(operation)),
            action="operation.close",
            target=ref,
        )
        _active(operation)
        operation.status = OperationStatus.CLOSED
        operation.closed_at = now
        operation.close_note = clean_note
        operation.save(update_fields=["status", "closed_at", "close_note"])
        payload = OperationClosed(
            ref=operation.ref, note=clean_note, progress=_progress(operation, now)
        )
        return _written(operation, _emit(operation, payload, actor, acting, now))

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="operation.close",
        request={"ref": ref, "note": clean_note},
        write=write,
        replay=_replay,
    )


# --- tasks --------------------------------------------------------------------------------------


def task_assign(
    *,
    actor: User,
    ref: str,
    task_id: int,
    agency: str | None = None,
    assignees: list[str] | None = None,
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OperationResult:
    """Assign a task to an agency at the crossing point and/or to officers serving it."""
    now = now or timezone.now()
    access = access_for(actor)
    if assignees is not None and (
        not isinstance(assignees, list) or not all(isinstance(a, str) for a in assignees)
    ):
        raise InvalidInput("assignees must be a list of usernames.")

    def write() -> tuple[OperationResult, Written]:
        operation = _locked_operation(access, ref, action="task.assign")
        acting = _acting(
            access,
            perms.can_manage_operation(access, operation_facts(operation)),
            action="task.assign",
            target=ref,
        )
        _active(operation)
        task = _task(operation, task_id)
        cleared_cosign: str | None = None
        if agency is not None:
            deployment = (
                Deployment.objects.filter(
                    crossing_point_id=operation.crossing_point_id,
                    agency__code=agency,
                    is_active=True,
                    agency__is_active=True,
                )
                .select_related("agency")
                .first()
            )
            if deployment is None:
                raise InvalidInput(
                    f"{agency} is not deployed at {operation.crossing_point.code}.",
                    code="agency_not_deployed",
                )
            if deployment.agency.pk != task.assigned_agency_id and task.cosigned_by_id is not None:
                # A co-sign vouches for the work of the task's agency: another agency
                # doing it needs a co-sign of its own (and may not keep its own).
                cleared_cosign = task.cosigned_agency.code if task.cosigned_agency else ""
                task.cosigned_by = None
                task.cosigned_agency = None
                task.cosigned_at = None
            task.assigned_agency = deployment.agency
            task.save(
                update_fields=["assigned_agency", "cosigned_by", "cosigned_agency", "cosigned_at"]
            )
        if assignees is not None:
            users = list(User.objects.filter(username__in=set(assignees), is_active=True))
            if len(users) != len(set(assignees)):
                raise InvalidInput("Unknown or inactive officers among the assignees.")
            serving = set(
                Membership.objects.filter(
                    user__in=users,
                    is_active=True,
                    crossing_points=operation.crossing_point_id,
                    role__in=[Role.DUTY_OFFICER, Role.COORDINATOR, Role.SENIOR_OFFICIAL],
                ).values_list("user_id", flat=True)
            )
            outsiders = sorted(u.username for u in users if u.pk not in serving)
            if outsiders:
                raise InvalidInput(f"Not serving this crossing point: {', '.join(outsiders)}.")
            task.assignees.set(users)
        if agency is None and assignees is None:
            raise InvalidInput("Give an agency, assignees, or both.")
        payload = _task_assigned(
            ref=operation.ref,
            task_id=task.pk,
            agency=task.assigned_agency.code if task.assigned_agency else None,
            assignees=sorted(u.username for u in task.assignees.all()),
            cosign_cleared=cleared_cosign,
        )
        written = _written(operation, _emit(operation, payload, actor, acting, now))
        # Who may read the operation follows its tasks' agencies and assignees:
        # open sockets on its stream are re-checked (after commit).
        stream_access_changed(stream=operation.stream_name, reason="task.assigned")
        return written

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="task.assign",
        request={
            "ref": ref,
            "task_id": task_id,
            "agency": agency,
            "assignees": sorted(assignees) if assignees is not None else None,
        },
        write=write,
        replay=_replay,
    )


def task_add(
    *,
    actor: User,
    ref: str,
    title: str,
    agency_kind: str,
    due_in_minutes: int = 60,
    guidance: str = "",
    agency: str | None = None,
    requires_note: bool = False,
    requires_cosign: bool = False,
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OperationResult:
    """Add an ad-hoc task (not in the SOP)."""
    now = now or timezone.now()
    access = access_for(actor)
    clean_title = _text(title, field="title", max_length=MAX_TITLE)
    clean_guidance = _text(guidance, field="guidance", max_length=MAX_TEXT, required=False)
    if agency_kind not in {k.value for k in AgencyKind}:
        raise InvalidInput(f"agency_kind must be one of: {', '.join(k.value for k in AgencyKind)}.")
    if (
        isinstance(due_in_minutes, bool)
        or not isinstance(due_in_minutes, int)
        or not 0 <= due_in_minutes <= 60 * 24 * 30
    ):
        raise InvalidInput("due_in_minutes must be a whole number of minutes up to 30 days.")

    def write() -> tuple[OperationResult, Written]:
        operation = _locked_operation(access, ref, action="task.add")
        acting = _acting(
            access,
            perms.can_manage_operation(access, operation_facts(operation)),
            action="task.add",
            target=ref,
        )
        _active(operation)
        assigned = None
        if agency is not None:
            assigned = Agency.objects.filter(
                code=agency,
                is_active=True,
                deployments__crossing_point_id=operation.crossing_point_id,
                deployments__is_active=True,
            ).first()
            if assigned is None:
                raise InvalidInput(f"{agency} is not deployed here.", code="agency_not_deployed")
        else:
            assigned = _choose_agency(operation.crossing_point, agency_kind, operation.lead_agency)
        last = (
            Task.objects.filter(operation=operation)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        task = Task.objects.create(
            operation=operation,
            position=(last or 0) + 1,
            title=clean_title,
            guidance=clean_guidance,
            agency_kind=agency_kind,
            assigned_agency=assigned,
            due_at=now + timedelta(minutes=due_in_minutes),
            requires_note=bool(requires_note),
            requires_cosign=bool(requires_cosign),
            is_adhoc=True,
        )
        payload = TaskAdded(
            ref=operation.ref, task=task_snapshot(task), progress=_progress(operation, now)
        )
        return _written(operation, _emit(operation, payload, actor, acting, now))

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="task.add",
        request={
            "ref": ref,
            "title": clean_title,
            "agency_kind": agency_kind,
            "due": due_in_minutes,
            "agency": agency,
            "note": requires_note,
            "cosign": requires_cosign,
        },
        write=write,
        replay=_replay,
    )


def task_remove(
    *,
    actor: User,
    ref: str,
    task_id: int,
    reason: str,
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OperationResult:
    """Remove an ad-hoc task (SOP tasks are marked not_applicable instead)."""
    now = now or timezone.now()
    access = access_for(actor)
    why = _text(reason, field="reason", max_length=MAX_SHORT)

    def write() -> tuple[OperationResult, Written]:
        operation = _locked_operation(access, ref, action="task.remove")
        acting = _acting(
            access,
            perms.can_manage_operation(access, operation_facts(operation)),
            action="task.remove",
            target=ref,
        )
        _active(operation)
        task = _task(operation, task_id)
        if not task.is_adhoc:
            raise Conflict(
                "Checklist tasks are not removed; mark them not applicable.", code="not_adhoc"
            )
        task.removed_at = now
        task.reason = why
        task.save(update_fields=["removed_at", "reason"])
        payload = TaskRemoved(
            ref=operation.ref, task_id=task.pk, reason=why, progress=_progress(operation, now)
        )
        written = _written(operation, _emit(operation, payload, actor, acting, now))
        # Its agency and assignees may lose sight of the operation: re-check sockets.
        stream_access_changed(stream=operation.stream_name, reason="task.removed")
        return written

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="task.remove",
        request={"ref": ref, "task_id": task_id, "reason": why},
        write=write,
        replay=_replay,
    )


def _file_ids(value: Any) -> list[int]:
    """Evidence file ids as given (a list of positive integers, not booleans)."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in value
    ):
        raise InvalidInput("attachments: a list of file ids.")
    return list(value)


def _add_task_files(
    *, operation: Operation, task: Task, ids: list[int], actor: User, now: datetime
) -> list[int]:
    """Link the files ``ids`` to ``task`` as evidence; the ids newly linked, in order.

    Call inside the task change's transaction, with the operation and the task locked.
    Each must be a served file of the operation's incident (422 ``attachment_unknown``
    for any other, or for any file when the operation has no incident; 409
    ``attachment_withdrawn``); a file already linked to the task is not linked again.
    """
    if not ids:
        return []
    if operation.incident_id is None:
        raise InvalidInput(
            f"attachments: no file {ids[0]} on this operation's incident (it has none).",
            code="attachment_unknown",
        )
    referred = attachments_to_refer(incident_id=operation.incident_id, ids=ids)
    linked = set(task.evidence_links.values_list("attachment_id", flat=True))
    added = [pk for pk in referred if pk not in linked]
    start = task.evidence_links.count()
    TaskAttachment.objects.bulk_create(
        TaskAttachment(
            task=task, attachment_id=pk, position=start + i, added_at=now, added_by=actor
        )
        for i, pk in enumerate(added)
    )
    attachments_mark_referenced(ids=added, at=now)
    return added


def task_update(
    *,
    actor: User,
    ref: str,
    task_id: int,
    status: str | None = None,
    note: str | None = None,
    evidence: str | None = None,
    reason: str | None = None,
    attachments: list[int] | None = None,
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OperationResult:
    """Move a task along open → in_progress → done (or blocked / not_applicable), and note it.

    ``attachments``: ids of evidence files of the operation's incident to add to the
    task (never removed here: a file is withdrawn on the file itself). Only officers
    who may work the task and read the incident add them (403 otherwise); files
    already linked are not linked again, and a change that would add nothing else
    is 409 ``no_change``. Non-withdrawn files satisfy ``requires_note`` as a note or
    text evidence does.
    """
    now = now or timezone.now()
    access = access_for(actor)
    files = _file_ids(attachments)
    if status is not None and status not in {s.value for s in TaskStatus}:
        raise InvalidInput(f"status must be one of: {', '.join(s.value for s in TaskStatus)}.")
    clean_note = (
        _text(note, field="note", max_length=MAX_TEXT, required=False) if note is not None else None
    )
    clean_evidence = (
        _text(evidence, field="evidence", max_length=MAX_SHORT, required=False)
        if evidence is not None
        else None
    )
    clean_reason = (
        _text(reason, field="reason", max_length=MAX_SHORT, required=False)
        if reason is not None
        else None
    )
    if status is None and clean_note is None and clean_evidence is None and not files:
        raise InvalidInput("Give a status, a note, evidence or evidence files.")

    def write() -> tuple[OperationResult, Written]:
        operation = _locked_operation(access, ref, action="task.update")
        task = _task(operation, task_id)
        assignee_ids = frozenset(task.assignees.values_list("pk", flat=True))
        may = perms.can_add_task_files if files else perms.can_work_task
        acting = _acting(
            access,
            may(
                access,
                operation_facts(operation),
                task_agency_id=task.assigned_agency_id,
                assignee_ids=assignee_ids,
            ),
            action="task.update",
            target=f"{ref}/{task_id}",
        )
        _active(operation)
        added = _add_task_files(operation=operation, task=task, ids=files, actor=actor, now=now)
        if status is None and clean_note is None and clean_evidence is None and not added:
            raise Conflict("These files are already evidence of the task.", code="no_change")
        if clean_note is not None:
            task.note = clean_note
        if clean_evidence is not None:
            task.evidence = clean_evidence
        previous = task.status
        if status is not None and status != previous:
            if not perms.task_transition_allowed(previous, status):
                allowed = ", ".join(sorted(perms.TASK_TRANSITIONS[previous]))
                raise Conflict(
                    f"A {previous} task cannot become {status}; allowed: {allowed}.",
                    code="illegal_transition",
                )
            if status in perms.NEEDS_REASON:
                if not clean_reason:
                    raise InvalidInput(
                        f"Marking a task {status} needs a reason.", code="reason_required"
                    )
                task.reason = clean_reason
            if status == TaskStatus.DONE:
                if task.requires_note and not (
                    task.note
                    or task.evidence
                    or task.evidence_links.filter(attachment__withdrawn_at__isnull=True).exists()
                ):
                    raise Conflict(
                        "This task needs a note, evidence or an evidence file before it is done.",
                        code="note_required",
                    )
                # A task that needs a co-sign may be done first ("done by …, awaiting
                # co-sign from another agency") or co-signed first; either way the
                # co-sign must come from another agency than the completer's.
                if task.requires_cosign:
                    problem = perms.cosign_problem(
                        completer_id=actor.pk,
                        completer_agency_ids=frozenset({acting.pk}),
                        task_agency_id=task.assigned_agency_id,
                        cosigned_by_id=task.cosigned_by_id,
                        cosigned_agency_id=task.cosigned_agency_id,
                    )
                    if problem is not None:
                        _refuse_cosign(
                            access, problem, target=f"{ref}/{task_id}", action="task.update"
                        )
                task.completed_by = actor
                task.completed_at = now
            elif previous == TaskStatus.DONE:
                # Reopened: the completion, and a co-sign that vouched for it, no longer stand.
                task.completed_by = None
                task.completed_at = None
                task.cosigned_by = None
                task.cosigned_agency = None
                task.cosigned_at = None
            task.status = status
            task.save()
            payload: Any = TaskStatusChanged(
                ref=operation.ref,
                task_id=task.pk,
                from_status=previous,
                to_status=task.status,
                note=task.note,
                evidence=task.evidence,
                reason=task.reason if status in perms.NEEDS_REASON else "",
                progress=_progress(operation, now),
                attachments=added,
            )
        elif (
            status is not None
            and status == previous
            and clean_note is None
            and clean_evidence is None
            and not added
        ):
            raise Conflict(f"The task is already {status}.", code="no_change")
        else:
            task.save(update_fields=["note", "evidence"])
            payload = TaskNoted(
                ref=operation.ref,
                task_id=task.pk,
                note=task.note,
                evidence=task.evidence,
                attachments=added,
            )
        return _written(operation, _emit(operation, payload, actor, acting, now))

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="task.update",
        request={
            "ref": ref,
            "task_id": task_id,
            "status": status,
            "note": note,
            "evidence": evidence,
            "reason": reason,
        }
        # Only a change with files adds them, so earlier receipts still match.
        | ({"attachments": files} if files else {}),
        write=write,
        replay=_replay,
    )


def task_cosign(
    *,
    actor: User,
    ref: str,
    task_id: int,
    note: str = "",
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OperationResult:
    """A second agency's officer vouches for the task, before or after it is done."""
    now = now or timezone.now()
    access = access_for(actor)
    clean_note = _text(note, field="note", max_length=MAX_SHORT, required=False)

    def write() -> tuple[OperationResult, Written]:
        operation = _locked_operation(access, ref, action="task.cosign")
        task = _task(operation, task_id)
        decision = perms.can_cosign_task(
            access, operation_facts(operation), task_agency_id=task.assigned_agency_id
        )
        if not decision.allowed and decision.reason.startswith("a co-sign must come"):
            log_denial(
                access, action="task.cosign", target=f"{ref}/{task_id}", reason=decision.reason
            )
            raise Forbidden(
                "A co-sign must come from an officer of another agency.", code="same_agency_cosign"
            )
        acting = _acting(access, decision, action="task.cosign", target=f"{ref}/{task_id}")
        _active(operation)
        if task.cosigned_by_id is not None:
            raise Conflict("The task is already co-signed.", code="already_cosigned")
        if task.status == TaskStatus.DONE and task.completed_by_id is not None:
            # Co-signing after the fact: the same four-eyes rule as at completion.
            completer = User.objects.get(pk=task.completed_by_id)
            problem = perms.cosign_problem(
                completer_id=completer.pk,
                completer_agency_ids=frozenset(
                    g.agency_id
                    for g in access_for(completer).grants_at(operation.crossing_point_id)
                ),
                task_agency_id=task.assigned_agency_id,
                cosigned_by_id=actor.pk,
                cosigned_agency_id=acting.pk,
            )
            if problem is not None:
                _refuse_cosign(access, problem, target=f"{ref}/{task_id}", action="task.cosign")
        task.cosigned_by = actor
        task.cosigned_agency_id = acting.pk
        task.cosigned_at = now
        task.save(update_fields=["cosigned_by", "cosigned_agency", "cosigned_at"])
        payload = TaskCosigned(
            ref=operation.ref, task_id=task.pk, agency=acting.code, note=clean_note
        )
        return _written(operation, _emit(operation, payload, actor, acting, now))

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="task.cosign",
        request={"ref": ref, "task_id": task_id, "note": clean_note},
        write=write,
        replay=_replay,
    )


# --- escalation (claimed one task at a time by hub.jobs) -------------------------------------


def _overdue_recipients(task: Task) -> list[User]:
    """Who hears about an overdue task: the agency's duty officers and coordinators at
    the point and the assignees; when that is nobody (no agency, or nobody in it, and
    no assignees), the coordinators of the operation's lead agency."""
    operation = task.operation
    officers = (
        officers_to_notify(task.assigned_agency_id, operation.crossing_point_id)
        if task.assigned_agency_id
        else []
    )
    found = {*officers, *task.assignees.filter(is_active=True)}
    if not found:
        found = set(
            User.objects.filter(
                is_active=True,
                memberships__agency_id=operation.lead_agency_id,
                memberships__is_active=True,
                memberships__role=Role.COORDINATOR,
                memberships__crossing_points__id=operation.crossing_point_id,
            ).distinct()
        )
    return sorted(found, key=lambda u: u.username)


def task_escalate(
    *, task_id: int, now: datetime, on_claimed: Callable[[str], None] | None = None
) -> bool:
    """Claim one overdue task and escalate it (``task.overdue``, e-mail after commit), in
    one transaction, at most once ever; False when it is not (any more) due.

    Called by the job loop (``hub.jobs.task_escalation``), which lists the tasks due;
    the claim re-checks every condition. ``on_claimed`` (instrumentation and tests) is
    called inside the claim's transaction, after its event is written, with
    ``"task:<id>"``; raising from it rolls the claim back.
    """
    operation_id = Task.objects.filter(pk=task_id).values_list("operation_id", flat=True).first()
    if operation_id is None:
        return False
    with transaction.atomic():
        # Lock order as in the services: the operation, then the task. Under the
        # operation's lock the task's last committed state is what is checked.
        locked = (
            Operation.objects.select_for_update(of=("self",))
            .filter(pk=operation_id, status=OperationStatus.ACTIVE)
            .first()
        )
        if locked is None:
            return False
        claimed = Task.objects.filter(
            pk=task_id,
            escalated_at__isnull=True,
            removed_at__isnull=True,
            due_at__lte=now,
            status__in=["open", "in_progress", "blocked"],
        ).update(escalated_at=now)
        if not claimed:
            return False
        task = Task.objects.select_related(
            "assigned_agency",
            "operation",
            "operation__crossing_point",
            "operation__incident",
            "operation__lead_agency",
        ).get(pk=task_id)
        operation = task.operation
        officers = _overdue_recipients(task)
        assert task.due_at is not None
        payload = TaskOverdue(
            ref=operation.ref,
            task_id=task.pk,
            due_at=task.due_at,
            agency=task.assigned_agency.code if task.assigned_agency else None,
            notified=[u.username for u in officers],
            progress=_progress(operation, now),
        )
        _emit(operation, payload, None, None, now)
        transaction.on_commit(
            partial(
                notify_officers,
                officers,
                subject=f"Overdue task in {operation.ref}: {task.title}",
                body=(
                    f"The task '{task.title}' of {operation.title} was due at "
                    f"{task.due_at:%Y-%m-%d %H:%M} UTC."
                ),
            ),
            robust=True,
        )
        if on_claimed is not None:
            on_claimed(f"task:{task_id}")
        return True
