"""Idempotent client writes keyed by ``(actor, client_msg_id)``.

``run_idempotent`` wraps a service's write in a transaction that looks for the
key's ``WriteReceipt``: a repeat with the same request returns the original
result (``replay``); the same key with a different request raises
``IdempotencyConflict``. Otherwise it writes, and records the receipt in the
same transaction. Two concurrent first attempts race on the receipt's unique
constraint: the loser's transaction (its event included) rolls back whole, and
it retries and replays the winner's result, so exactly one write happens.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from hub.accounts.models import User
from hub.errors import IdempotencyConflict
from hub.events.models import WriteReceipt
from hub.queries import one_or_none

R = TypeVar("R")


@dataclass(frozen=True)
class Written:
    """What ``write`` reports so a repeat can be answered later."""

    stream: str
    seq: int
    object_id: str


def fingerprint(action: str, request: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"action": action, "request": request}, sort_keys=True, default=str, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_client_msg_id() -> uuid.UUID:
    return uuid.uuid4()


def run_idempotent(
    *,
    actor: User,
    client_msg_id: uuid.UUID,
    action: str,
    request: dict[str, Any],
    write: Callable[[], tuple[R, Written]],
    replay: Callable[[WriteReceipt], R],
) -> R:
    """Run ``write`` once per (actor, client_msg_id); answer repeats with ``replay``.

    ``write`` runs inside the transaction and returns (result, Written).
    """
    digest = fingerprint(action, request)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                existing = one_or_none(
                    WriteReceipt.objects.filter(actor=actor, client_msg_id=client_msg_id)
                )
                if existing is not None:
                    if existing.action != action or existing.fingerprint != digest:
                        raise IdempotencyConflict(
                            f"client_msg_id {client_msg_id} was already used for a "
                            "different request."
                        )
                    return replay(existing)
                result, written = write()
                WriteReceipt.objects.create(
                    actor=actor,
                    client_msg_id=client_msg_id,
                    action=action,
                    fingerprint=digest,
                    stream=written.stream,
                    seq=written.seq,
                    object_id=written.object_id,
                )
                return result
        except IntegrityError:
            # Only a lost race on the receipt is retried; anything else is a bug.
            if not WriteReceipt.objects.filter(actor=actor, client_msg_id=client_msg_id).exists():
                raise
    raise RuntimeError("idempotent write did not settle after 5 attempts")  # pragma: no cover
