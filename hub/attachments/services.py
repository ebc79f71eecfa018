"""Writes and reads of evidence files (hub.attachments).

Every write loads the caller's access and the incident (NotFound when it is not
theirs), checks ``hub.attachments.permissions``, changes rows and emits its event
on ``incident:<REF>`` in one transaction (``run_idempotent`` opens it).

- ``attachment_upload``: the bytes are inspected (``inspection``), hashed and
  stored under a name derived from the hash before the transaction, so a retry
  stores nothing new (the same name already exists). Idempotent on
  ``client_msg_id``: the same bytes replay the original, other bytes are 409.
- ``attachment_withdraw``: a redaction with a reason; row and bytes stay.
- ``attachment_open_original``: who may, gets the bytes, and an
  ``attachment.original_downloaded`` event is appended first.
- ``attachment_derive``: the background job's claim of one image or PDF: makes
  its view image and thumbnail (``derivatives``; a PDF's first page), stores them
  under content-addressed names below ``derived/`` and records them on the row (no
  event: a derivative is not evidence, the original is). A failure is counted on
  the row.
- ``attachment_open_derivative``: the view image or thumbnail, for every reader
  of the incident; not logged (only originals are).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.selectors import access_for
from hub.attachments import derivatives
from hub.attachments import permissions as perms
from hub.attachments.inspection import inspect_file
from hub.attachments.models import Attachment
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from hub.events.bus import get_bus
from hub.events.idempotency import Written, run_idempotent
from hub.events.models import WriteReceipt
from hub.events.pipeline import emit
from hub.events.types import AttachmentAdded, AttachmentOriginalDownloaded, AttachmentWithdrawn
from hub.incidents.models import Incident, Status
from hub.incidents.permissions import IncidentFacts, can_read_incident
from hub.incidents.selectors import incident_facts
from hub.security import acting_agency, log_denial, refuse
from hub.text import clean_text

MAX_REASON = 500
DERIVE_MAX_ATTEMPTS = 3
DERIVATIVE_KINDS = ("view", "thumbnail")
# Called inside the derivation's transaction (hub.jobs.claims.ClaimHook).
ClaimHook = Callable[[str], None]
MAX_FILENAME = 120
CHUNK = 64 * 1024


@dataclass(frozen=True)
class AttachmentResult:
    attachment: Attachment
    stream: str
    seq: int
    duplicate: bool = False


def attachment_storage() -> Storage:
    return storages["attachments"]


def sanitise_filename(name: str | None, extension: str) -> str:
    """A display name: no path, no control characters, the extension of the real type."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    stem = re.sub(r"\s+", " ", base.rsplit(".", 1)[0] if "." in base else base).strip(" .")
    return f"{(stem or 'file')[:MAX_FILENAME]}.{extension}"


def _hash(file: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    file.seek(0)
    while chunk := file.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _minute() -> int:
    """The rate limit's window: the current minute since the epoch."""
    return int(timezone.now().timestamp() // 60)


def _rate_limit(actor: User) -> None:
    """At most HUB_ATTACHMENT_UPLOADS_PER_MINUTE uploads per officer and minute,
    counted across every worker in Redis when the hub has it, else per process."""
    limit: int = settings.HUB_ATTACHMENT_UPLOADS_PER_MINUTE
    window = _minute()
    key = f"hub:attachment-uploads:{actor.pk}:{window}"
    # A user id is unique within one database: hubs (or test runs) sharing a Redis differ.
    database = hashlib.sha256(str(settings.DATABASES["default"]["NAME"]).encode()).hexdigest()[:8]
    shared = get_bus().count(f"{settings.HUB_REDIS_PREFIX}:{database}:{key}", ttl=120)
    if shared is None:
        cache.add(key, 0, timeout=120)
        shared = cache.incr(key)
    if shared > limit:
        raise RateLimited(
            f"At most {limit} uploads per minute; try again shortly.", code="rate_limited"
        )


def _incident(
    access_actor: User, ref: str, *, action: str, lock: bool
) -> tuple[Incident, IncidentFacts]:
    access = access_for(access_actor)
    if not isinstance(ref, str) or len(ref) > 32:
        raise NotFound("Not found.")
    query = Incident.objects.select_related("crossing_point", "lead_agency")
    if lock:
        query = query.select_for_update(of=("self",))
    incident = query.filter(ref=ref).first()
    if incident is None:
        raise NotFound("Not found.")
    facts = incident_facts(incident)
    if not can_read_incident(access, facts):
        refuse(access, action=action, target=ref, reason="cannot see this incident", hide=True)
    return incident, facts


def _replay(receipt: WriteReceipt) -> AttachmentResult:
    attachment = Attachment.objects.select_related("uploaded_by", "agency", "withdrawn_by").get(
        pk=int(receipt.object_id)
    )
    return AttachmentResult(attachment, receipt.stream, receipt.seq or 0, duplicate=True)


def attachment_upload(
    *,
    actor: User,
    ref: str,
    file: IO[bytes],
    filename: str | None,
    client_msg_id: uuid.UUID,
    agency: str | None = None,
) -> AttachmentResult:
    """Store an evidence file on the incident and record ``attachment.added``."""
    access = access_for(actor)
    incident, facts = _incident(actor, ref, action="attachment.upload", lock=False)
    acting_agency(
        access, perms.can_upload(access, facts, agency), action="attachment.upload", target=ref
    )
    if incident.status == Status.CLOSED:
        raise Conflict(f"{incident.ref} is closed; reopen it first.", code="incident_closed")
    _rate_limit(actor)
    inspected = inspect_file(file)
    sha256, size = _hash(file)
    display = sanitise_filename(filename, inspected.extension)
    storage = attachment_storage()
    name = f"{sha256[:2]}/{sha256}.{inspected.extension}"
    # A repeat of client_msg_id is answered from its receipt (the original, or a
    # 409 for other bytes): it never stores a file of its own.
    repeat = WriteReceipt.objects.filter(actor=actor, client_msg_id=client_msg_id).exists()
    if not repeat and not storage.exists(name):
        file.seek(0)
        stored = storage.save(name, File(file))
        if stored != name:  # a concurrent upload won the name; keep one copy
            storage.delete(stored)

    def write() -> tuple[AttachmentResult, Written]:
        locked, facts = _incident(actor, ref, action="attachment.upload", lock=True)
        acting = acting_agency(
            access,
            perms.can_upload(access, facts, agency),
            action="attachment.upload",
            target=ref,
        )
        if locked.status == Status.CLOSED:
            raise Conflict(f"{locked.ref} is closed; reopen it first.", code="incident_closed")
        attachment = Attachment.objects.create(
            incident=locked,
            uploaded_by=actor,
            agency_id=acting.pk,
            sha256=sha256,
            size=size,
            content_type=inspected.content_type,
            filename=display,
            storage_name=name,
            client_msg_id=client_msg_id,
            created_at=timezone.now(),
        )
        event = emit(
            stream=locked.stream_name,
            payload=AttachmentAdded(
                attachment_id=attachment.pk,
                sha256=sha256,
                size=size,
                content_type=inspected.content_type,
                filename=display,
                uploader=actor.username,
                agency=acting.code,
            ),
            actor=actor,
            agency=acting,
            at=attachment.created_at,
        )
        attachment.seq = event.seq
        attachment.save(update_fields=["seq"])
        return (
            AttachmentResult(attachment, locked.stream_name, event.seq),
            Written(locked.stream_name, event.seq, str(attachment.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id,
        action="attachment.upload",
        request={"ref": ref, "sha256": sha256, "agency": agency},
        write=write,
        replay=_replay,
    )


def _attachment_of(incident: Incident, attachment_id: int, *, lock: bool) -> Attachment:
    query = Attachment.objects.select_related("uploaded_by", "agency", "withdrawn_by")
    if lock:
        query = query.select_for_update(of=("self",))
    found = query.filter(pk=attachment_id, incident=incident).first()
    if found is None:
        raise NotFound("Not found.")
    return found


def attachments_of_incident(*, actor: User, ref: str) -> list[Attachment]:
    """Metadata of every attachment (withdrawn ones included) for incident readers."""
    incident, _facts = _incident(actor, ref, action="attachment.list", lock=False)
    return list(
        Attachment.objects.filter(incident=incident).select_related(
            "uploaded_by", "agency", "withdrawn_by"
        )
    )


def attachment_withdraw(
    *,
    actor: User,
    ref: str,
    attachment_id: int,
    reason: str,
    client_msg_id: uuid.UUID | None = None,
) -> AttachmentResult:
    """Stop serving a file, with a reason; the row, the bytes and the events stay.

    With ``client_msg_id`` a resend (the outbox after a lost answer) replays the
    first withdrawal instead of answering 409 ``attachment_withdrawn``.
    """
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise InvalidInput(f"reason: 1 to {MAX_REASON} characters.")
    # The one rule for officers' text (no control characters), as the schema states.
    text = clean_text(text, field="reason", max_length=MAX_REASON)
    if client_msg_id is None:
        with transaction.atomic():
            return _withdraw(actor, ref, attachment_id, text)

    def write() -> tuple[AttachmentResult, Written]:
        result = _withdraw(actor, ref, attachment_id, text)
        return result, Written(result.stream, result.seq, str(result.attachment.pk))

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id,
        action="attachment.withdraw",
        request={"ref": ref, "attachment_id": attachment_id, "reason": text},
        write=write,
        replay=_replay,
    )


def _withdraw(actor: User, ref: str, attachment_id: int, text: str) -> AttachmentResult:
    """Inside the caller's transaction."""
    access = access_for(actor)
    incident, facts = _incident(actor, ref, action="attachment.withdraw", lock=True)
    attachment = _attachment_of(incident, attachment_id, lock=True)
    acting = acting_agency(
        access,
        perms.can_withdraw(access, facts, uploader_id=attachment.uploaded_by_id),
        action="attachment.withdraw",
        target=ref,
    )
    if attachment.is_withdrawn:
        raise Conflict("The file is already withdrawn.", code="attachment_withdrawn")
    attachment.withdrawn_at = timezone.now()
    attachment.withdrawn_by = actor
    attachment.withdrawn_reason = text
    attachment.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawn_reason"])
    event = emit(
        stream=incident.stream_name,
        payload=AttachmentWithdrawn(attachment_id=attachment.pk, reason=text),
        actor=actor,
        agency=acting,
        at=attachment.withdrawn_at,
    )
    return AttachmentResult(attachment, incident.stream_name, event.seq)


def attachment_open_original(
    *, actor: User, ref: str, attachment_id: int
) -> tuple[Attachment, IO[bytes]]:
    """The original bytes, for those allowed; logs ``attachment.original_downloaded``.

    A withdrawn file is served to nobody (404 like an unknown one).
    """
    access = access_for(actor)
    with transaction.atomic():
        incident, facts = _incident(actor, ref, action="attachment.download", lock=True)
        attachment = _attachment_of(incident, attachment_id, lock=False)
        if attachment.is_withdrawn:
            raise NotFound("Not found.")
        decision = perms.can_download_original(access, facts)
        if not decision.allowed:
            log_denial(access, action="attachment.download", target=ref, reason=decision.reason)
            raise Forbidden(
                decision.reason[:1].upper() + decision.reason[1:] + ".",
                code="original_restricted",
            )
        acting = acting_agency(access, decision, action="attachment.download", target=ref)
        emit(
            stream=incident.stream_name,
            payload=AttachmentOriginalDownloaded(
                attachment_id=attachment.pk, sha256=attachment.sha256
            ),
            actor=actor,
            agency=acting,
            at=timezone.now(),
        )
    return attachment, attachment_storage().open(attachment.storage_name, "rb")


def _pending_derivation() -> Any:
    return Attachment.objects.filter(
        content_type__in=derivatives.DERIVABLE_TYPES,
        view_name="",
        withdrawn_at__isnull=True,
        derive_attempts__lt=DERIVE_MAX_ATTEMPTS,
    )


def attachments_pending_derivation(*, limit: int) -> list[int]:
    """Ids of images and PDFs still without derivatives (not withdrawn, attempts left),
    oldest first."""
    return list(
        _pending_derivation().order_by("created_at", "pk").values_list("pk", flat=True)[:limit]
    )


def _store_derived(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    name = f"derived/{digest[:2]}/{digest}.{derivatives.EXTENSION}"
    storage = attachment_storage()
    if not storage.exists(name):
        stored = storage.save(name, ContentFile(data))
        if stored != name:  # a concurrent loop won the name; keep one copy
            storage.delete(stored)
    return name


def attachment_derive(
    *, attachment_id: int, now: datetime, on_claimed: ClaimHook | None = None
) -> bool:
    """Claim one pending image or PDF and make its derivatives; False when it is not
    (any more) pending. The row is locked for the work (``skip_locked``: a second
    loop passes it by); a failure rolls the claim back, is counted on the row
    (``derive_attempts``, ``derive_error``) and raised for the job to log. After
    ``DERIVE_MAX_ATTEMPTS`` failures the file is no longer tried. Renders (PDFium,
    Pillow): never call it on the request path.
    """
    try:
        with transaction.atomic():
            attachment = (
                _pending_derivation().select_for_update(skip_locked=True).filter(pk=attachment_id)
            ).first()
            if attachment is None:
                return False
            with attachment_storage().open(attachment.storage_name, "rb") as original:
                view, thumbnail = derivatives.make_derivatives(original, attachment.content_type)
            claimed = (
                _pending_derivation()
                .filter(pk=attachment_id)
                .update(
                    view_name=_store_derived(view),
                    thumbnail_name=_store_derived(thumbnail),
                    derived_at=now,
                    derive_error="",
                )
            )
            if on_claimed is not None:
                on_claimed(f"attachment-derive:{attachment_id}")
            return bool(claimed)
    except Exception as exc:
        Attachment.objects.filter(pk=attachment_id).update(
            derive_attempts=F("derive_attempts") + 1,
            derive_error=f"{type(exc).__name__}: {exc}"[:500],
        )
        raise


def attachment_open_derivative(
    *, actor: User, ref: str, attachment_id: int, kind: str
) -> tuple[Attachment, IO[bytes]]:
    """The view image or thumbnail of a file, for anyone who may read the incident.

    A withdrawn file is 404 like an unknown one; a file of a type that gets no
    derivatives (none is accepted today) is 409 ``no_derivative``; an image or PDF
    whose derivatives are not made yet is 409 ``derivative_pending``
    (``derivative_failed`` once the job gave up on it). A PDF's are of its first page.
    """
    if kind not in DERIVATIVE_KINDS:
        raise NotFound("Not found.")
    incident, _facts = _incident(actor, ref, action="attachment.view", lock=False)
    attachment = _attachment_of(incident, attachment_id, lock=False)
    if attachment.is_withdrawn:
        raise NotFound("Not found.")
    if attachment.content_type not in derivatives.DERIVABLE_TYPES:
        raise Conflict(
            "Only images and PDFs have a view image and a thumbnail; "
            "download the original instead.",
            code="no_derivative",
        )
    name = attachment.view_name if kind == "view" else attachment.thumbnail_name
    if not name:
        if attachment.derive_attempts >= DERIVE_MAX_ATTEMPTS:
            raise Conflict(
                "The view image of this file could not be made (a damaged file?).",
                code="derivative_failed",
            )
        raise Conflict(
            f"The {kind} image is being made in the background; try again in a few seconds.",
            code="derivative_pending",
        )
    return attachment, attachment_storage().open(name, "rb")
