"""Request and response shapes of the incidents API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field, StrictInt
from pydantic.json_schema import SkipJsonSchema

from hub.events.api import EventFilterQuery
from hub.events.types import (
    IncidentCategory,
    IncidentStatus,
    IncidentVisibility,
    Mention,
    Severity,
)
from hub.incidents.models import Incident, Message
from hub.schemas import Code, RequiredText, StrictIn, Text, UserRef
from hub.sitreps.schemas import SitrepStateOut

if TYPE_CHECKING:
    from hub.sitreps.selectors import SitrepView


class IncidentOut(Schema):
    ref: str
    crossing_point: str
    title: str
    description: str
    category: str
    severity: str
    status: str
    people_count: int
    occurred_at: datetime
    location_detail: str
    visibility: str
    reporting_agency: str
    lead_agency: str
    participating_agencies: list[str]
    reported_by: UserRef
    created_at: datetime
    updated_at: datetime
    stream: str
    seq: int = Field(description="The incident stream's seq this snapshot reflects.")
    read_seq: int = Field(
        description="Your read marker on the incident's stream (0 if you have read none of it); "
        "events after it are unread."
    )
    sitrep: SitrepStateOut | None = Field(
        description="The latest situation report (pinned in the room) and the report cadence, "
        "as of `seq`; null while there has been neither."
    )

    @staticmethod
    def of(incident: Incident, seq: int, read_seq: int, sitrep: SitrepView | None) -> IncidentOut:
        return IncidentOut(
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
            visibility=incident.visibility,
            reporting_agency=incident.reporting_agency.code,
            lead_agency=incident.lead_agency.code,
            participating_agencies=sorted(a.code for a in incident.participating_agencies.all()),
            reported_by=UserRef(
                id=incident.reported_by.pk,
                username=incident.reported_by.username,
                name=incident.reported_by.display_name,
            ),
            created_at=incident.created_at,
            updated_at=incident.updated_at,
            stream=incident.stream_name,
            seq=seq,
            read_seq=read_seq,
            sitrep=SitrepStateOut.maybe(sitrep),
        )


class IncidentPage(Schema):
    items: list[IncidentOut]
    next_cursor: int | None = Field(description="Pass as `cursor` for the next (older) page.")


class IncidentListQuery(Schema):
    crossing_point: str | None = Field(None, max_length=6)
    status: IncidentStatus | None = None
    category: IncidentCategory | None = None
    severity: Severity | None = None
    agency: str | None = Field(None, max_length=20, description="A participating agency's code.")
    q: str | None = Field(
        None, max_length=100, description="Text in the ref, title or description."
    )
    cursor: int | None = Field(None, ge=1, le=2**53)
    limit: int = Field(50, ge=1, le=200)


class IncidentCreate(StrictIn):
    crossing_point: Code = Field(max_length=6)
    title: RequiredText = Field(min_length=1, max_length=200)
    description: Text = Field("", max_length=10_000)
    category: IncidentCategory
    severity: Severity
    people_count: StrictInt = Field(0, ge=0, le=100_000)
    occurred_at: datetime
    location_detail: Text = Field("", max_length=300)
    visibility: IncidentVisibility = "participants"
    agency: Code | None = Field(None, max_length=20, description="Report for this agency.")
    client_msg_id: UUID | None = None


class IncidentPatch(StrictIn):
    """Only the fields sent change. None of them may be null (the service refuses it:
    every one has a value), so the schema does not offer null; leave a field out instead.
    (Constraints sit inside ``Annotated``: on the union they would also apply to None.)"""

    title: Annotated[RequiredText, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = (
        None
    )
    description: Annotated[Text, Field(max_length=10_000)] | SkipJsonSchema[None] = None
    category: IncidentCategory | SkipJsonSchema[None] = None
    severity: Severity | SkipJsonSchema[None] = None
    people_count: Annotated[StrictInt, Field(ge=0, le=100_000)] | SkipJsonSchema[None] = None
    occurred_at: datetime | SkipJsonSchema[None] = None
    location_detail: Annotated[Text, Field(max_length=300)] | SkipJsonSchema[None] = None
    visibility: IncidentVisibility | SkipJsonSchema[None] = None
    client_msg_id: UUID | None = None


class TransitionIn(StrictIn):
    to: IncidentStatus
    reason: Text = Field("", max_length=500)
    client_msg_id: UUID | None = None


class InviteIn(StrictIn):
    agency: Code = Field(max_length=20)
    note: Text = Field("", max_length=500)
    client_msg_id: UUID | None = None


class LeadIn(StrictIn):
    agency: Code = Field(max_length=20)
    client_msg_id: UUID | None = None


class MessageIn(StrictIn):
    body: Text = Field(
        max_length=10_000,
        description="The text; empty only when the message carries attachments.",
    )
    client_msg_id: UUID
    agency: Code | None = Field(None, max_length=20)
    attachments: list[Annotated[StrictInt, Field(ge=1, le=2**53)]] = Field(
        default_factory=list,
        max_length=10,
        description="Ids of evidence files uploaded to this incident "
        "(POST /incidents/{ref}/attachments) that the message refers to.",
    )


class MessageEditIn(StrictIn):
    body: RequiredText = Field(min_length=1, max_length=10_000)
    client_msg_id: UUID | None = None


class RedactIn(StrictIn):
    reason: RequiredText = Field(min_length=1, max_length=500)
    client_msg_id: UUID | None = None


class MessageOut(Schema):
    id: int
    seq: int
    author: UserRef
    agency: str
    body: str | None = Field(description="Null when the message is redacted.")
    redacted: bool
    redacted_by: UserRef | None
    redaction_reason: str | None
    edit_count: int
    created_at: datetime
    edited_at: datetime | None
    mentions: list[Mention] = Field(
        description="Agencies and officers the text mentions with @ (empty when redacted)."
    )
    attachments: list[int] = Field(
        default_factory=list,
        description="Ids of the incident's evidence files the message refers to.",
    )

    @staticmethod
    def of(message: Message) -> MessageOut:
        redacted = message.is_redacted
        by = message.redacted_by
        return MessageOut(
            id=message.pk,
            seq=message.seq,
            author=UserRef(
                id=message.author.pk,
                username=message.author.username,
                name=message.author.display_name,
            ),
            agency=message.agency.code,
            body=None if redacted else message.body,
            redacted=redacted,
            redacted_by=UserRef(id=by.pk, username=by.username, name=by.display_name)
            if by
            else None,
            redaction_reason=message.redaction_reason if redacted else None,
            edit_count=message.edit_count,
            created_at=message.created_at,
            edited_at=message.edited_at,
            mentions=[] if redacted else [Mention(**m) for m in message.mentions or []],
            attachments=[link.attachment_id for link in message.attachment_links.all()],
        )


class MessagePage(Schema):
    items: list[MessageOut]
    head: int


class MessageListQuery(Schema):
    after_seq: int = Field(0, ge=0, le=2**53)
    limit: int = Field(100, ge=1, le=200)


class MessageWriteOut(Schema):
    message: MessageOut
    stream: str
    seq: int
    duplicate: bool


class ExportQuery(EventFilterQuery):
    """The export's format and the timeline's filters (the same names and meanings as
    ``GET /streams/{stream}/events``, ``hub.events.filters``)."""

    format: Literal["json", "csv", "html", "attachments_csv"] = Field(
        "json",
        description="`json`, `csv` (the timeline's rows), `html` (the printable report), "
        "or `attachments_csv` (the evidence files, one row per file; filters do not "
        "narrow it).",
    )
