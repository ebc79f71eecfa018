"""Reads of templates and operations, scoped to what the caller may see."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.selectors import access_for
from hub.errors import NotFound
from hub.events.selectors import stream_snapshot
from hub.events.types import Progress, TaskSnapshot, TemplateItemSnapshot, TemplatePublished
from hub.incidents.selectors import incident_facts
from hub.operations.models import (
    ChecklistTemplate,
    Operation,
    Task,
    TaskAttachment,
    TemplateItem,
    template_stream_name,
)
from hub.operations.permissions import OperationFacts, can_read_operation, can_read_templates
from hub.operations.template_diff import TemplateDiff, template_diff
from hub.operations.templates import CODE_RE
from hub.security import log_denial, refuse

ACTIVE_TASK = ("open", "in_progress", "blocked")


def _templates() -> QuerySet[ChecklistTemplate]:
    return ChecklistTemplate.objects.select_related(
        "published_by", "publisher_agency"
    ).prefetch_related(Prefetch("items", queryset=TemplateItem.objects.order_by("position")))


def templates_current() -> list[ChecklistTemplate]:
    return list(_templates().filter(is_current=True).order_by("code"))


def template_version(code: str, version: int | None = None) -> ChecklistTemplate | None:
    if not isinstance(code, str) or len(code) > 60:
        return None
    qs = _templates().filter(code=code)
    if version is None:
        return qs.filter(is_current=True).first()
    return qs.filter(version=version).first()


def template_publication(template: ChecklistTemplate) -> TemplatePublished:
    """The version as its ``template.published`` event records it."""
    return TemplatePublished(
        code=template.code,
        version=template.version,
        title=template.title,
        description=template.description,
        items=[
            TemplateItemSnapshot(
                key=i.key,
                position=i.position,
                title=i.title,
                guidance=i.guidance,
                agency_kind=i.agency_kind,
                due_offset_minutes=i.due_offset_minutes,
                requires_note=i.requires_note,
                requires_cosign=i.requires_cosign,
            )
            for i in sorted(template.items.all(), key=lambda i: i.position)
        ],
        source="browser" if template.source == "browser" else "code",
    )


def _template_reader(user: User, *, target: str) -> Access:
    """The reader's access, or a logged 403 (``hub.operations.permissions``)."""
    access = access_for(user)
    decision = can_read_templates(access, is_superuser=user.is_superuser)
    if not decision:
        refuse(access, action="template.read", target=target[:60], reason=decision.reason)
    return access


def templates_for(user: User) -> list[ChecklistTemplate]:
    """The current version of every template, for a reader."""
    _template_reader(user, target="*")
    return templates_current()


def template_for(user: User, code: str, version: int | None = None) -> ChecklistTemplate:
    """One version (the current one by default), for a reader; NotFound if none."""
    _template_reader(user, target=str(code))
    found = template_version(code, version)
    if found is None:
        raise NotFound("No such checklist template.")
    return found


def template_versions_for(user: User, code: str) -> list[ChecklistTemplate]:
    """Every version of a template, newest first, for a reader; NotFound if none."""
    _template_reader(user, target=str(code))
    versions: list[ChecklistTemplate] = list(
        ChecklistTemplate.objects.filter(code=code)
        .select_related("published_by", "publisher_agency")
        .annotate(item_count=Count("items"))
        .order_by("-version")
    )
    if not versions:
        raise NotFound("No such checklist template.")
    return versions


def template_diff_for(user: User, code: str, from_version: int, to_version: int) -> TemplateDiff:
    """What version ``to_version`` changed against ``from_version``; NotFound if either
    is missing."""
    _template_reader(user, target=str(code))
    found = {
        t.version: t for t in _templates().filter(code=code, version__in=[from_version, to_version])
    }
    if from_version not in found or to_version not in found:
        raise NotFound("No such checklist template version.")
    return template_diff(
        template_publication(found[from_version]), template_publication(found[to_version])
    )


def operation_facts(operation: Operation) -> OperationFacts:
    agencies = set(
        Task.objects.filter(
            operation_id=operation.pk, removed_at__isnull=True, assigned_agency__isnull=False
        ).values_list("assigned_agency_id", flat=True)
    )
    agencies.add(operation.lead_agency_id)
    assignees = frozenset(
        Task.assignees.through.objects.filter(
            task__operation_id=operation.pk, task__removed_at__isnull=True
        ).values_list("user_id", flat=True)
    )
    return OperationFacts(
        id=operation.pk,
        ref=operation.ref,
        crossing_point_id=operation.crossing_point_id,
        status=operation.status,
        lead_agency_id=operation.lead_agency_id,
        agency_ids=frozenset(agencies),
        incident=incident_facts(operation.incident) if operation.incident is not None else None,
        assignee_ids=assignees,
    )


def _base() -> QuerySet[Operation]:
    return Operation.objects.select_related(
        "crossing_point", "incident", "template", "lead_agency", "started_by"
    ).prefetch_related(
        Prefetch(
            "tasks",
            queryset=Task.objects.select_related(
                "assigned_agency", "completed_by", "cosigned_by", "cosigned_agency"
            )
            .prefetch_related(
                "assignees",
                Prefetch(
                    "evidence_links",
                    queryset=TaskAttachment.objects.select_related("attachment").order_by(
                        "position"
                    ),
                ),
            )
            .order_by("position", "id"),
        )
    )


def operation_for(access: Access, ref: str, *, action: str = "operation.read") -> Operation | None:
    if not isinstance(ref, str) or len(ref) > 40:
        return None
    operation = _base().filter(ref=ref).first()
    if operation is None:
        return None
    if not can_read_operation(access, operation_facts(operation)):
        log_denial(access, action=action, target=ref, reason="cannot see this operation")
        return None
    return operation


def operations_visible_to(
    access: Access, *, crossing_point: str | None = None, status: str | None = None, limit: int = 50
) -> list[Operation]:
    points = access.crossing_point_ids
    qs = _base().filter(crossing_point_id__in=points)
    if crossing_point:
        qs = qs.filter(crossing_point__code=crossing_point)
    if status:
        qs = qs.filter(status=status)
    candidates = list(qs.order_by("-id")[:500])
    visible = [op for op in candidates if can_read_operation(access, operation_facts(op))]
    return visible[: max(1, min(limit, 200))]


def operation_snapshot(
    access: Access, ref: str, *, action: str = "operation.read"
) -> tuple[Operation, int] | None:
    """The operation (with its tasks) and the seq of ``operation:<ref>`` it reflects,
    if the caller may read it: read under ``stream_snapshot``, so no change to the
    operation commits between the state and its seq."""
    if not isinstance(ref, str) or len(ref) > 40:
        return None
    name = f"operation:{ref}"
    with stream_snapshot([name]) as heads:
        operation = operation_for(access, ref, action=action)
        if operation is None:
            return None
        return operation, heads[name]


def operation_state(ref: str) -> tuple[Operation, int]:
    """A fresh read of the operation and the seq it reflects (no access check: the
    caller has just changed it through a service, which checked)."""
    name = f"operation:{ref}"
    with stream_snapshot([name]) as heads:
        return _base().get(ref=ref), heads[name]


def operations_snapshot(
    access: Access, *, crossing_point: str | None = None, status: str | None = None, limit: int = 50
) -> list[tuple[Operation, int]]:
    """``operations_visible_to``, each operation with the seq its state reflects.

    The page is chosen first; then its streams' heads are held and the operations
    re-read, so each (state, seq) pair is consistent. One that stopped being
    visible in between is left out.
    """
    with transaction.atomic():
        page = operations_visible_to(
            access, crossing_point=crossing_point, status=status, limit=limit
        )
        if not page:
            return []
        with stream_snapshot([op.stream_name for op in page]) as heads:
            fresh = {op.pk: op for op in _base().filter(pk__in=[op.pk for op in page])}
            return [
                (fresh[op.pk], heads[op.stream_name])
                for op in page
                if op.pk in fresh and can_read_operation(access, operation_facts(fresh[op.pk]))
            ]


def progress_of(tasks: list[Task], now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    live = [t for t in tasks if t.removed_at is None]
    count = {
        s: sum(1 for t in live if t.status == s)
        for s in ("done", "not_applicable", "open", "in_progress", "blocked")
    }
    overdue = sum(
        1 for t in live if t.status in ACTIVE_TASK and t.due_at is not None and t.due_at <= now
    )
    return Progress(total=len(live), overdue=overdue, **count)


def operation_progress(operation: Operation, now: datetime | None = None) -> Progress:
    return progress_of(list(Task.objects.filter(operation=operation)), now)


def task_snapshot(task: Task) -> TaskSnapshot:
    return TaskSnapshot(
        id=task.pk,
        position=task.position,
        title=task.title,
        guidance=task.guidance,
        agency_kind=task.agency_kind,
        assigned_agency=task.assigned_agency.code if task.assigned_agency else None,
        assignees=sorted(u.username for u in task.assignees.all()),
        due_at=task.due_at,
        status=task.status,
        requires_note=task.requires_note,
        requires_cosign=task.requires_cosign,
        adhoc=task.is_adhoc,
    )


# --- stream registration -----------------------------------------------------------


def operation_stream_readable(access: Access, key: str) -> bool:
    return operation_for(access, key, action="stream.read") is not None


def operation_stream_names(access: Access) -> list[str]:
    return [op.stream_name for op in operations_visible_to(access, limit=200)]


def _is_superuser(user_id: int) -> bool:
    return User.objects.filter(pk=user_id, is_active=True, is_superuser=True).exists()


def template_stream_readable(access: Access, key: str) -> bool:
    """``template:<CODE>``: an existing template, and a reader (``can_read_templates``)."""
    code = key.lower()
    if not CODE_RE.fullmatch(code):
        return False
    if not ChecklistTemplate.objects.filter(code=code).exists():
        return False
    decision = can_read_templates(access, is_superuser=_is_superuser(access.user_id))
    if not decision:
        log_denial(access, action="stream.read", target=key, reason=decision.reason)
    return bool(decision)


def template_stream_names(access: Access) -> list[str]:
    if not can_read_templates(access, is_superuser=_is_superuser(access.user_id)):
        return []
    codes = ChecklistTemplate.objects.values_list("code", flat=True).distinct().order_by("code")
    return [template_stream_name(code) for code in codes]
