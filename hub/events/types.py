"""Every event kind, as one pydantic model each (``extra="forbid"``).

This module is the single place to read what can appear on a stream. ``emit``
accepts only these models, and ``validate_payload`` re-checks stored payloads
(tests validate every emitted payload against its model). The wire envelope,
``EventEnvelope``, is shared by the REST timeline and WebSocket ``event`` frames.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

IncidentCategory = Literal[
    "trafficking_in_persons",
    "migrant_smuggling",
    "document_fraud",
    "contraband",
    "irregular_crossing",
    "vessel_interdiction",
    "security_threat",
    "health",
    "other",
]
Severity = Literal["low", "medium", "high", "critical"]
IncidentStatus = Literal["reported", "triaged", "active", "resolved", "closed"]
IncidentVisibility = Literal["participants", "crossing_point"]


class EventPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    KIND: ClassVar[str] = ""


EVENT_TYPES: dict[str, type[EventPayload]] = {}
P = TypeVar("P", bound=type[EventPayload])


def event_kind(kind: str) -> Callable[[P], P]:
    """Register a payload model under its kind (``<entity>.<past-tense verb>``)."""

    def register(cls: P) -> P:
        if kind in EVENT_TYPES:
            raise ValueError(f"event kind {kind!r} registered twice")
        cls.KIND = kind
        EVENT_TYPES[kind] = cls
        return cls

    return register


def validate_payload(kind: str, payload: dict[str, Any]) -> EventPayload:
    """Parse a stored payload with its kind's model (raises on unknown kinds)."""
    try:
        model = EVENT_TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown event kind {kind!r}") from None
    return model.model_validate(payload)


# --- incidents ------------------------------------------------------------------


@event_kind("incident.reported")
class IncidentReported(EventPayload):
    ref: str
    crossing_point: str
    title: str
    description: str
    category: IncidentCategory
    severity: Severity
    status: IncidentStatus
    people_count: int = Field(ge=0)
    occurred_at: datetime
    location_detail: str
    reporting_agency: str
    lead_agency: str
    participating_agencies: list[str]
    visibility: IncidentVisibility


ChangeValue = str | int | None


class FieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    old: ChangeValue
    new: ChangeValue


@event_kind("incident.updated")
class IncidentUpdated(EventPayload):
    """Which fields changed, from what to what (values in their JSON form)."""

    changes: dict[str, FieldChange] = Field(min_length=1)


@event_kind("incident.transitioned")
class IncidentTransitioned(EventPayload):
    from_status: IncidentStatus
    to_status: IncidentStatus
    reason: str = ""


@event_kind("incident.agency_invited")
class IncidentAgencyInvited(EventPayload):
    agency: str
    note: str = ""


@event_kind("incident.lead_changed")
class IncidentLeadChanged(EventPayload):
    old: str
    new: str


# --- situation reports (on incident:<REF> or operation:<REF>) ----------------------


class SitrepNeed(BaseModel):
    """Something the lead asks of another agency."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    agency: str | None = Field(description="The agency asked, by code; null: any agency.")
    need: str


@event_kind("sitrep.posted")
class SitrepPosted(EventPayload):
    """The lead's structured update (the actor, for the lead agency). ``ref`` is the
    incident's or operation's; ``number`` counts its reports from 1. ``due_at`` is when
    the next report is due under the cadence (null: no cadence)."""

    ref: str
    number: int = Field(ge=1)
    situation: str
    actions_taken: str
    next_steps: str
    needs: list[SitrepNeed]
    every_minutes: int | None
    due_at: datetime | None


@event_kind("sitrep.cadence_set")
class SitrepCadenceSet(EventPayload):
    """A report every ``every_minutes`` (5 to 1440), the next by ``due_at``; both null:
    no cadence any more."""

    ref: str
    every_minutes: int | None = Field(ge=5, le=1440)
    due_at: datetime | None


@event_kind("sitrep.overdue")
class SitrepOverdue(EventPayload):
    """No report by ``due_at``: these coordinators of the lead ``agency`` were reminded
    (once per due time)."""

    ref: str
    due_at: datetime
    agency: str
    notified: list[str]


# --- messages on an incident channel --------------------------------------------


class Mention(BaseModel):
    """Someone a message names with ``@``: a participating agency (``@NA-CUS``, by
    code) or an officer who can read the incident (``@na-pol.duty``, by username).
    ``name`` is the agency's name or the officer's display name when it was posted."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["agency", "officer"]
    key: str = Field(description="The agency's code or the officer's username.")
    name: str


@event_kind("message.posted")
class MessagePosted(EventPayload):
    """``redacted`` is only ever true as readers see it: the text is then hidden
    (and ``mentions`` is then empty). Payloads recorded before mentions existed
    have no ``mentions`` key; they validate with the default."""

    message_id: int
    body: str
    redacted: bool = False
    mentions: list[Mention] = Field(default_factory=list)
    attachments: list[int] = Field(
        default_factory=list,
        description="Ids of the incident's evidence files the message refers to. Left out "
        "of the stored payload when empty, so messages without files keep their shape.",
    )

    @model_serializer(mode="wrap")
    def _without_empty_attachments(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not data.get("attachments"):
            data.pop("attachments", None)
        return data


@event_kind("message.edited")
class MessageEdited(EventPayload):
    """``mentions`` are those of the new text (see ``MessagePosted``)."""

    message_id: int
    body: str
    edit_number: int = Field(ge=1)
    redacted: bool = False
    mentions: list[Mention] = Field(default_factory=list)


@event_kind("message.redacted")
class MessageRedacted(EventPayload):
    """The message's text is hidden from readers; the actor is who redacted it."""

    message_id: int
    reason: str


# --- evidence files (incident:<REF>, hub.attachments) -----------------------------


@event_kind("attachment.added")
class AttachmentAdded(EventPayload):
    """The original's SHA-256 and size, so the hash chain covers the evidence."""

    attachment_id: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    content_type: str
    filename: str
    uploader: str
    agency: str


@event_kind("attachment.withdrawn")
class AttachmentWithdrawn(EventPayload):
    """The file stops being served; the row, the bytes and this record stay."""

    attachment_id: int
    reason: str


@event_kind("attachment.original_downloaded")
class AttachmentOriginalDownloaded(EventPayload):
    """Someone downloaded the original bytes (the actor is who)."""

    attachment_id: int
    sha256: str


# --- alerts (crossing:<CODE>) ----------------------------------------------------

AlertCategory = Literal[
    "wanted_person",
    "trafficking_risk",
    "smuggling",
    "document_fraud",
    "vessel_of_interest",
    "security_threat",
    "health",
    "weather",
    "systems",
    "other",
]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]


@event_kind("alert.issued")
class AlertIssued(EventPayload):
    """A new alert. ``exercise`` marks a drill everywhere the alert shows."""

    alert_id: int
    version: int = Field(ge=1)
    crossing_point: str
    category: AlertCategory
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    title: str
    body: str
    expires_at: datetime | None
    exercise: bool
    ack_required: bool
    targets: list[str]
    due_at: datetime | None = Field(description="Targets acknowledge by then.")
    incident: str | None
    issuing_agency: str


@event_kind("alert.updated")
class AlertUpdated(EventPayload):
    alert_id: int
    version: int = Field(ge=2)
    exercise: bool
    changes: dict[str, FieldChange] = Field(min_length=1)


@event_kind("alert.cancelled")
class AlertCancelled(EventPayload):
    alert_id: int
    version: int
    exercise: bool
    reason: str


@event_kind("alert.acknowledged")
class AlertAcknowledged(EventPayload):
    """An officer acknowledged for their agency (the actor); ``pending`` still owe one."""

    alert_id: int
    exercise: bool
    agency: str
    pending: list[str]


@event_kind("alert.escalated")
class AlertEscalated(EventPayload):
    """``agency`` did not acknowledge by ``due_at``; these officers were notified again."""

    alert_id: int
    exercise: bool
    agency: str
    due_at: datetime
    notified: list[str]


@event_kind("alert.expired")
class AlertExpired(EventPayload):
    alert_id: int
    version: int
    exercise: bool


# --- joint operations (operation:<REF>, and progress on the incident) -------------

TaskStatus = Literal["open", "in_progress", "done", "blocked", "not_applicable"]


class Progress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    total: int
    done: int
    not_applicable: int
    open: int
    in_progress: int
    blocked: int
    overdue: int


class TaskSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int
    position: int
    title: str
    guidance: str
    agency_kind: str
    assigned_agency: str | None
    assignees: list[str]
    due_at: datetime | None
    status: TaskStatus
    requires_note: bool
    requires_cosign: bool
    adhoc: bool


@event_kind("operation.started")
class OperationStarted(EventPayload):
    ref: str
    crossing_point: str
    title: str
    template: str
    template_version: int
    incident: str | None
    tasks: list[TaskSnapshot]
    progress: Progress


@event_kind("operation.closed")
class OperationClosed(EventPayload):
    ref: str
    note: str
    progress: Progress


@event_kind("operation.progress")
class OperationProgress(EventPayload):
    """Pushed on the linked incident's stream whenever a task changes."""

    ref: str
    title: str
    progress: Progress


@event_kind("task.added")
class TaskAdded(EventPayload):
    ref: str
    task: TaskSnapshot
    progress: Progress


@event_kind("task.removed")
class TaskRemoved(EventPayload):
    ref: str
    task_id: int
    reason: str
    progress: Progress


@event_kind("task.assigned")
class TaskAssigned(EventPayload):
    ref: str
    task_id: int
    agency: str | None
    assignees: list[str]
    # The agency whose co-sign this reassignment withdrew (a co-sign must come
    # from an agency other than the task's), or None.
    cosign_cleared: str | None = None


class _TaskEvidenceFiles(EventPayload):
    """``attachments``: the ids of the operation's incident's evidence files this
    change added to the task (never removed). Left out of the stored payload when
    empty, so changes without files keep the shape (and so the hashes) they always
    had; payloads recorded before task files existed validate with the default."""

    attachments: list[int] = Field(
        default_factory=list,
        description="Ids of the incident's evidence files this change added to the task.",
    )

    @model_serializer(mode="wrap")
    def _without_empty_attachments(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not data.get("attachments"):
            data.pop("attachments", None)
        return data


@event_kind("task.status_changed")
class TaskStatusChanged(_TaskEvidenceFiles):
    ref: str
    task_id: int
    from_status: TaskStatus
    to_status: TaskStatus
    note: str
    evidence: str
    reason: str
    progress: Progress


@event_kind("task.noted")
class TaskNoted(_TaskEvidenceFiles):
    ref: str
    task_id: int
    note: str
    evidence: str


@event_kind("task.cosigned")
class TaskCosigned(EventPayload):
    """A second agency's officer (the actor) co-signed the task."""

    ref: str
    task_id: int
    agency: str
    note: str


@event_kind("task.overdue")
class TaskOverdue(EventPayload):
    ref: str
    task_id: int
    due_at: datetime
    agency: str | None
    notified: list[str]
    progress: Progress


# --- SOP checklist templates (template:<CODE>) --------------------------------------

TemplateSource = Literal["browser", "code"]


class TemplateItemSnapshot(BaseModel):
    """One item of a published version. ``key`` names the same item in every version."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    position: int = Field(ge=1)
    title: str
    guidance: str
    agency_kind: str
    due_offset_minutes: int = Field(ge=0)
    requires_note: bool
    requires_cosign: bool


@event_kind("template.published")
class TemplatePublished(EventPayload):
    """A new version of an SOP checklist template, written in the browser by an
    administrator (the actor) or loaded from code (``load_sops``, no actor). Earlier
    versions stay as they were; operations keep the version they started from."""

    code: str
    version: int = Field(ge=1)
    title: str
    description: str
    items: list[TemplateItemSnapshot] = Field(min_length=1)
    source: TemplateSource


# --- the wire envelope ----------------------------------------------------------


class ActorRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int | None
    username: str | None
    name: str
    agency: str | None


class EventEnvelope(BaseModel):
    """One event as clients see it (REST timeline and WebSocket ``event`` frames)."""

    model_config = ConfigDict(extra="forbid")
    stream: str
    seq: int
    kind: str
    at: datetime
    actor: ActorRef | None
    payload: dict[str, Any]
