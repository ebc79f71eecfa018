"""Incidents, who participates in them, and the messages on their channels.

Invariants:
- ``ref`` is ``<CROSSING>-<YEAR>-<NNNN>``, numbered per crossing point and year
  under a row lock on ``IncidentCounter``;
- the reporting and lead agencies are always participants;
- rows change only through ``hub.incidents.services``, which emits the event of
  every change on ``incident:<ref>`` in the same transaction;
- messages are never deleted: edits keep their history as events, redaction
  hides the text from readers and records who and why;
- ``Message.mentions`` is what the latest ``message.posted``/``message.edited``
  event of the message records (``hub.incidents.mentions``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hub.agencies.models import Agency, CrossingPoint


class Category(models.TextChoices):
    TRAFFICKING_IN_PERSONS = "trafficking_in_persons", "Suspected trafficking in persons"
    MIGRANT_SMUGGLING = "migrant_smuggling", "Migrant smuggling"
    DOCUMENT_FRAUD = "document_fraud", "Document fraud"
    CONTRABAND = "contraband", "Contraband"
    IRREGULAR_CROSSING = "irregular_crossing", "Irregular crossing"
    VESSEL_INTERDICTION = "vessel_interdiction", "Vessel interdiction"
    SECURITY_THREAT = "security_threat", "Security threat"
    HEALTH = "health", "Public health"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Status(models.TextChoices):
    REPORTED = "reported", "Reported"
    TRIAGED = "triaged", "Triaged"
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Visibility(models.TextChoices):
    PARTICIPANTS = "participants", "Participating agencies"
    CROSSING_POINT = "crossing_point", "All agencies at the crossing point"


class IncidentCounter(models.Model):
    crossing_point = models.ForeignKey(CrossingPoint, on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crossing_point", "year"], name="incident_counter_unique_point_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.crossing_point_id}/{self.year}: {self.last_number}"


class Incident(models.Model):
    ref = models.CharField(max_length=32, unique=True)
    crossing_point = models.ForeignKey(
        CrossingPoint, on_delete=models.PROTECT, related_name="incidents"
    )
    year = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=32, choices=Category.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REPORTED)
    people_count = models.PositiveIntegerField(default=0)
    occurred_at = models.DateTimeField()
    location_detail = models.CharField(max_length=300, blank=True)
    visibility = models.CharField(
        max_length=20, choices=Visibility.choices, default=Visibility.PARTICIPANTS
    )
    reporting_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    lead_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    participating_agencies: models.ManyToManyField[Agency, Participation] = models.ManyToManyField(
        Agency, through="Participation", related_name="incidents"
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["crossing_point", "year", "number"], name="incident_unique_number"
            )
        ]
        indexes = [
            models.Index(fields=["crossing_point", "status"], name="incident_point_status"),
            models.Index(fields=["-created_at", "-id"], name="incident_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.ref} — {self.title}"

    @property
    def stream_name(self) -> str:
        return f"incident:{self.ref}"


class Participation(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="participations")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="participations")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "agency"], name="participation_unique_incident_agency"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} in {self.incident_id}"


class Message(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    mentions = models.JSONField(
        default=list,
        blank=True,
        help_text="The current text's @mentions, as its latest message.posted/edited event "
        "records them (hub.events.types.Mention).",
    )
    client_msg_id = models.UUIDField()
    seq = models.BigIntegerField(help_text="seq of the message.posted event on the incident stream")
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_count = models.PositiveIntegerField(default=0)
    redacted_at = models.DateTimeField(null=True, blank=True)
    redacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    redaction_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["incident_id", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_msg_id"], name="message_unique_author_client_msg_id"
            )
        ]
        indexes = [models.Index(fields=["incident", "seq"], name="message_incident_seq")]

    def __str__(self) -> str:
        return f"{self.incident_id}#{self.seq}"

    @property
    def is_redacted(self) -> bool:
        return self.redacted_at is not None
