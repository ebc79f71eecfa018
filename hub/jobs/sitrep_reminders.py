"""Job: situation reports overdue. An incident or operation whose cadence's ``due_at``
has passed without a report gets ``sitrep.overdue`` on its stream and an e-mail to the
lead agency's coordinators serving the point, once per due time
(``hub.sitreps.services.sitrep_remind``)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from hub.jobs.claims import ClaimHook, claim_each
from hub.sitreps.models import SitrepSubject
from hub.sitreps.selectors import live_subjects
from hub.sitreps.services import sitrep_remind

NAME = "sitreps_remind_due"


def due(now: datetime) -> QuerySet[SitrepSubject]:
    """Subjects whose report is overdue at ``now`` and not yet reminded, while their
    incident or operation is live; the claim re-checks each condition under the
    incident's or operation's lock."""
    return SitrepSubject.objects.filter(
        live_subjects(), every_minutes__isnull=False, reminded_at__isnull=True, due_at__lte=now
    )


def sitreps_remind_due(
    *, now: datetime | None = None, on_claimed: ClaimHook | None = None
) -> list[str]:
    """Remind the lead of every report overdue at ``now``, once per due time; returns the
    subjects' streams. One transaction per subject; a failure is logged with its id and
    retried on the next sweep."""
    at = now or timezone.now()
    ids = list(due(at).values_list("pk", flat=True).order_by("due_at", "pk"))

    def claim(subject_id: int) -> str | None:
        return sitrep_remind(subject_id=subject_id, now=at, on_claimed=on_claimed)

    return claim_each(ids, claim, what="reminder of situation report subject")
