"""Job: make the view image and thumbnail of images and PDFs (their first page)
uploaded as evidence (``hub.attachments.services.attachment_derive``), oldest
first, at most ``BATCH`` per sweep. This is the only place files are rendered:
never the request path. Each file is claimed in its own transaction with its row
locked (``skip_locked``), so two loops never derive one image twice; a failure is
counted on the row and logged, and retried on later sweeps up to
``hub.attachments.services.DERIVE_MAX_ATTEMPTS`` times."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hub.attachments.services import attachment_derive, attachments_pending_derivation
from hub.jobs.claims import ClaimHook, claim_each

NAME = "attachments_derive_pending"
BATCH = 20


def attachments_derive_pending(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None, limit: int = BATCH
) -> list[int]:
    """Derive up to ``limit`` pending files; returns the ids derived in this sweep."""
    at = now or timezone.now()
    ids = attachments_pending_derivation(limit=limit)

    def claim(attachment_id: int) -> int | None:
        derived = attachment_derive(attachment_id=attachment_id, now=at, on_claimed=on_claimed)
        return attachment_id if derived else None

    return claim_each(ids, claim, what="derivatives of attachment")
