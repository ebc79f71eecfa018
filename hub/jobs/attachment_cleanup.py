"""Job: discard evidence files that no message or task referred to within
``HUB_ATTACHMENT_UNREFERENCED_TTL`` of their upload, and delete stored objects no
attachment names (``hub.attachments.cleanup``).

Each due file is claimed in its own transaction (incident and file rows locked,
``skip_locked`` on the file so two loops never discard one twice), oldest first,
at most ``BATCH`` per sweep; its bytes are deleted after the commit. The scan of
the store for orphans lists every object, so it runs at most once every
``ORPHAN_SCAN_SECONDS`` across all loops (a cache key, Redis when configured, is
the gate; a lost key only means an earlier scan) and deletes at most
``ORPHAN_BATCH`` objects per scan.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from hub.attachments.cleanup import (
    attachment_discard_unreferenced,
    attachments_discard_orphans,
    attachments_due_for_discard,
)
from hub.jobs.claims import ClaimHook, claim_each

NAME = "attachments_discard_unreferenced"
ORPHANS_NAME = "attachments_discard_orphans"
BATCH = 50
ORPHAN_BATCH = 500
ORPHAN_SCAN_SECONDS = 60 * 60
ORPHAN_SCAN_KEY = "hub:jobs:attachment-orphan-scan"


def attachments_discard_unreferenced(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None, limit: int = BATCH
) -> list[int]:
    """Discard up to ``limit`` files unreferenced past the TTL; returns their ids."""
    at = now or timezone.now()

    def claim(attachment_id: int) -> int | None:
        discarded = attachment_discard_unreferenced(
            attachment_id=attachment_id, now=at, on_claimed=on_claimed
        )
        return attachment_id if discarded else None

    return claim_each(
        attachments_due_for_discard(now=at, limit=limit), claim, what="discard of attachment"
    )


def attachments_discard_orphans_due(*, now: datetime | None = None) -> list[str]:
    """Scan the store for orphans when no loop did in the last ``ORPHAN_SCAN_SECONDS``."""
    if not cache.add(ORPHAN_SCAN_KEY, 1, timeout=ORPHAN_SCAN_SECONDS):
        return []
    return attachments_discard_orphans(now=now or timezone.now(), limit=ORPHAN_BATCH)
