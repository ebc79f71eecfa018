"""REST: the review of an incident (``GET /incidents/{ref}/review``), for senior
officials in jurisdiction and coordinators of the lead agency.

The timeline itself is ``GET /streams/incident:<REF>/events`` with the review's
filters (``hub.events.api``); this endpoint gives what the timeline alone does not:
milestones, response times, alert acknowledgements, the verification of the
record, and the officers and agencies to filter by. Computed by
``hub.incidents.review`` from the incident's stream.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from hub.auth import request_user
from hub.incidents.review import incident_review
from hub.schemas import ERRORS_READ, ErrorOut

router = Router(tags=["incidents"])

SINCE_REPORT = "Whole seconds from the report (`reported_at`) to `at`; null when not reached."


class MilestoneOut(Schema):
    key: Literal["reported", "triaged", "lead_set", "active", "resolved", "closed"] = Field(
        description=(
            "Which milestone. `reported`: the report. `triaged`, `active`, `resolved`, "
            "`closed`: the first move into that status (a reopened incident keeps its "
            "first resolution). `lead_set`: the first change of lead agency (a "
            "coordinator designating the lead); when the lead was never changed, the "
            "lead the report gave (the reporting agency), i.e. the report itself."
        )
    )
    at: datetime | None = Field(description="When it was first reached; null: not yet.")
    seq: int | None = Field(description="The event that reached it; null: not yet.")
    after_seconds: int | None = Field(description=SINCE_REPORT)


class FirstResponseOut(Schema):
    agency: str = Field(description="A participating agency other than the reporting one.")
    invited_at: datetime | None = Field(
        description="When it became a participant: the report (when the report named it) "
        "or its `incident.agency_invited` event."
    )
    invited_seq: int | None = Field(description="The event that made it a participant.")
    at: datetime | None = Field(
        description="Its first response: the first event after the invitation by an "
        "officer acting for it (a message or any other action); null: none yet."
    )
    seq: int | None = Field(description="The first response's event; null: none yet.")
    after_seconds: int | None = Field(description=SINCE_REPORT)
    after_invite_seconds: int | None = Field(
        description="Whole seconds from the invitation to the first response; null: none yet."
    )


class AlertAckOut(Schema):
    alert_id: int = Field(description="An alert linked to the incident (issued with it).")
    title: str = Field(description="The alert's title, as the record last states it.")
    agency: str = Field(description="An agency the alert targeted.")
    ack_required: bool = Field(description="Whether the alert asked for acknowledgements.")
    issued_at: datetime = Field(description="When the alert was issued.")
    issued_seq: int = Field(description="The `alert.issued` event on the incident's stream.")
    at: datetime | None = Field(
        description="The agency's first acknowledgement of the alert; null: none yet."
    )
    seq: int | None = Field(description="The `alert.acknowledged` event; null: none yet.")
    after_seconds: int | None = Field(description=SINCE_REPORT)
    after_issue_seconds: int | None = Field(
        description="Whole seconds from the issue to the acknowledgement; null: none yet."
    )


class VerificationOut(Schema):
    ok: bool = Field(description="The stream's hash chain verified intact.")
    through_seq: int = Field(
        description="The chain is intact from seq 1 through this seq: the last event "
        "verified when `ok` (it may be beyond `head` if events arrived meanwhile), else "
        "the event before `broken_seq`."
    )
    broken_seq: int | None = Field(description="The first broken link; null when `ok`.")
    reason: str | None = Field(description="Why that link is broken; null when `ok`.")
    verified_at: datetime = Field(description="When the chain was verified (now).")
    checkpoint: int | None = Field(
        None,
        description="The latest signed checkpoint that covers the stream, checked with it "
        "(its hash, its Ed25519 signature with a known key, its root over its leaves, and "
        "the event at the seq it recorded); null: no checkpoint covers the stream yet.",
    )
    checkpoint_at: str | None = Field(
        None, description="When that checkpoint was made (UTC, as signed)."
    )
    checkpoint_seq: int | None = Field(
        None, description="The stream's head as that checkpoint recorded it."
    )
    key_id: str | None = Field(None, description="The key that signed that checkpoint.")


class ReviewActorOut(Schema):
    username: str = Field(description="An officer who acted on the stream (the `actor` filter).")
    name: str = Field(description="Their display name.")
    agency: str | None = Field(description="The agency they first acted for on this stream.")


class ReviewOut(Schema):
    ref: str = Field(description="The incident's reference.")
    crossing_point: str = Field(description="The crossing point's code.")
    timezone: str = Field(
        description="The crossing point's IANA time zone (show times, and read typed times, in it)."
    )
    reported_at: datetime = Field(description="When the incident was reported.")
    head: int = Field(description="The stream's last seq; everything here is as of it.")
    head_hash: str = Field(description="The hash of the event at `head` (the chain's end).")
    milestones: list[MilestoneOut] = Field(
        description="Always the six milestones, in order: reported, triaged, lead_set, "
        "active, resolved, closed."
    )
    first_responses: list[FirstResponseOut] = Field(
        description="Each invited agency's first response, in invitation order."
    )
    alert_acks: list[AlertAckOut] = Field(
        description="One row per linked alert and targeted agency, in issue order: the "
        "agency's first acknowledgement."
    )
    verification: VerificationOut = Field(
        description="The stream's hash chain and its latest signed checkpoint, verified now."
    )
    actors: list[ReviewActorOut] = Field(
        description="Everyone who appears as an actor on the stream, once each, by username."
    )
    agencies: list[str] = Field(
        description="The participating agencies' codes (for the `agency` filter)."
    )


@router.get(
    "/{ref}/review",
    response={200: ReviewOut, 403: ErrorOut, **ERRORS_READ},
    summary="Review an incident: milestones, first responses, alert acknowledgements and "
    "the verified record (senior officials; coordinators of the lead agency)",
    description=(
        "Computed from the incident's stream as of its head. 404 when you may not read "
        "the incident; 403 `forbidden` when you may read it but not review it (senior "
        "officials serving its crossing point and coordinators of its lead agency may). "
        "The timeline is `GET /streams/incident:{ref}/events` with the same filters."
    ),
)
def incident_review_view(request: HttpRequest, ref: str) -> ReviewOut:
    return ReviewOut(**asdict(incident_review(actor=request_user(request), ref=ref)))
