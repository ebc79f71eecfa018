"""Situation reports in the admin: read-only (reports and cadences change only through
``hub.sitreps.services``, which records each change as an event)."""

from __future__ import annotations

from django.contrib import admin

from hub.events.admin import ReadOnlyAdmin
from hub.sitreps.models import SitrepSubject, SituationReport


class SituationReportInline(admin.StackedInline[SituationReport, SitrepSubject]):
    model = SituationReport
    extra = 0
    can_delete = False
    fields = [
        "number",
        "posted_at",
        "author",
        "agency",
        "situation",
        "actions_taken",
        "next_steps",
        "needs",
        "seq",
    ]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return self.fields


@admin.register(SitrepSubject)
class SitrepSubjectAdmin(ReadOnlyAdmin):
    list_display = [
        "stream_name",
        "crossing_point",
        "reports",
        "last_report_at",
        "every_minutes",
        "due_at",
        "reminded_at",
    ]
    list_filter = ["crossing_point"]
    search_fields = ["stream_name"]
    list_select_related = ["crossing_point"]
    inlines = [SituationReportInline]
