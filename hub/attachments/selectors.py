"""Reads of evidence files that other slices may call (the attachments facade).

``attachments_to_refer`` is what a message (or, later, a task) calls before it
records attachment ids: it must run inside the caller's transaction, after the
incident row is locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from hub.attachments.models import Attachment, MessageAttachment
from hub.errors import Conflict, InvalidInput
from hub.incidents.models import Message

MAX_PER_MESSAGE = 10


def attachments_to_refer(*, incident_id: int, ids: Sequence[int]) -> list[int]:
    """The ids, deduplicated in order, if each is a served file of this incident.

    Unknown ids and files of another incident are the same 422
    ``attachment_unknown`` (nobody learns what exists elsewhere); a withdrawn file
    is 409 ``attachment_withdrawn``.
    """
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_PER_MESSAGE:
        raise InvalidInput(
            f"attachments: at most {MAX_PER_MESSAGE} files per message.",
            code="invalid_request",
        )
    if not wanted:
        return []
    found = dict(
        Attachment.objects.select_for_update()
        .filter(pk__in=wanted, incident_id=incident_id)
        .values_list("pk", "withdrawn_at")
    )
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise InvalidInput(
            f"attachments: no file {unknown[0]} on this incident.", code="attachment_unknown"
        )
    withdrawn = [i for i in wanted if found[i] is not None]
    if withdrawn:
        raise Conflict(
            f"attachments: file {withdrawn[0]} was withdrawn.", code="attachment_withdrawn"
        )
    return wanted


def attachments_mark_referenced(*, ids: Sequence[int], at: datetime | None = None) -> None:
    """Record that a message or a task now refers to ``ids`` (checked by
    ``attachments_to_refer``): such a file is never discarded as unreferenced."""
    if ids:
        Attachment.objects.filter(pk__in=list(ids), referenced_at__isnull=True).update(
            referenced_at=at or timezone.now()
        )


def attachments_link(*, message: Message, ids: Sequence[int]) -> None:
    """Record that ``message`` refers to ``ids`` (checked by ``attachments_to_refer``)."""
    MessageAttachment.objects.bulk_create(
        MessageAttachment(message=message, attachment_id=pk, position=i) for i, pk in enumerate(ids)
    )
    attachments_mark_referenced(ids=ids)
