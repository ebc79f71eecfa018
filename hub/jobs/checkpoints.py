"""Job: sign a checkpoint of the record, and send checkpoints to the outside witness.

A checkpoint (``hub.events.checkpoints.checkpoint_now``) is due when the record
changed since the last one and either ``HUB_CHECKPOINT_SECONDS`` have passed since
it, or ``HUB_CHECKPOINT_EVENTS`` new events were recorded since it (counted as
the sum of the streams' heads minus the sum the last checkpoint covered: one
aggregate over the stream rows). The first checkpoint is due as soon as any event
exists. Nothing is due when nothing changed. ``checkpoint_now`` serialises
concurrent loops, so two loops never make two checkpoints with one number.

Delivery to the witness (``hub.events.witness.deliver_pending``) is a job of its
own, so a witness that is down never holds up checkpointing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from hub.events.checkpoints import checkpoint_now
from hub.events.models import Checkpoint, Stream
from hub.events.witness import deliver_pending
from hub.jobs.claims import ClaimHook

NAME = "checkpoints_sign_due"
WITNESS_NAME = "witness_deliver"


def due(now: datetime) -> bool:
    total = Stream.objects.aggregate(total=Sum("last_seq"))["total"] or 0
    last = Checkpoint.objects.order_by("-number").values("at", "events_total").first()
    if last is None:
        return total > 0
    if total == last["events_total"]:
        return False  # heads only move forward: an equal sum is an unchanged record
    if total - last["events_total"] >= settings.HUB_CHECKPOINT_EVENTS:
        return True
    return now - last["at"] >= timedelta(seconds=settings.HUB_CHECKPOINT_SECONDS)


def checkpoints_sign_due(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None
) -> list[int]:
    """Sign a checkpoint when one is due at ``now``; returns its number ([] when none).
    (Not a claim of an item: ``on_claimed``, the tests' claim gate, is not called.)"""
    at = now or timezone.now()
    if not due(at):
        return []
    checkpoint = checkpoint_now(now=at)
    return [] if checkpoint is None else [checkpoint.number]


def witness_deliver(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None
) -> list[tuple[int, str]]:
    """Send every checkpoint a witness has not received yet, oldest first."""
    return deliver_pending(now=now or timezone.now())
