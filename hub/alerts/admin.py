"""Alerts in the admin are read-only: they change only through the services."""

from __future__ import annotations

from django.contrib import admin

from hub.alerts.models import Alert, AlertTarget
from hub.events.admin import ReadOnlyAdmin


class AlertTargetInline(admin.TabularInline[AlertTarget, Alert]):
    model = AlertTarget
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return self.fields

    fields = ["agency", "due_at", "acknowledged_at", "acknowledged_by", "escalated_at"]
    readonly_fields = ["agency", "due_at", "acknowledged_at", "acknowledged_by", "escalated_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "title",
        "crossing_point",
        "severity",
        "status",
        "is_exercise",
        "version",
        "created_at",
    ]
    list_filter = ["status", "severity", "category", "is_exercise", "crossing_point"]
    search_fields = ["title", "body", "source_identifier"]
    list_select_related = ["crossing_point"]
    inlines = [AlertTargetInline]
