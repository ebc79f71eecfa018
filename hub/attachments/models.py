"""Evidence files on incidents.

Invariants: an ``Attachment`` row is never deleted or replaced (``PROTECT``
everywhere, no delete path in the services); withdrawing one sets
``withdrawn_*`` and the bytes stay in storage. The stored name is derived from
the SHA-256 of the bytes, so the same bytes are stored once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hub.agencies.models import Agency
from hub.incidents.models import Incident, Message

# Image types (a PDF gets its view and thumbnail from its first page: derivatives.DERIVABLE_TYPES).
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


class Attachment(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=64)
    filename = models.CharField(max_length=255, help_text="Sanitised; for display only.")
    storage_name = models.CharField(max_length=255)
    client_msg_id = models.UUIDField()
    seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    withdrawn_reason = models.CharField(max_length=500, blank=True, default="")
    # Derivatives of an image (hub.attachments.derivatives), made off the request
    # path by hub.jobs.attachment_derivatives: re-encoded from pixels, no metadata.
    # Empty names while not made yet; PDFs never get any.
    view_name = models.CharField(max_length=255, blank=True, default="")
    thumbnail_name = models.CharField(max_length=255, blank=True, default="")
    derived_at = models.DateTimeField(null=True, blank=True)
    derive_attempts = models.PositiveSmallIntegerField(default=0)
    derive_error = models.CharField(max_length=500, blank=True, default="")
    # When a message or a task first referred to the file (attachments_mark_referenced).
    # A file never referenced within a day of its upload is discarded by the
    # background loop; a referenced one never is.
    referenced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["uploaded_by", "client_msg_id"], name="attachment_once_per_client_msg"
            )
        ]
        indexes = [models.Index(fields=["incident", "id"], name="attachment_incident_idx")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGE_TYPES


class MessageAttachment(models.Model):
    """A message refers to a file of its own incident (its message.posted event lists
    the ids too). Written once with the message, never changed."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachment_links")
    attachment = models.ForeignKey(
        Attachment, on_delete=models.PROTECT, related_name="message_links"
    )
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["message", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "attachment"], name="message_attachment_once"
            )
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} -> file {self.attachment_id}"
