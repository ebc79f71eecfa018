"""Discarding evidence files nobody referred to, and bytes no row names.

An upload is stored before any message or task refers to it (the composer
uploads first, then sends). A file that no message or task referred to within
``HUB_ATTACHMENT_UNREFERENCED_TTL`` seconds (default a day) of its upload is
discarded by the background loop (``hub.jobs.attachment_cleanup``):

- ``attachment_discard_unreferenced`` withdraws the row (``withdrawn_by`` NULL,
  ``DISCARD_REASON``) and appends ``attachment.withdrawn`` (no actor: the hub did
  it) on the incident's stream, in one transaction that locks the incident and the
  attachment row, and re-checks that the file is still unreferenced (a message that
  refers to it locks the same row, so exactly one of the two wins). After commit its
  stored bytes (original, view image, thumbnail) are deleted, each only if no other
  row that holds its bytes names the same object (names are content-addressed, so
  the same bytes uploaded to two incidents are one object). Every row holds its
  bytes except one the hub discarded: a referenced file, a served one, and one an
  officer withdrew (a redaction keeps the bytes) all do.
- ``attachments_discard_orphans`` deletes stored objects that no such row names (an
  upload whose transaction failed after its bytes were stored, a derivation that
  rolled back, a discard whose deletion failed) once they are older than the same
  TTL. Only content-addressed names
  (``ab/<sha256>.<ext>``, ``derived/ab/<sha256>.jpg``) are considered; anything else
  in the store is left alone.

Invariants: a referenced file is never touched; an officer's withdrawal keeps its
bytes (it is a redaction, not a deletion); nothing is deleted before the TTL.
Known window: an upload of the same bytes that starts while the discard deletes
them finds the object present and does not store it again; its row then names a
missing object (its download answers an error). It needs identical bytes uploaded
in the same instant a day-old copy is discarded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hub.attachments.models import Attachment
from hub.attachments.services import ClaimHook, attachment_storage
from hub.events.pipeline import emit
from hub.events.types import AttachmentWithdrawn
from hub.incidents.models import Incident

logger = logging.getLogger(__name__)

DISCARD_REASON = "Not attached to a message or task within a day; removed by the hub."
NAME_FIELDS = ("storage_name", "view_name", "thumbnail_name")
# ab/<sha256>.<ext> and derived/ab/<sha256>.jpg (and the _XXXXXXX variant a storage
# gives a name that was taken, which the writer deletes at once).
CONTENT_NAME = re.compile(r"(derived/)?[0-9a-f]{2}/[0-9a-f]{64}(_[A-Za-z0-9]{7})?\.[a-z0-9]{1,8}")
LOOKUP_CHUNK = 500


def _aware(value: datetime) -> datetime:
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def unreferenced_ttl() -> timedelta:
    return timedelta(seconds=settings.HUB_ATTACHMENT_UNREFERENCED_TTL)


def _discardable() -> Q:
    return Q(referenced_at__isnull=True, withdrawn_at__isnull=True)


def attachments_due_for_discard(*, now: datetime, limit: int) -> list[int]:
    """Ids of files unreferenced and not withdrawn, uploaded before ``now - TTL``."""
    return list(
        Attachment.objects.filter(_discardable(), created_at__lt=now - unreferenced_ttl())
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def stored_names(attachment: Attachment) -> list[str]:
    return [name for name in (getattr(attachment, f) for f in NAME_FIELDS) if name]


def _holds_bytes() -> Q:
    """A row keeps its stored objects unless the hub discarded it (withdrawn with no
    officer): a referenced or served file, and one an officer withdrew (a redaction
    keeps its bytes), all hold them."""
    return Q(withdrawn_at__isnull=True) | Q(withdrawn_by__isnull=False)


def names_in_use(names: Iterable[str]) -> set[str]:
    """Which of ``names`` a row that holds its bytes names."""
    wanted = list(dict.fromkeys(names))
    used: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        match = Q(storage_name__in=chunk) | Q(view_name__in=chunk) | Q(thumbnail_name__in=chunk)
        for values in Attachment.objects.filter(match, _holds_bytes()).values_list(*NAME_FIELDS):
            used.update(v for v in values if v in chunk)
    return used


def delete_unshared(names: Iterable[str], *, storage: Storage | None = None) -> list[str]:
    """Delete each of ``names`` that no kept row names; returns the names deleted."""
    store = storage or attachment_storage()
    candidates = list(dict.fromkeys(names))
    shared = names_in_use(candidates)
    deleted: list[str] = []
    for name in candidates:
        if name in shared:
            continue
        try:
            store.delete(name)
        except Exception:
            logger.exception("could not delete %s; the orphan sweep retries it", name)
            continue
        deleted.append(name)
    return deleted


def attachment_discard_unreferenced(
    *, attachment_id: int, now: datetime, on_claimed: ClaimHook | None = None
) -> bool:
    """Withdraw one unreferenced file and delete its unshared bytes after commit;
    False when it is no longer due (referenced, withdrawn, or locked by another loop)."""
    cutoff = now - unreferenced_ttl()
    incident_id = (
        Attachment.objects.filter(pk=attachment_id).values_list("incident_id", flat=True).first()
    )
    if incident_id is None:
        return False
    with transaction.atomic():
        # The incident first, then the file: the order every writer of the
        # incident's files takes (a message locks its incident, then its files).
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        attachment = (
            Attachment.objects.select_for_update(skip_locked=True)
            .filter(_discardable(), pk=attachment_id, created_at__lt=cutoff)
            .first()
        )
        if attachment is None:
            return False
        attachment.withdrawn_at = now
        attachment.withdrawn_by = None
        attachment.withdrawn_reason = DISCARD_REASON
        attachment.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawn_reason"])
        emit(
            stream=incident.stream_name,
            payload=AttachmentWithdrawn(attachment_id=attachment.pk, reason=DISCARD_REASON),
            actor=None,
            agency=None,
            at=now,
        )
        if on_claimed is not None:
            on_claimed(f"attachment-discard:{attachment.pk}")
        names = stored_names(attachment)
        transaction.on_commit(lambda: delete_unshared(names))
    return True


def walk(storage: Storage, path: str = "") -> Iterator[str]:
    """Every file name below ``path`` (``listdir`` works on the filesystem and S3)."""
    try:
        directories, files = storage.listdir(path)
    except FileNotFoundError:
        return
    prefix = f"{path}/" if path else ""
    for file in files:
        yield prefix + file
    for directory in directories:
        yield from walk(storage, prefix + directory)


def _s3_listing(storage: Any) -> Iterator[tuple[str, datetime]]:
    """Every object of an S3 storage with its time, from the listing itself (one
    request per 1000 objects, where ``get_modified_time`` would HEAD each one)."""
    root = storage._normalize_name("")
    prefix = f"{root.rstrip('/')}/" if root else ""
    paginator = storage.connection.meta.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=prefix):
        for entry in page.get("Contents", ()):
            yield entry["Key"][len(prefix) :], _aware(entry["LastModified"])


def stored_objects(storage: Storage) -> Iterator[tuple[str, datetime]]:
    """Every stored name with its modification time, on either backend."""
    if type(storage).__name__ == "S3Storage":
        yield from _s3_listing(storage)
        return
    for name in walk(storage):
        try:
            yield name, _aware(storage.get_modified_time(name))
        except FileNotFoundError:
            continue


def attachments_discard_orphans(*, now: datetime, limit: int) -> list[str]:
    """Delete up to ``limit`` stored objects older than the TTL that no row holds."""
    storage = attachment_storage()
    cutoff = now - unreferenced_ttl()
    old = [
        name
        for name, modified in stored_objects(storage)
        if modified < cutoff and CONTENT_NAME.fullmatch(name)
    ]
    named = names_in_use(old)
    deleted: list[str] = []
    for name in old:
        if name in named:
            continue
        if len(deleted) >= limit:
            break
        storage.delete(name)
        deleted.append(name)
    if deleted:
        logger.info("deleted %d stored objects no attachment names", len(deleted))
    return deleted


__all__ = [
    "DISCARD_REASON",
    "attachment_discard_unreferenced",
    "attachments_discard_orphans",
    "attachments_due_for_discard",
    "delete_unshared",
    "walk",
]
