"""Writes on incidents and their channels. Every function here:

1. loads the caller's access and the incident (NotFound if not theirs);
2. checks permission (``hub.incidents.permissions``) and state (409 on conflict);
3. changes rows and ``emit``s the event on ``incident:<ref>`` in one transaction,
   which publishes after commit;
4. is idempotent on ``client_msg_id`` (``hub.events.idempotency``), whose
   ``run_idempotent`` opens the transaction;
5. publishes notices after commit (``hub.events.notices``): an incident notice
   to the crossing point's board when an incident is reported, invites an
   agency, changes visibility or lead, or moves status; a mention notice to
   whom a message's ``@`` mentions name (``hub.incidents.mentions``).

Lock order: incident row, then stream row (inside ``emit``). Arguments are
keyword-only; callers are the REST API, the WebSocket consumer and commands.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.models import Agency, CrossingPoint, Deployment
from hub.agencies.selectors import access_for
from hub.attachments.selectors import attachments_link, attachments_to_refer
from hub.errors import Conflict, InvalidInput, NotFound
from hub.events.control import stream_access_changed
from hub.events.idempotency import Written, new_client_msg_id, run_idempotent
from hub.events.models import WriteReceipt
from hub.events.notices import incident_notice, mention_notice
from hub.events.pipeline import emit, stream_lock
from hub.events.selectors import stream_head
from hub.events.types import (
    FieldChange,
    IncidentAgencyInvited,
    IncidentLeadChanged,
    IncidentReported,
    IncidentTransitioned,
    IncidentUpdated,
    Mention,
    MessageEdited,
    MessagePosted,
    MessageRedacted,
)
from hub.incidents import permissions as perms
from hub.incidents.mentions import excerpt, mention_recipients, resolve_mentions
from hub.incidents.models import (
    Category,
    Incident,
    IncidentCounter,
    Message,
    Participation,
    Severity,
    Status,
    Visibility,
)
from hub.incidents.permissions import Decision, IncidentFacts
from hub.incidents.selectors import incident_facts
from hub.queries import one_or_none
from hub.security import acting_agency, refuse
from hub.text import clean_text

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_BODY = 10_000
MAX_REASON = 500
MAX_LOCATION = 300
MAX_PEOPLE = 100_000
FUTURE_TOLERANCE = timedelta(hours=1)
EDITABLE_FIELDS = (
    "title",
    "description",
    "category",
    "severity",
    "people_count",
    "occurred_at",
    "location_detail",
    "visibility",
)


@dataclass(frozen=True)
class IncidentResult:
    incident: Incident
    seq: int
    duplicate: bool = False


@dataclass(frozen=True)
class MessageResult:
    message: Message
    stream: str
    seq: int
    duplicate: bool = False


# --- validation ---------------------------------------------------------------------


def _text(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    return clean_text(value, field=field, max_length=max_length, required=required)


def _choice(value: Any, *, field: str, choices: type[Any]) -> str:
    allowed = [c.value for c in choices]
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of: {', '.join(allowed)}.")
    return str(value)


def _people(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PEOPLE:
        raise InvalidInput(f"people_count must be a whole number from 0 to {MAX_PEOPLE}.")
    return value


def _occurred(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput("occurred_at must be a date and time.")
    if timezone.is_naive(value):
        raise InvalidInput("occurred_at must include a time zone offset.")
    if value > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidInput("occurred_at is in the future.")
    if value.year < 2000:
        raise InvalidInput("occurred_at is implausibly old.")
    return value


def _json_value(value: Any) -> str | int | None:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int):
        return value
    return str(value)


# --- loading ------------------------------------------------------------------------


def _locked_incident(access: Access, ref: str, *, action: str) -> tuple[Incident, IncidentFacts]:
    """The incident row, locked, if the caller may read it; NotFound otherwise."""
    if not isinstance(ref, str) or len(ref) > 32:
        raise NotFound("Not found.")
    incident = one_or_none(
        Incident.objects.select_for_update(of=("self",))
        .select_related("crossing_point", "lead_agency", "reporting_agency")
        .filter(ref=ref)
    )
    if incident is None:
        raise NotFound("Not found.")
    facts = incident_facts(incident)
    if not perms.can_read_incident(access, facts):
        refuse(access, action=action, target=ref, reason="cannot see this incident", hide=True)
    return incident, facts


def _require(access: Access, decision: Decision, *, action: str, target: str) -> Agency:
    return acting_agency(access, decision, action=action, target=target)


def _not_closed(incident: Incident) -> None:
    if incident.status == Status.CLOSED:
        raise Conflict(f"{incident.ref} is closed; reopen it first.", code="incident_closed")


def _replay_incident(receipt: WriteReceipt) -> IncidentResult:
    incident = Incident.objects.get(pk=int(receipt.object_id))
    return IncidentResult(incident=incident, seq=receipt.seq or 0, duplicate=True)


def _replay_message(receipt: WriteReceipt) -> MessageResult:
    message = Message.objects.select_related("author", "agency").get(pk=int(receipt.object_id))
    return MessageResult(
        message=message, stream=receipt.stream, seq=receipt.seq or 0, duplicate=True
    )


def _cmid(client_msg_id: uuid.UUID | None) -> uuid.UUID:
    return client_msg_id or new_client_msg_id()


def _snapshot(incident: Incident) -> IncidentReported:
    participants = sorted(
        Participation.objects.filter(incident=incident).values_list("agency__code", flat=True)
    )
    return IncidentReported(
        ref=incident.ref,
        crossing_point=incident.crossing_point.code,
        title=incident.title,
        description=incident.description,
        category=incident.category,
        severity=incident.severity,
        status=incident.status,
        people_count=incident.people_count,
        occurred_at=incident.occurred_at,
        location_detail=incident.location_detail,
        reporting_agency=incident.reporting_agency.code,
        lead_agency=incident.lead_agency.code,
        participating_agencies=participants,
        visibility=incident.visibility,
    )


def _notice(incident: Incident, seq: int) -> None:
    """After commit, tell the incident's readers watching its crossing point (a board)."""
    incident_notice(crossing_point=incident.crossing_point.code, ref=incident.ref, seq=seq)


def _notify_mentioned(
    incident: Incident,
    facts: IncidentFacts,
    mentions: list[Mention],
    *,
    actor: User,
    agency: Agency,
    seq: int,
    body: str,
) -> None:
    """After commit, a mention notice to whom ``mentions`` name (never the author)."""
    if not mentions:
        return
    recipients = mention_recipients(mentions, facts=facts, author_id=actor.pk)
    mention_notice(
        recipients=recipients,
        crossing_point=incident.crossing_point.code,
        ref=incident.ref,
        seq=seq,
        by_user=actor.username,
        by_name=actor.display_name,
        by_agency=agency.code,
        excerpt=excerpt(body),
    )


# --- incidents ---------------------------------------------------------------------


def incident_report(
    *,
    actor: User,
    crossing_point: str,
    title: str,
    category: str,
    severity: str,
    occurred_at: datetime,
    description: str = "",
    people_count: int = 0,
    location_detail: str = "",
    visibility: str = Visibility.PARTICIPANTS,
    agency: str | None = None,
    client_msg_id: uuid.UUID | None = None,
) -> IncidentResult:
    """Report an incident at a crossing point, for the actor's agency (which leads it)."""
    access = access_for(actor)
    request = {
        "crossing_point": crossing_point,
        "title": title,
        "category": category,
        "severity": severity,
        "occurred_at": occurred_at,
        "description": description,
        "people_count": people_count,
        "location_detail": location_detail,
        "visibility": visibility,
        "agency": agency,
    }
    clean = {
        "title": _text(title, field="title", max_length=MAX_TITLE),
        "description": _text(
            description, field="description", max_length=MAX_DESCRIPTION, required=False
        ),
        "category": _choice(category, field="category", choices=Category),
        "severity": _choice(severity, field="severity", choices=Severity),
        "people_count": _people(people_count),
        "occurred_at": _occurred(occurred_at),
        "location_detail": _text(
            location_detail, field="location_detail", max_length=MAX_LOCATION, required=False
        ),
        "visibility": _choice(visibility, field="visibility", choices=Visibility),
    }

    def write() -> tuple[IncidentResult, Written]:
        point = CrossingPoint.objects.filter(code=crossing_point, is_active=True).first()
        if point is None:
            refuse(
                access,
                action="incident.report",
                target=str(crossing_point)[:20],
                reason="unknown crossing point",
                hide=True,
            )
        decision = perms.can_report_incident(access, crossing_point_id=point.pk, agency_code=agency)
        if not decision.allowed and not access.grants_at(point.pk):
            refuse(
                access,
                action="incident.report",
                target=point.code,
                reason="does not serve this crossing point",
                hide=True,
            )
        acting = _require(access, decision, action="incident.report", target=point.code)
        year = timezone.now().astimezone(ZoneInfo(point.timezone)).year
        counter, _ = IncidentCounter.objects.select_for_update().get_or_create(
            crossing_point=point, year=year
        )
        counter.last_number += 1
        counter.save(update_fields=["last_number"])
        incident = Incident.objects.create(
            ref=f"{point.code}-{year}-{counter.last_number:04d}",
            crossing_point=point,
            year=year,
            number=counter.last_number,
            reporting_agency=acting,
            lead_agency=acting,
            reported_by=actor,
            **clean,
        )
        Participation.objects.create(incident=incident, agency=acting, invited_by=actor)
        event = emit(
            stream=incident.stream_name, payload=_snapshot(incident), actor=actor, agency=acting
        )
        _notice(incident, event.seq)
        return (
            IncidentResult(incident=incident, seq=event.seq),
            Written(incident.stream_name, event.seq, str(incident.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=_cmid(client_msg_id),
        action="incident.report",
        request=request,
        write=write,
        replay=_replay_incident,
    )


def incident_update(
    *,
    actor: User,
    ref: str,
    changes: dict[str, Any],
    client_msg_id: uuid.UUID | None = None,
) -> IncidentResult:
    """Change editable fields; the event records each field's old and new value."""
    access = access_for(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    validators = {
        "title": lambda v: _text(v, field="title", max_length=MAX_TITLE),
        "description": lambda v: _text(
            v, field="description", max_length=MAX_DESCRIPTION, required=False
        ),
        "category": lambda v: _choice(v, field="category", choices=Category),
        "severity": lambda v: _choice(v, field="severity", choices=Severity),
        "people_count": _people,
        "occurred_at": _occurred,
        "location_detail": lambda v: _text(
            v, field="location_detail", max_length=MAX_LOCATION, required=False
        ),
        "visibility": lambda v: _choice(v, field="visibility", choices=Visibility),
    }
    clean = {name: validators[name](value) for name, value in changes.items()}

    def write() -> tuple[IncidentResult, Written]:
        incident, facts = _locked_incident(access, ref, action="incident.update")
        acting = _require(
            access, perms.can_update_incident(access, facts), action="incident.update", target=ref
        )
        _not_closed(incident)
        diff: dict[str, FieldChange] = {}
        for name, value in clean.items():
            old = getattr(incident, name)
            if old != value:
                diff[name] = FieldChange(old=_json_value(old), new=_json_value(value))
                setattr(incident, name, value)
        if not diff:
            head = stream_head(incident.stream_name)
            return IncidentResult(incident, head), Written(
                incident.stream_name, head, str(incident.pk)
            )
        incident.save(update_fields=[*diff, "updated_at"])
        if "visibility" in diff:
            # Narrowing visibility must end live feeds that are no longer allowed.
            stream_access_changed(stream=incident.stream_name, reason="visibility_changed")
        event = emit(
            stream=incident.stream_name,
            payload=IncidentUpdated(changes=diff),
            actor=actor,
            agency=acting,
        )
        if "visibility" in diff:
            _notice(incident, event.seq)
        return IncidentResult(incident, event.seq), Written(
            incident.stream_name, event.seq, str(incident.pk)
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=_cmid(client_msg_id),
        action="incident.update",
        request={"ref": ref, "changes": changes},
        write=write,
        replay=_replay_incident,
    )


def incident_transition(
    *,
    actor: User,
    ref: str,
    to_status: str,
    reason: str = "",
    client_msg_id: uuid.UUID | None = None,
) -> IncidentResult:
    """Move along the status machine; an illegal move is a 409 and writes nothing."""
    access = access_for(actor)
    target = _choice(to_status, field="to", choices=Status)
    why = _text(reason, field="reason", max_length=MAX_REASON, required=False)

    def write() -> tuple[IncidentResult, Written]:
        incident, facts = _locked_incident(access, ref, action="incident.transition")
        acting = _require(
            access,
            perms.can_transition_incident(access, facts),
            action="incident.transition",
            target=ref,
        )
        current = incident.status
        if not perms.transition_allowed(current, target):
            allowed = ", ".join(sorted(perms.TRANSITIONS[current])) or "none"
            raise Conflict(
                f"{ref} cannot go from {current} to {target}; allowed: {allowed}.",
                code="illegal_transition",
            )
        if perms.transition_needs_reason(current, target) and not why:
            raise InvalidInput(
                f"Going from {current} to {target} needs a reason.", code="reason_required"
            )
        incident.status = target
        incident.save(update_fields=["status", "updated_at"])
        event = emit(
            stream=incident.stream_name,
            payload=IncidentTransitioned(from_status=current, to_status=target, reason=why),
            actor=actor,
            agency=acting,
        )
        _notice(incident, event.seq)
        return IncidentResult(incident, event.seq), Written(
            incident.stream_name, event.seq, str(incident.pk)
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=_cmid(client_msg_id),
        action="incident.transition",
        request={"ref": ref, "to": to_status, "reason": reason},
        write=write,
        replay=_replay_incident,
    )


def incident_invite_agency(
    *,
    actor: User,
    ref: str,
    agency: str,
    note: str = "",
    client_msg_id: uuid.UUID | None = None,
) -> IncidentResult:
    """Make another agency deployed at the crossing point a participant."""
    access = access_for(actor)
    clean_note = _text(note, field="note", max_length=MAX_REASON, required=False)

    def write() -> tuple[IncidentResult, Written]:
        incident, facts = _locked_incident(access, ref, action="incident.invite_agency")
        acting = _require(
            access,
            perms.can_invite_agency(access, facts),
            action="incident.invite_agency",
            target=ref,
        )
        _not_closed(incident)
        invited = Agency.objects.filter(code=agency, is_active=True).first()
        deployed = (
            invited is not None
            and Deployment.objects.filter(
                agency=invited, crossing_point_id=incident.crossing_point_id, is_active=True
            ).exists()
        )
        if invited is None or not deployed:
            raise InvalidInput(
                f"{agency} is not an agency deployed at {incident.crossing_point.code}.",
                code="agency_not_deployed",
            )
        if invited.pk in facts.participant_ids:
            raise Conflict(f"{agency} already participates in {ref}.", code="already_participating")
        Participation.objects.create(incident=incident, agency=invited, invited_by=actor)
        event = emit(
            stream=incident.stream_name,
            payload=IncidentAgencyInvited(agency=invited.code, note=clean_note),
            actor=actor,
            agency=acting,
        )
        _notice(incident, event.seq)
        return IncidentResult(incident, event.seq), Written(
            incident.stream_name, event.seq, str(incident.pk)
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=_cmid(client_msg_id),
        action="incident.invite_agency",
        request={"ref": ref, "agency": agency, "note": note},
        write=write,
        replay=_replay_incident,
    )


def incident_set_lead(
    *, actor: User, ref: str, agency: str, client_msg_id: uuid.UUID | None = None
) -> IncidentResult:
    """Hand the lead to another participating agency that is still active."""
    access = access_for(actor)

    def write() -> tuple[IncidentResult, Written]:
        incident, facts = _locked_incident(access, ref, action="incident.set_lead")
        acting = _require(
            access, perms.can_set_lead(access, facts), action="incident.set_lead", target=ref
        )
        _not_closed(incident)
        new_lead = Agency.objects.filter(code=agency).first()
        if new_lead is None or new_lead.pk not in facts.participant_ids:
            raise Conflict(
                f"{agency} does not participate in {ref}; invite it first.",
                code="not_participating",
            )
        if not new_lead.is_active:
            # A deactivated agency keeps its participation (the record), but nobody
            # acts for it any more: it cannot take the lead.
            raise Conflict(f"{agency} is no longer active; it cannot lead.", code="agency_inactive")
        if new_lead.pk == incident.lead_agency_id:
            raise Conflict(f"{agency} already leads {ref}.", code="already_lead")
        old = incident.lead_agency.code
        incident.lead_agency = new_lead
        incident.save(update_fields=["lead_agency", "updated_at"])
        event = emit(
            stream=incident.stream_name,
            payload=IncidentLeadChanged(old=old, new=new_lead.code),
            actor=actor,
            agency=acting,
        )
        _notice(incident, event.seq)
        return IncidentResult(incident, event.seq), Written(
            incident.stream_name, event.seq, str(incident.pk)
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=_cmid(client_msg_id),
        action="incident.set_lead",
        request={"ref": ref, "agency": agency},
        write=write,
        replay=_replay_incident,
    )


# --- messages ----------------------------------------------------------------------


def message_post(
    *,
    actor: User,
    ref: str,
    body: str,
    client_msg_id: uuid.UUID,
    agency: str | None = None,
    attachments: list[int] | None = None,
) -> MessageResult:
    """Post on the incident's channel. A repeat of client_msg_id returns the original seq.

    ``attachments``: ids of evidence files of this incident (``hub.attachments``);
    an unknown one, one of another incident (422) or a withdrawn one (409) refuses
    the whole message.
    """
    access = access_for(actor)
    files = list(attachments or [])
    # A message that carries files may have no text (a pasted photo); one without must.
    text = _text(body, field="body", max_length=MAX_BODY, required=not files)

    def write() -> tuple[MessageResult, Written]:
        incident, facts = _locked_incident(access, ref, action="message.post")
        acting = _require(
            access,
            perms.can_post_message(access, facts, agency_code=agency),
            action="message.post",
            target=ref,
        )
        _not_closed(incident)
        referred = attachments_to_refer(incident_id=incident.pk, ids=files)
        mentions = resolve_mentions(body=text, facts=facts)
        # The message row is written with the seq its event will take (the stream
        # is locked from here to the commit), not updated after the emit.
        stream = stream_lock(incident.stream_name)
        message = Message.objects.create(
            incident=incident,
            author=actor,
            agency=acting,
            body=text,
            mentions=[m.model_dump(mode="json") for m in mentions],
            client_msg_id=client_msg_id,
            seq=stream.last_seq + 1,
            created_at=timezone.now(),
        )
        event = emit(
            stream=incident.stream_name,
            payload=MessagePosted(
                message_id=message.pk, body=text, mentions=mentions, attachments=referred
            ),
            actor=actor,
            agency=acting,
            at=message.created_at,
            locked=stream,
        )
        if event.seq != message.seq:  # (cannot happen while the stream row is locked)
            raise RuntimeError(f"{incident.stream_name}: seq {event.seq} != {message.seq}")
        attachments_link(message=message, ids=referred)
        _notify_mentioned(
            incident, facts, mentions, actor=actor, agency=acting, seq=event.seq, body=text
        )
        return (
            MessageResult(message=message, stream=incident.stream_name, seq=event.seq),
            Written(incident.stream_name, event.seq, str(message.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=client_msg_id,
        action="message.post",
        # Only a message with files adds them, so earlier receipts still match.
        request={"ref": ref, "body": text, "agency": agency}
        | ({"attachments": files} if files else {}),
        write=write,
        replay=_replay_message,
    )


def _locked_message(incident: Incident, message_id: int) -> Message:
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise NotFound("Not found.")
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("author", "agency")
        .filter(pk=message_id, incident=incident)
        .first()
    )
    if message is None:
        raise NotFound("Not found.")
    return message


def message_edit(
    *,
    actor: User,
    ref: str,
    message_id: int,
    body: str,
    client_msg_id: uuid.UUID | None = None,
) -> MessageResult:
    """The author changes their text; earlier versions stay in the event record."""
    access = access_for(actor)
    text = _text(body, field="body", max_length=MAX_BODY)

    def write() -> tuple[MessageResult, Written]:
        incident, facts = _locked_incident(access, ref, action="message.edit")
        message = _locked_message(incident, message_id)
        acting = _require(
            access,
            perms.can_edit_message(access, facts, author_id=message.author_id),
            action="message.edit",
            target=f"{ref}/{message_id}",
        )
        _not_closed(incident)
        if message.is_redacted:
            raise Conflict("A redacted message cannot be edited.", code="message_redacted")
        if message.body == text:
            head = stream_head(incident.stream_name)
            return (
                MessageResult(message, incident.stream_name, head),
                Written(incident.stream_name, head, str(message.pk)),
            )
        mentions = resolve_mentions(body=text, facts=facts)
        before = {(m.get("kind"), m.get("key")) for m in message.mentions or []}
        message.body = text
        message.mentions = [m.model_dump(mode="json") for m in mentions]
        message.edit_count += 1
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "mentions", "edit_count", "edited_at"])
        event = emit(
            stream=incident.stream_name,
            payload=MessageEdited(
                message_id=message.pk,
                body=text,
                edit_number=message.edit_count,
                mentions=mentions,
            ),
            actor=actor,
            agency=acting,
            at=message.edited_at,
        )
        # An edit notifies only whom it newly mentions: the others heard of it already.
        added = [m for m in mentions if (m.kind, m.key) not in before]
        _notify_mentioned(
            incident, facts, added, actor=actor, agency=acting, seq=event.seq, body=text
        )
        return (
            MessageResult(message, incident.stream_name, event.seq),
            Written(incident.stream_name, event.seq, str(message.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=_cmid(client_msg_id),
        action="message.edit",
        request={"ref": ref, "message_id": message_id, "body": text},
        write=write,
        replay=_replay_message,
    )


def message_redact(
    *,
    actor: User,
    ref: str,
    message_id: int,
    reason: str,
    client_msg_id: uuid.UUID | None = None,
) -> MessageResult:
    """Hide a message's text from readers; the event says who redacted it and why."""
    access = access_for(actor)
    why = _text(reason, field="reason", max_length=MAX_REASON)

    def write() -> tuple[MessageResult, Written]:
        incident, facts = _locked_incident(access, ref, action="message.redact")
        message = _locked_message(incident, message_id)
        acting = _require(
            access,
            perms.can_redact_message(access, facts, author_id=message.author_id),
            action="message.redact",
            target=f"{ref}/{message_id}",
        )
        if message.is_redacted:
            raise Conflict("The message is already redacted.", code="already_redacted")
        message.redacted_at = timezone.now()
        message.redacted_by = actor
        message.redaction_reason = why
        message.save(update_fields=["redacted_at", "redacted_by", "redaction_reason"])
        event = emit(
            stream=incident.stream_name,
            payload=MessageRedacted(message_id=message.pk, reason=why),
            actor=actor,
            agency=acting,
            at=message.redacted_at,
        )
        return (
            MessageResult(message, incident.stream_name, event.seq),
            Written(incident.stream_name, event.seq, str(message.pk)),
        )

    return run_idempotent(
        actor=actor,
        client_msg_id=_cmid(client_msg_id),
        action="message.redact",
        request={"ref": ref, "message_id": message_id, "reason": why},
        write=write,
        replay=_replay_message,
    )


__all__ = [
    "IncidentResult",
    "MessageResult",
    "incident_invite_agency",
    "incident_report",
    "incident_set_lead",
    "incident_transition",
    "incident_update",
    "message_edit",
    "message_post",
    "message_redact",
]
