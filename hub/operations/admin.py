"""Templates and operations in the admin: read-only (changes go through the services;
a procedure changes by publishing a new template version)."""

from __future__ import annotations

from django.contrib import admin

from hub.events.admin import ReadOnlyAdmin
from hub.operations.models import ChecklistTemplate, Operation, Task, TemplateItem


class TemplateItemInline(admin.TabularInline[TemplateItem, ChecklistTemplate]):
    model = TemplateItem
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return self.fields

    fields = [
        "position",
        "title",
        "agency_kind",
        "due_offset_minutes",
        "requires_note",
        "requires_cosign",
    ]


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(ReadOnlyAdmin):
    list_display = ["code", "version", "title", "is_current", "published_at"]
    list_filter = ["is_current"]
    search_fields = ["code", "title"]
    inlines = [TemplateItemInline]


class TaskInline(admin.TabularInline[Task, Operation]):
    model = Task
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return self.fields

    fields = [
        "position",
        "title",
        "assigned_agency",
        "status",
        "due_at",
        "cosigned_by",
        "removed_at",
    ]


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ["ref", "title", "crossing_point", "status", "lead_agency", "started_at"]
    list_filter = ["status", "crossing_point", "lead_agency"]
    search_fields = ["ref", "title"]
    list_select_related = ["crossing_point", "lead_agency"]
    inlines = [TaskInline]
