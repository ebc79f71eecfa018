"""Incidents in the admin are read-only: every change goes through the services,
so that it is sequenced, hash-chained and published."""

from __future__ import annotations

from django.contrib import admin

from hub.events.admin import ReadOnlyAdmin
from hub.incidents.models import Incident, Message


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = [
        "ref",
        "title",
        "crossing_point",
        "category",
        "severity",
        "status",
        "lead_agency",
    ]
    list_filter = ["status", "category", "severity", "crossing_point", "lead_agency"]
    search_fields = ["ref", "title", "description"]
    list_select_related = ["crossing_point", "lead_agency"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["incident", "seq", "author", "agency", "created_at", "redacted_at"]
    list_filter = ["agency"]
    search_fields = ["incident__ref", "author__username"]
    list_select_related = ["incident", "author", "agency"]
    exclude = ["body"]  # the text is read through the API, where redaction applies
