"""Read-only admin views of the record: streams and events cannot be edited here.

An event's salt is never shown (``hub.events.chain``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hub.events.models import Event, Stream, WriteReceipt


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Stream)
class StreamAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_seq", "created_at"]
    search_fields = ["name"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["stream", "seq", "kind", "actor", "actor_agency", "at"]
    list_filter = ["kind", "actor_agency"]
    search_fields = ["stream__name", "kind", "actor__username"]
    list_select_related = ["stream", "actor", "actor_agency"]
    date_hierarchy = "at"
    # The salt is what keeps redacted text from being confirmed against the
    # public hashes: it is never shown, not even here.
    exclude = ["salt"]


@admin.register(WriteReceipt)
class WriteReceiptAdmin(ReadOnlyAdmin):
    list_display = ["actor", "action", "client_msg_id", "stream", "seq", "created_at"]
    list_filter = ["action"]
    search_fields = ["client_msg_id", "actor__username", "stream"]
    list_select_related = ["actor"]
