"""Situation reports on an incident or a joint operation, and their cadence.

A ``SitrepSubject`` is the incident or operation reports are about (exactly one
of the two): its report count, its cadence and when the next report is due. It
is created with the first report or cadence, and is the row every report and
every reminder claim locks (after the incident's or operation's own row, the
order the services use), so report numbers are gap-free per subject.

Invariants:
- rows change only through ``hub.sitreps.services``, which appends the event of
  every change (``sitrep.posted``, ``sitrep.cadence_set``, ``sitrep.overdue``) to
  the subject's own stream (``incident:<REF>`` or ``operation:<REF>``) in the same
  transaction;
- ``every_minutes`` is null (no cadence) or 5..1440, and ``due_at`` is null exactly
  when ``every_minutes`` is: ``due_at`` = the last report + N while that is still
  ahead of the moment the cadence is set, otherwise that moment + N; after each
  report it is that report + N;
- ``reminded_at`` is set when the reminder for the current ``due_at`` is claimed
  (once per due time) and cleared whenever ``due_at`` changes;
- reports are never changed or deleted; ``number`` counts 1, 2, 3... per subject.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from hub.agencies.models import Agency, CrossingPoint

MIN_EVERY_MINUTES = 5
MAX_EVERY_MINUTES = 24 * 60


class SitrepSubject(models.Model):
    incident = models.OneToOneField(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sitrep_subject",
    )
    operation = models.OneToOneField(
        "operations.Operation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sitrep_subject",
    )
    crossing_point = models.ForeignKey(CrossingPoint, on_delete=models.PROTECT, related_name="+")
    stream_name = models.CharField(max_length=120, unique=True)
    reports = models.PositiveIntegerField(default=0, help_text="The last report's number.")
    last_report_at = models.DateTimeField(null=True, blank=True)
    every_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    cadence_set_at = models.DateTimeField(null=True, blank=True)
    cadence_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reminder for the current due_at was sent."
    )

    class Meta:
        ordering = ["crossing_point_id", "due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(incident__isnull=False) & Q(operation__isnull=True))
                | (Q(incident__isnull=True) & Q(operation__isnull=False)),
                name="sitrep_subject_one_of_incident_operation",
            ),
            models.CheckConstraint(
                condition=Q(every_minutes__isnull=True, due_at__isnull=True)
                | Q(
                    every_minutes__gte=MIN_EVERY_MINUTES,
                    every_minutes__lte=MAX_EVERY_MINUTES,
                    due_at__isnull=False,
                ),
                name="sitrep_subject_cadence_and_due",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="sitrep_due_unreminded",
                condition=Q(due_at__isnull=False, reminded_at__isnull=True),
            ),
            models.Index(fields=["crossing_point", "due_at"], name="sitrep_point_due"),
        ]

    def __str__(self) -> str:
        return f"{self.stream_name}: {self.reports} reports"

    @property
    def kind(self) -> str:
        return "incident" if self.incident_id is not None else "operation"

    @property
    def ref(self) -> str:
        return self.stream_name.split(":", 1)[1]


class SituationReport(models.Model):
    subject = models.ForeignKey(
        SitrepSubject, on_delete=models.PROTECT, related_name="situation_reports"
    )
    number = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    situation = models.TextField()
    actions_taken = models.TextField(blank=True)
    next_steps = models.TextField(blank=True)
    needs = models.JSONField(
        default=list,
        blank=True,
        help_text='Needs from other agencies: [{"agency": code or null, "need": text}].',
    )
    client_msg_id = models.UUIDField()
    seq = models.BigIntegerField(help_text="seq of its sitrep.posted event on the subject's stream")
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["subject_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "number"], name="sitrep_unique_number"),
            models.UniqueConstraint(
                fields=["author", "client_msg_id"], name="sitrep_unique_author_client_msg_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} #{self.number}"
