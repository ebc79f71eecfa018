"""Alerts per crossing point, the agencies they target, and their acknowledgements.

Invariants:
- every change goes through ``hub.alerts.services`` and appends an event to
  ``crossing:<CODE>`` (and to the linked incident's stream) in the same
  transaction; an update bumps ``version`` and the record keeps every version;
- an ``AlertTarget`` is acknowledged at most once, for its agency, and escalated
  at most once (``escalated_at`` is set by a conditional UPDATE);
- alerts are never deleted: they are cancelled, or they expire;
- every agency deployed at the crossing point reads all of its alerts (the
  point's shared board); ``AlertTarget`` rows are the agencies that must
  acknowledge, not the only readers (see ``hub.alerts.permissions``);
- an ``AlertTarget`` that still owes an acknowledgement is due at the alert's
  issue time plus the window of its *current* severity (an update that changes
  the severity moves it).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hub.agencies.models import Agency, CrossingPoint


class AlertCategory(models.TextChoices):
    WANTED_PERSON = "wanted_person", "Wanted or missing person"
    TRAFFICKING_RISK = "trafficking_risk", "Trafficking risk"
    SMUGGLING = "smuggling", "Smuggling route or method"
    DOCUMENT_FRAUD = "document_fraud", "Document fraud pattern"
    VESSEL_OF_INTEREST = "vessel_of_interest", "Vessel of interest"
    SECURITY_THREAT = "security_threat", "Security threat"
    HEALTH = "health", "Public health"
    WEATHER = "weather", "Weather or natural hazard"
    SYSTEMS = "systems", "Systems outage"
    OTHER = "other", "Other"


class AlertSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Urgency(models.TextChoices):
    IMMEDIATE = "Immediate", "Immediate"
    EXPECTED = "Expected", "Expected"
    FUTURE = "Future", "Future"
    PAST = "Past", "Past"
    UNKNOWN = "Unknown", "Unknown"


class Certainty(models.TextChoices):
    OBSERVED = "Observed", "Observed"
    LIKELY = "Likely", "Likely"
    POSSIBLE = "Possible", "Possible"
    UNLIKELY = "Unlikely", "Unlikely"
    UNKNOWN = "Unknown", "Unknown"


class AlertStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class Alert(models.Model):
    crossing_point = models.ForeignKey(
        CrossingPoint, on_delete=models.PROTECT, related_name="alerts"
    )
    category = models.CharField(max_length=32, choices=AlertCategory.choices)
    severity = models.CharField(max_length=16, choices=AlertSeverity.choices)
    urgency = models.CharField(max_length=16, choices=Urgency.choices)
    certainty = models.CharField(max_length=16, choices=Certainty.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    is_exercise = models.BooleanField(default=False)
    ack_required = models.BooleanField(default=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    issuing_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=AlertStatus.choices, default=AlertStatus.ACTIVE
    )
    version = models.PositiveIntegerField(default=1)
    cancel_reason = models.CharField(max_length=500, blank=True)
    source_identifier = models.CharField(
        max_length=300,
        blank=True,
        help_text="'sender,identifier' of the CAP document an imported alert came from.",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    targets: models.ManyToManyField[Agency, AlertTarget] = models.ManyToManyField(
        Agency, through="AlertTarget", related_name="alerts"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["crossing_point", "status"], name="alert_point_status")]
        constraints = [
            # A CAP document is imported once per crossing point, whoever imports it.
            models.UniqueConstraint(
                fields=["crossing_point", "source_identifier"],
                condition=~models.Q(source_identifier=""),
                name="alert_unique_cap_source",
            )
        ]

    def __str__(self) -> str:
        prefix = "[EXERCISE] " if self.is_exercise else ""
        return f"{prefix}{self.crossing_point_id}#{self.pk} {self.title}"

    @property
    def stream_name(self) -> str:
        return f"crossing:{self.crossing_point.code}"


class AlertTarget(models.Model):
    """One targeted agency: must it acknowledge, did it, when is it overdue."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="target_rows")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="alert_targets")
    due_at = models.DateTimeField(null=True, blank=True, help_text="Acknowledge by then.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ack_seq = models.BigIntegerField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["alert_id", "agency__code"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "agency"], name="alert_target_unique")
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="alert_target_due",
                condition=models.Q(acknowledged_at__isnull=True, escalated_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} → {self.agency_id}"
