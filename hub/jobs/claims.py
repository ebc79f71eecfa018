"""What every job shares: the claim hook and the per-item loop that contains failures."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

logger = logging.getLogger("hub.jobs")

# Called inside each claim's transaction, after its event is written, with the
# item's key ("alert-target:12", "task:7", "sitrep:3"); raising rolls the claim back.
ClaimHook = Callable[[str], None]
K = TypeVar("K")
R = TypeVar("R")


def claim_each(ids: Iterable[K], claim: Callable[[K], R | None], *, what: str) -> list[R]:
    """Claim every listed item in turn; returns what each successful claim returned.

    ``claim`` returns None (or False) for an item that was no longer due when it
    came to claim it (done, acknowledged or claimed by another loop meanwhile).
    An item whose claim raises is logged with its id ("<what> <id> failed; it is
    retried on the next sweep") and skipped; the items after it are still claimed.
    """
    done: list[R] = []
    for item_id in ids:
        try:
            result = claim(item_id)
        except Exception:
            logger.exception("%s %s failed; it is retried on the next sweep", what, item_id)
            continue
        if result is not None and result is not False:
            done.append(result)
    return done
