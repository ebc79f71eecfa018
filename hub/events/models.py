"""The record: streams, their append-only events, and write receipts.

Invariants:
- ``Event(stream, seq)`` is unique; seqs of a stream are 1..last_seq with no gap,
  allocated under the stream row's lock in the transaction that makes the change
  (``hub.events.pipeline.emit``);
- ``Event.hash = sha256(prev_hash || canonical(event))`` chains every stream from
  ``GENESIS_HASH``; ``hub.events.audit.verify`` recomputes it. The canonical form
  (``Event.form``: 3 for every new event, 2 for older ones; ``hub.record.canonical``)
  commits to the event's random ``salt``, which no API or frame ever shows:
  without it, the exposed hashes of a redacted message cannot be used to confirm
  a guess of its text offline;
- ``Checkpoint`` rows (signed tree heads over every stream's head) are append-only
  and chained by ``prev`` like events (model, queryset and, on PostgreSQL, a
  trigger refuse changes; migration 0005); their delivery to outside witnesses is
  the mutable ``WitnessDelivery``;
- events are never updated or deleted: the model and queryset refuse (``save``
  always INSERTs, so ``Event(pk=<existing>).save()`` fails instead of
  overwriting; ``bulk_create`` refuses ``update_conflicts``/``ignore_conflicts``),
  and on PostgreSQL a trigger refuses too (migration 0002);
- ``WriteReceipt(actor, client_msg_id)`` is unique: it makes client writes
  idempotent (``hub.events.idempotency``);
- ``ReadMarker(user, stream_name)`` is unique, and its ``seq`` never goes down
  (``hub.events.reads``). Markers are not part of the record: no event, no chain.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, NoReturn

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AppendOnlyViolation(RuntimeError):
    """Raised on any attempt to change or remove an event."""


class Stream(models.Model):
    name = models.CharField(max_length=120, unique=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seq}"

    @property
    def kind(self) -> str:
        return self.name.split(":", 1)[0]


class EventQuerySet(models.QuerySet["Event"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("events are append-only: update refused")

    def delete(self) -> NoReturn:
        raise AppendOnlyViolation("events are append-only: delete refused")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("events are append-only: bulk_update refused")

    def bulk_create(
        self,
        objs: Iterable[Event],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[Event]:
        # An "upsert" would overwrite an existing event (update_conflicts), and
        # ignore_conflicts hides a clash with one: both are refused.
        if ignore_conflicts or update_conflicts or update_fields or unique_fields:
            raise AppendOnlyViolation(
                "events are append-only: bulk_create with conflict handling refused"
            )
        return super().bulk_create(objs, batch_size=batch_size)

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("events are append-only: update_or_create refused")

    def _raw_delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("events are append-only: delete refused")


class Event(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.PROTECT, related_name="events")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()
    payload = models.JSONField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    salt = models.CharField(
        max_length=32,
        blank=True,
        default="",
        editable=False,
        help_text="Random hex hashed with the event and never shown; empty on events "
        "recorded before salting (their canonical form has no salt).",
    )

    form = models.PositiveSmallIntegerField(
        default=2,
        editable=False,
        help_text="Canonical form the hash commits to (hub.record.canonical): 2 holds the "
        "payload (and salt), 3 a salted digest of the payload. emit writes 3; rows from "
        "before form 3 read as 2.",
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["stream_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="event_unique_stream_seq"),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="event_seq_positive"),
        ]
        indexes = [models.Index(fields=["kind", "at"], name="event_kind_at")]

    def __str__(self) -> str:
        return f"{self.stream_id}#{self.seq} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """INSERT only. An instance built with an existing pk is refused, not saved over it."""
        if (
            args
            or not self._state.adding
            or kwargs.get("force_update")
            or kwargs.get("update_fields") is not None
        ):
            raise AppendOnlyViolation("events are append-only: save of an existing event refused")
        if self.pk is not None and type(self)._default_manager.filter(pk=self.pk).exists():
            raise AppendOnlyViolation("events are append-only: an event with this id exists")
        kwargs["force_insert"] = True  # never fall back to an UPDATE
        super().save(**kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("events are append-only: delete refused")


class CheckpointQuerySet(models.QuerySet["Checkpoint"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("checkpoints are append-only: update refused")

    def delete(self) -> NoReturn:
        raise AppendOnlyViolation("checkpoints are append-only: delete refused")

    def _raw_delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("checkpoints are append-only: delete refused")


class Checkpoint(models.Model):
    """A signed tree head over every stream's head (``hub.events.checkpoints``).

    Append-only and hash-chained: ``number`` runs 1, 2, 3... with no gap, ``prev``
    is the previous checkpoint's ``hash`` (``GENESIS_HASH`` for 1), ``hash`` is
    ``checkpoint_hash(checkpoint_body(...))`` and ``signature`` is Ed25519 over that
    body by the key ``key_id`` names. ``leaves`` are the tree's leaves in tree order,
    ``[[stream, seq, head_hash], ...]`` sorted by the stream name's UTF-8 bytes: about
    110 bytes per stream per checkpoint (10,000 streams: about 1.1 MB a checkpoint,
    so a checkpoint every 5 minutes of a hub with 10,000 streams that all moved
    stores about 320 MB a day; a checkpoint is made only when something changed).
    On PostgreSQL a trigger refuses UPDATE and DELETE (migration 0005).
    """

    number = models.PositiveBigIntegerField(unique=True)
    tree_size = models.PositiveBigIntegerField()
    root = models.CharField(max_length=64)
    at = models.DateTimeField()
    prev = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=88, help_text="Ed25519 signature, base64")
    hash = models.CharField(max_length=64, unique=True)
    leaves = models.JSONField(help_text="[[stream, seq, head hash], ...] in tree order")
    events_total = models.PositiveBigIntegerField(
        help_text="Sum of the leaves' seqs: the events the checkpoint covers (not signed; "
        "the loop counts new events from it)."
    )

    objects = CheckpointQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="checkpoint_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.number} ({self.tree_size} streams)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if args or not self._state.adding or kwargs.get("update_fields") is not None:
            raise AppendOnlyViolation("checkpoints are append-only: save of an existing one")
        kwargs["force_insert"] = True
        super().save(**kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("checkpoints are append-only: delete refused")


class WitnessDelivery(models.Model):
    """Whether one checkpoint reached one outside witness (``hub.events.witness``).

    Mutable, unlike the checkpoint it points to: attempts and the last error change
    until ``delivered_at`` is set. One row per (checkpoint, target) for each target
    configured when the checkpoint was made.
    """

    class Target(models.TextChoices):
        FILE = "file", "file"
        HTTP = "http", "HTTP"

    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="+")
    target = models.CharField(max_length=8, choices=Target.choices)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "target"], name="witness_delivery_unique_checkpoint_target"
            )
        ]
        indexes = [
            models.Index(
                fields=["target", "checkpoint"],
                name="witness_pending",
                condition=models.Q(delivered_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        state = "delivered" if self.delivered_at else f"pending ({self.attempts} attempts)"
        return f"{self.checkpoint_id} -> {self.target}: {state}"


class WriteReceipt(models.Model):
    """What a client write produced, keyed by (actor, client_msg_id).

    A repeat of the same write returns this result; the same key with a
    different request fingerprint is a conflict.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="write_receipts"
    )
    client_msg_id = models.UUIDField()
    action = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    stream = models.CharField(max_length=120, blank=True)
    seq = models.BigIntegerField(null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["actor", "client_msg_id"], name="receipt_unique_actor_client_msg_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.client_msg_id} -> {self.stream}#{self.seq}"


class ReadMarker(models.Model):
    """How far one officer has read one stream: the last ``seq`` they have seen.

    Written only by ``hub.events.reads.stream_mark_read``, which keeps it monotonic
    and at most the stream's head. Not an event: reading changes nothing on record.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="read_markers"
    )
    stream_name = models.CharField(max_length=120)
    seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "stream_name"], name="read_marker_unique_user_stream"
            ),
            models.CheckConstraint(condition=models.Q(seq__gte=0), name="read_marker_seq_gte_0"),
        ]
        indexes = [models.Index(fields=["stream_name", "user"], name="read_marker_stream_user")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.stream_name} to {self.seq}"
