"""Writes on situation reports: post one, set the cadence, remind when one is overdue.

Every write:

1. loads the caller's access and locks the incident's or operation's row (NotFound
   if the caller may not read it), then the subject row (``SitrepSubject``, created
   with the first report or cadence): the order every writer here takes them;
2. checks permission (``hub.sitreps.permissions``: 403 for a reader who is not a
   coordinator of the lead agency) and state (409 on a closed incident or operation);
3. changes the rows and ``emit``s the event on the subject's own stream in one
   transaction, which publishes after commit; an incident's readers watching its
   crossing point also get an incident notice, so boards refresh its due state;
4. is idempotent on ``client_msg_id`` (``hub.events.idempotency``).

``sitrep_remind`` is the claim of the background job ``hub.jobs.sitrep_reminders``:
one overdue subject, reminded at most once per due time. Functions take ``now`` so
tests can drive a clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.models import Agency
from hub.agencies.selectors import access_for
from hub.alerts.notify import notify_officers
from hub.alerts.services import officers_to_notify
from hub.errors import Conflict, InvalidInput, NotFound
from hub.events.idempotency import Written, new_client_msg_id, run_idempotent
from hub.events.models import WriteReceipt
from hub.events.notices import incident_notice, mention_notice
from hub.events.pipeline import emit
from hub.events.types import SitrepCadenceSet, SitrepNeed, SitrepOverdue, SitrepPosted
from hub.incidents.models import Incident
from hub.incidents.models import Status as IncidentStatus
from hub.operations.models import Operation, OperationStatus
from hub.security import acting_agency, refuse
from hub.sitreps import permissions as perms
from hub.sitreps.models import (
    MAX_EVERY_MINUTES,
    MIN_EVERY_MINUTES,
    SitrepSubject,
    SituationReport,
)
from hub.sitreps.selectors import (
    SUBJECT_KINDS,
    lead_coordinators,
    parent_is_live,
    subject_facts,
)
from hub.text import clean_text

MAX_SITUATION = 5_000
MAX_SECTION = 5_000  # actions taken, next steps
MAX_NEEDS = 20
MAX_NEED = 500


@dataclass(frozen=True)
class SitrepResult:
    report: SituationReport
    stream: str
    seq: int
    duplicate: bool = False


@dataclass(frozen=True)
class CadenceResult:
    subject: SitrepSubject
    stream: str
    seq: int
    duplicate: bool = False


# --- validation ------------------------------------------------------------------------


def _needs(value: Any) -> list[SitrepNeed]:
    """Each need names an active agency by code (or none: any agency) and what is needed."""
    if not isinstance(value, list | tuple):
        raise InvalidInput("needs must be a list of {agency, need}.")
    if len(value) > MAX_NEEDS:
        raise InvalidInput(f"needs has more than {MAX_NEEDS} entries.")
    needs: list[SitrepNeed] = []
    codes: set[str] = set()
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) - {"agency", "need"}:
            raise InvalidInput(f"needs[{i}] must be {{agency, need}}.")
        agency = entry.get("agency")
        if agency is not None and (not isinstance(agency, str) or not 0 < len(agency) <= 20):
            raise InvalidInput(f"needs[{i}].agency must be an agency's code or null.")
        text = clean_text(entry.get("need"), field=f"needs[{i}].need", max_length=MAX_NEED)
        if agency is not None:
            codes.add(agency)
        needs.append(SitrepNeed(agency=agency, need=text))
    known = set(
        Agency.objects.filter(code__in=codes, is_active=True).values_list("code", flat=True)
    )
    for i, need in enumerate(needs):
        if need.agency is not None and need.agency not in known:
            raise InvalidInput(f"needs[{i}].agency: no active agency {need.agency}.")
    return needs


def _every(value: Any) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_EVERY_MINUTES <= value <= MAX_EVERY_MINUTES
    ):
        raise InvalidInput(
            f"every_minutes must be a whole number from {MIN_EVERY_MINUTES} to "
            f"{MAX_EVERY_MINUTES}, or null for no cadence."
        )
    return value


def _kind(kind: Any) -> str:
    if kind not in SUBJECT_KINDS:
        raise NotFound("Not found.")
    return str(kind)


# --- loading -----------------------------------------------------------------------------


def _locked_subject(
    access: Access, kind: str, ref: str, *, action: str
) -> tuple[Incident | Operation, perms.SubjectFacts, SitrepSubject]:
    """The incident or operation row, locked, if the caller may read it (NotFound
    otherwise), its facts, and its subject row, locked (created if it has none)."""
    parent: Incident | Operation | None
    if not isinstance(ref, str) or len(ref) > (32 if kind == "incident" else 40):
        raise NotFound("Not found.")
    if kind == "incident":
        parent = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("crossing_point", "lead_agency")
            .filter(ref=ref)
            .first()
        )
    else:
        parent = (
            Operation.objects.select_for_update(of=("self",))
            .select_related("crossing_point", "lead_agency", "incident")
            .filter(ref=ref)
            .first()
        )
    if parent is None:
        raise NotFound("Not found.")
    facts = subject_facts(parent)
    if not perms.can_read_sitreps(access, facts):
        refuse(access, action=action, target=ref, reason=f"cannot see this {kind}", hide=True)
    subject, _ = SitrepSubject.objects.get_or_create(
        stream_name=parent.stream_name,
        defaults={
            "incident": parent if isinstance(parent, Incident) else None,
            "operation": parent if isinstance(parent, Operation) else None,
            "crossing_point_id": parent.crossing_point_id,
        },
    )
    # The parent's lock serialises every writer of this subject; the row lock keeps
    # the reminder claim's conditional UPDATE behind a write in flight.
    subject = SitrepSubject.objects.select_for_update().get(pk=subject.pk)
    return parent, facts, subject


def _open(parent: Incident | Operation) -> None:
    """Reports and cadences are refused on a closed incident or operation."""
    if isinstance(parent, Incident) and parent.status == IncidentStatus.CLOSED:
        raise Conflict(f"{parent.ref} is closed; reopen it first.", code="incident_closed")
    if isinstance(parent, Operation) and parent.status != OperationStatus.ACTIVE:
        raise Conflict(f"{parent.ref} is closed.", code="operation_closed")


def _notice(parent: Incident | Operation, seq: int) -> None:
    """After commit, tell the incident's readers watching its point that it changed."""
    if isinstance(parent, Incident):
        incident_notice(crossing_point=parent.crossing_point.code, ref=parent.ref, seq=seq)


def _needs_notices(
    parent: Incident | Operation,
    seq: int,
    asked: list[SitrepNeed],
    *,
    actor: User,
    agency: Agency,
) -> None:
    """After commit, tell the duty officers and coordinators of each agency a report
    asks for something (at the point, able to read the stream) what it needs of them."""
    wanted: dict[str, list[str]] = {}
    for need in asked:
        if need.agency is not None:
            wanted.setdefault(need.agency, []).append(need.need)
    if not wanted:
        return
    for asked_agency in Agency.objects.filter(code__in=sorted(wanted)).order_by("code"):
        recipients = [
            u.pk
            for u in officers_to_notify(asked_agency.pk, parent.crossing_point_id)
            if u.pk != actor.pk
        ]
        mention_notice(
            recipients=recipients,
            crossing_point=parent.crossing_point.code,
            ref=parent.ref,
            seq=seq,
            by_user=actor.username,
            by_name=actor.display_name,
            by_agency=agency.code,
            excerpt="; ".join(wanted[asked_agency.code])[:140],
            stream=parent.stream_name,
        )


def _replay_report(receipt: WriteReceipt) -> SitrepResult:
    report = SituationReport.objects.select_related("author", "agency", "subject").get(
        pk=int(receipt.object_id)
    )
    return SitrepResult(report=report, stream=receipt.stream, seq=receipt.seq or 0, duplicate=True)


def _replay_cadence(receipt: WriteReceipt) -> CadenceResult:
    subject = SitrepSubject.objects.get(pk=int(receipt.object_id))
    return CadenceResult(
        subject=subject, stream=receipt.stream, seq=receipt.seq or 0, duplicate=True
    )


# --- posting a report --------------------------------------------------------------------


def sitrep_post(
    *,
    actor: User,
    kind: str,
    ref: str,
    situation: str,
    actions_taken: str = "",
    next_steps: str = "",
    needs: list[dict[str, Any]] | None = None,
    client_msg_id: uuid.UUID,
    now: datetime | None = None,
) -> SitrepResult:
    """Post the lead's situation report on an incident or operation (``kind``).

    The report gets the subject's next number; under a cadence the next one is due
    ``every_minutes`` after it. A repeat of ``client_msg_id`` returns the original
    report; the same id with another report is ``client_msg_id_reused`` (409).
    """
    access = access_for(actor)
    kind = _kind(kind)
    text = {
        "situation": clean_text(situation, field="situation", max_length=MAX_SITUATION),
        "actions_taken": clean_text(
            actions_taken, field="actions_taken", max_length=MAX_SECTION, required=False
        ),
        "next_steps": clean_text(
            next_steps, field="next_steps", max_length=MAX_SECTION, required=False
        ),
    }
    asked = _needs(needs if needs is not None else [])

    def write() -> tuple[SitrepResult, Written]:
        at = now or timezone.now()
        parent, facts, subject = _locked_subject(access, kind, ref, action="sitrep.post")
        agency = acting_agency(
            access, perms.can_post_sitrep(access, facts), action="sitrep.post", target=ref
        )
        _open(parent)
        number = subject.reports + 1
        report = SituationReport.objects.create(
            subject=subject,
            number=number,
            author=actor,
            agency=agency,
            needs=[n.model_dump(mode="json") for n in asked],
            client_msg_id=client_msg_id,
            seq=0,
            posted_at=at,
            **text,
        )
        subject.reports = number
        subject.last_report_at = at
        if subject.every_minutes is not None:
            subject.due_at = at + timedelta(minutes=subject.every_minutes)
            subject.reminded_at = None
        subject.save(update_fields=["reports", "last_report_at", "due_at", "reminded_at"])
        event = emit(
            stream=parent.stream_name,
            payload=SitrepPosted(
                ref=parent.ref,
                number=number,
                needs=asked,
                every_minutes=subject.every_minutes,
                due_at=subject.due_at,
                **text,
            ),
            actor=actor,
            agency=agency,
            at=at,
        )
        report.seq = event.seq
        report.save(update_fields=["seq"])
        _notice(parent, event.seq)
        _needs_notices(parent, event.seq, asked, actor=actor, agency=agency)
        return (
            SitrepResult(report=report, stream=parent.stream_name, seq=event.seq),
            Written(parent.stream_name, event.seq, str(report.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id,
        action="sitrep.post",
        request={
            "kind": kind,
            "ref": ref,
            **text,
            "needs": [n.model_dump(mode="json") for n in asked],
        },
        write=write,
        replay=_replay_report,
    )


# --- the cadence ---------------------------------------------------------------------------


def next_due(*, every_minutes: int, set_at: datetime, last_report_at: datetime | None) -> datetime:
    """When the next report is due under a cadence set at ``set_at``: ``every_minutes``
    after the last report while that is still ahead, else after ``set_at`` (a cadence
    is never born overdue)."""
    step = timedelta(minutes=every_minutes)
    if last_report_at is not None and last_report_at + step > set_at:
        return last_report_at + step
    return set_at + step


def sitrep_cadence_set(
    *,
    actor: User,
    kind: str,
    ref: str,
    every_minutes: int | None,
    client_msg_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> CadenceResult:
    """Ask for a report every ``every_minutes`` (5 to 1440), or clear the cadence (None).

    Clearing a cadence that is not set is refused (409 ``no_cadence``).
    """
    access = access_for(actor)
    kind = _kind(kind)
    every = _every(every_minutes)

    def write() -> tuple[CadenceResult, Written]:
        at = now or timezone.now()
        parent, facts, subject = _locked_subject(access, kind, ref, action="sitrep.cadence")
        agency = acting_agency(
            access,
            perms.can_set_sitrep_cadence(access, facts),
            action="sitrep.cadence",
            target=ref,
        )
        _open(parent)
        if every is None and subject.every_minutes is None:
            raise Conflict(f"{ref} has no situation report cadence to clear.", code="no_cadence")
        subject.every_minutes = every
        subject.cadence_set_at = at
        subject.cadence_set_by = actor
        subject.due_at = (
            None
            if every is None
            else next_due(every_minutes=every, set_at=at, last_report_at=subject.last_report_at)
        )
        subject.reminded_at = None
        subject.save(
            update_fields=[
                "every_minutes",
                "cadence_set_at",
                "cadence_set_by",
                "due_at",
                "reminded_at",
            ]
        )
        event = emit(
            stream=parent.stream_name,
            payload=SitrepCadenceSet(ref=parent.ref, every_minutes=every, due_at=subject.due_at),
            actor=actor,
            agency=agency,
            at=at,
        )
        _notice(parent, event.seq)
        return (
            CadenceResult(subject=subject, stream=parent.stream_name, seq=event.seq),
            Written(parent.stream_name, event.seq, str(subject.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id or new_client_msg_id(),
        action="sitrep.cadence",
        request={"kind": kind, "ref": ref, "every_minutes": every},
        write=write,
        replay=_replay_cadence,
    )


# --- the reminder (claimed by hub.jobs.sitrep_reminders) ------------------------------------


def sitrep_remind(
    *, subject_id: int, now: datetime, on_claimed: Callable[[str], None] | None = None
) -> str | None:
    """Claim one overdue subject and remind its lead coordinators, in one transaction,
    at most once per due time; returns its stream, or None when there was nothing (any
    more) to remind, or its incident or operation is busy (then the next sweep tries).

    Locks in the services' order: the incident's or operation's row first, taken with
    ``SKIP LOCKED`` on PostgreSQL (a writer or another loop holding it is passed over,
    not waited for), then the conditional UPDATE of the subject row, which is the claim
    on every database (SQLite, with no row locks, serialises writers instead). Under the
    parent's lock its last committed state is what is checked: a report or a cadence
    change that committed meanwhile moved ``due_at``, and an incident resolved or an
    operation closed meanwhile is not reminded.
    ``on_claimed`` (instrumentation and tests) is called inside the claim's transaction,
    after its event is written, with ``"sitrep:<id>"``; raising rolls the claim back.
    """
    row = (
        SitrepSubject.objects.filter(pk=subject_id)
        .values_list("incident_id", "operation_id")
        .first()
    )
    if row is None:
        return None
    incident_id, operation_id = row
    with transaction.atomic():
        parent: Incident | Operation | None
        if incident_id is not None:
            parent = (
                Incident.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("crossing_point", "lead_agency")
                .filter(pk=incident_id)
                .first()
            )
        else:
            parent = (
                Operation.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("crossing_point", "lead_agency")
                .filter(pk=operation_id)
                .first()
            )
        if parent is None or not parent_is_live(parent):
            return None
        claimed = SitrepSubject.objects.filter(
            pk=subject_id,
            every_minutes__isnull=False,
            reminded_at__isnull=True,
            due_at__lte=now,
        ).update(reminded_at=now)
        if not claimed:
            return None
        subject = SitrepSubject.objects.get(pk=subject_id)
        assert subject.due_at is not None
        lead = parent.lead_agency
        coordinators = lead_coordinators(lead.pk, parent.crossing_point_id)
        event = emit(
            stream=parent.stream_name,
            payload=SitrepOverdue(
                ref=parent.ref,
                due_at=subject.due_at,
                agency=lead.code,
                notified=[u.username for u in coordinators],
            ),
            actor=None,
            agency=None,
            at=now,
        )
        _notice(parent, event.seq)
        what = "incident" if isinstance(parent, Incident) else "operation"
        transaction.on_commit(
            partial(
                notify_officers,
                coordinators,
                subject=f"Situation report due on {parent.ref}: {parent.title}",
                body=(
                    f"The situation report on {what} {parent.ref} ({parent.title}) at "
                    f"{parent.crossing_point.name} was due at {subject.due_at:%Y-%m-%d %H:%M} "
                    f"UTC (one every {subject.every_minutes} minutes, {lead.code} leads). "
                    "Post it in the Border Coordination Hub."
                ),
            ),
            robust=True,
        )
        if on_claimed is not None:
            on_claimed(f"sitrep:{subject_id}")
        return parent.stream_name
