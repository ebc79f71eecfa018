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

from pydantic import BaseModel, ConfigDict, Field

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


# --- messages on an incident channel --------------------------------------------


@event_kind("message.posted")
class MessagePosted(EventPayload):
    """``redacted`` is only ever true as readers see it: the text is then hidden."""

    message_id: int
    body: str
    redacted: bool = False


@event_kind("message.edited")
class MessageEdited(EventPayload):
    message_id: int
    body: str
    edit_number: int = Field(ge=1)
    redacted: bool = False


@event_kind("message.redacted")
class MessageRedacted(EventPayload):
    """The message's text is hidden from readers; the actor is who redacted it."""

    message_id: int
    reason: str


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
