"""SOP checklist templates (versioned), joint operations and their tasks.

Invariants:
- a template version is immutable once published; editing a procedure
  publishes a new version (from code: ``template_publish``; in the browser:
  ``template_create`` / ``template_revise``), and starting an operation copies
  the items into tasks, so nothing running ever changes under a team;
- every version is a ``template.published`` event on ``template:<CODE>`` (the
  code upper-cased); ``seq`` is that event's seq (None only for versions
  published before template streams existed, until ``load_sops`` records them);
- an item's ``key`` is stable across versions: a kept item keeps its key, so
  two versions are compared item by item (``hub.operations.template_diff``);
- every change to an operation or task goes through ``hub.operations.services``
  and appends an event to ``operation:<REF>``; progress is also pushed to the
  linked incident's stream;
- a task that needs a note cannot be ``done`` without one; a task that needs a
  co-sign cannot be ``done`` until an officer of another agency has co-signed;
- tasks are never deleted: ad-hoc tasks are removed (``removed_at``);
- a task's evidence files (``TaskAttachment``) are files of its operation's incident,
  linked once each and never unlinked: a file that should no longer count is
  withdrawn on the file itself (``hub.attachments``), and a withdrawn file no longer
  satisfies ``requires_note``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hub.agencies.models import Agency, AgencyKind, CrossingPoint


class TemplateSource(models.TextChoices):
    CODE = "code", "Code (load_sops)"
    BROWSER = "browser", "Written in the browser"


def template_stream_name(code: str) -> str:
    """``template:<CODE>``: template codes are lower-case, stream keys upper-case."""
    return f"template:{code.upper()}"


class ChecklistTemplate(models.Model):
    code = models.SlugField(max_length=60)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_current = models.BooleanField(default=True)
    source = models.CharField(
        max_length=16, choices=TemplateSource.choices, default=TemplateSource.CODE
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    publisher_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField()
    seq = models.PositiveIntegerField(
        null=True, blank=True, help_text="The seq of its template.published event."
    )

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="template_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} — {self.title}"

    @property
    def stream_name(self) -> str:
        return template_stream_name(self.code)


class TemplateItem(models.Model):
    template = models.ForeignKey(ChecklistTemplate, on_delete=models.PROTECT, related_name="items")
    key = models.CharField(max_length=40, help_text="The same item in every version.")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    agency_kind = models.CharField(max_length=32, choices=AgencyKind.choices)
    due_offset_minutes = models.PositiveIntegerField(help_text="Due this long after the start.")
    requires_note = models.BooleanField(default=False)
    requires_cosign = models.BooleanField(default=False)

    class Meta:
        ordering = ["template_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "position"], name="template_item_unique_position"
            ),
            models.UniqueConstraint(fields=["template", "key"], name="template_item_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.template_id}.{self.position} {self.title}"


class OperationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class Operation(models.Model):
    ref = models.CharField(max_length=40, unique=True)
    crossing_point = models.ForeignKey(
        CrossingPoint, on_delete=models.PROTECT, related_name="operations"
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="operations",
    )
    template = models.ForeignKey(
        ChecklistTemplate, on_delete=models.PROTECT, related_name="operations"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=OperationStatus.choices, default=OperationStatus.ACTIVE
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    lead_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    close_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.ref} — {self.title}"

    @property
    def stream_name(self) -> str:
        return f"operation:{self.ref}"


class OperationCounter(models.Model):
    crossing_point = models.ForeignKey(CrossingPoint, on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crossing_point", "year"], name="operation_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.crossing_point_id}/{self.year}: {self.last_number}"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    BLOCKED = "blocked", "Blocked"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class Task(models.Model):
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="tasks")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    agency_kind = models.CharField(max_length=32, choices=AgencyKind.choices)
    assigned_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks"
    )
    assignees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="tasks")
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    requires_note = models.BooleanField(default=False)
    requires_cosign = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    evidence = models.CharField(
        max_length=500, blank=True, help_text="A reference: case number, file, photo ID."
    )
    reason = models.CharField(
        max_length=500, blank=True, help_text="Why it is blocked or not applicable."
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cosigned_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)
    is_adhoc = models.BooleanField(default=False)
    removed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["operation_id", "position", "id"]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="task_due_unescalated",
                condition=models.Q(escalated_at__isnull=True, removed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}.{self.position} {self.title}"


class TaskAttachment(models.Model):
    """A file of the operation's incident recorded as evidence for a task (the
    task's ``task.status_changed`` / ``task.noted`` event lists the ids it added).
    Written once, never changed or removed."""

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="evidence_links")
    attachment = models.ForeignKey(
        "attachments.Attachment", on_delete=models.PROTECT, related_name="task_links"
    )
    position = models.PositiveSmallIntegerField(help_text="Order of addition within the task.")
    added_at = models.DateTimeField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["task_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "attachment"], name="task_attachment_once")
        ]

    def __str__(self) -> str:
        return f"task {self.task_id} -> file {self.attachment_id}"
