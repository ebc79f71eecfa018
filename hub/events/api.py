"""REST: the timeline/replay of a stream (keyset pages, forward and backward), and
verification of the record."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import AwareDatetime, Field, WithJsonSchema, field_validator

from hub.agencies.selectors import access_for
from hub.auth import request_user
from hub.errors import NotFound
from hub.events import signing
from hub.events.audit import verify
from hub.events.filters import GROUPS, MAX_Q, EventFilter
from hub.events.permissions import VerifyScope, can_verify_record, can_verify_stream
from hub.events.selectors import MAX_PAGE, stream_page_for
from hub.events.streams import can_read_stream, visible_stream_names
from hub.events.types import ActorRef
from hub.schemas import (
    ERRORS_READ,
    NO_C0_PATTERN,
    ErrorOut,
    refuses_valid,
    storable_time,
    time_not_a_number,
)
from hub.security import refuse

router = Router(tags=["timeline and audit"])


class EventOut(Schema):
    stream: str
    seq: int
    kind: str
    at: datetime
    actor: ActorRef | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class EventPage(Schema):
    stream: str
    head: int = Field(
        description="The stream's last seq when this page was read (every event of the "
        "stream, filtered or not: the Y of 'Showing X of Y')."
    )
    events: list[EventOut] = Field(description="The page's events, in ascending seq order.")
    next_after: int | None = Field(
        description="Pass as `after` for the next newer page; null when caught up."
    )
    prev_before: int | None = Field(
        description=(
            "Pass as `before` for the next older page; null when nothing older is left "
            "(the page reaches the start of the stream, seq 1, or reaches `after` when "
            "both bounds were given; on a page read forward, null when `after` is 0)."
        )
    )
    matched: int | None = Field(
        description=(
            "With `count=true`: how many events with seq <= `head` pass the filters "
            "(`kind`, `group`, `agency`, `actor`, `from`, `to`, `q`, `automatic`), the X "
            "of 'Showing X of Y'. Null without `count=true` (counting costs a query the "
            "pages do not need)."
        )
    )


# hub.events.filters refuses control characters other than tab in q, agency and actor.
FILTER_TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000a-\\u001f]*$"

# ``from=`` and ``to=`` may be left blank (the web app's filter form sends them so):
# blank is no bound, which the schema states beside the date-time.
BLANK_OR_TIME: dict[str, Any] = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "maxLength": 0}]
}


class EventFilterQuery(Schema):
    """The timeline's filters (``hub.events.filters``), as the events endpoint and the
    incident export take them: the same names and meanings on both."""

    kind: str = Field(
        "",
        max_length=64,
        description="Only kinds starting with this prefix.",
        json_schema_extra={"pattern": NO_C0_PATTERN},
    )
    group: str = Field(
        "",
        max_length=200,
        description=(
            "Only these kind groups, comma-separated: "
            + ", ".join(f"`{g}`" for g in GROUPS)
            + ". Every event kind is in exactly one group. Empty: every group."
        ),
    )
    agency: str | None = Field(
        None,
        max_length=32,
        description="Only events by an officer acting for this agency (code).",
        json_schema_extra={"pattern": FILTER_TEXT_PATTERN},
    )
    actor: str | None = Field(
        None,
        max_length=150,
        description="Only events by this officer (username).",
        json_schema_extra={"pattern": FILTER_TEXT_PATTERN},
    )
    start: Annotated[AwareDatetime | None, WithJsonSchema(BLANK_OR_TIME)] = Field(
        None,
        alias="from",
        description="Only events at or after this time (ISO 8601 with a UTC offset; inclusive).",
    )
    end: Annotated[AwareDatetime | None, WithJsonSchema(BLANK_OR_TIME)] = Field(
        None,
        alias="to",
        description="Only events before this time (ISO 8601 with a UTC offset; exclusive).",
    )
    q: str = Field(
        "",
        max_length=MAX_Q,
        description=(
            "Only events whose written text (a message, a title, a description, a note, a "
            "reason, a situation report) contains this, ignoring case. A redacted "
            "message never matches, whoever asks."
        ),
        json_schema_extra={"pattern": FILTER_TEXT_PATTERN},
    )
    automatic: bool = Field(
        True,
        description="false: leave out entries no officer made (reminders, escalations, "
        "progress, expiries).",
    )

    @field_validator("kind", mode="after")
    @classmethod
    def _no_control(cls, value: str) -> str:
        if any(ord(ch) < 32 for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("agency", "actor", "start", "end", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time_not_a_number(cls, value: Any) -> Any:
        return time_not_a_number(value)

    @field_validator("start", "end", mode="after")
    @classmethod
    def _storable_time(cls, value: datetime | None) -> datetime | None:
        return storable_time(value)

    def event_filter(self) -> EventFilter:
        """The filters as ``hub.events.filters`` checks them (InvalidInput names the field)."""
        return EventFilter.parse(
            groups=self.group,
            agency=self.agency,
            actor=self.actor,
            start=self.start,
            end=self.end,
            q=self.q,
            automatic=self.automatic,
        )


class EventsQuery(EventFilterQuery):
    after: int = Field(
        0,
        ge=0,
        le=2**53,
        description=(
            "Return events with seq greater than this (replay and catching up: the "
            "oldest `limit` such events)."
        ),
    )
    before: int | None = Field(
        None,
        ge=1,
        le=2**53,
        description=(
            "Return events with seq less than this, reading backward: the newest `limit` "
            "such events, still in ascending seq order. With `after` too, the page is "
            "the newest events with `after < seq < before`. To open a timeline at its "
            "newest events, pass the stream's head + 1 (or any larger number)."
        ),
    )
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="At most this many events.")
    count: bool = Field(
        False, description="true: also count the events that pass the filters (`matched`)."
    )


@router.get(
    "/streams/{stream}/events",
    response={200: EventPage, **ERRORS_READ},
    summary="A stream's events after or before a seq (timeline and replay; keyset-paginated), "
    "optionally filtered",
    description=(
        "Keyset pages in both directions over the events that pass the filters; the "
        "cursors (`next_after`, `prev_before`) are seqs, so walking them never skips or "
        "repeats an event, also while new events are appended. Filters are checked "
        "field by field: a bad one is a 422 naming it (`errors[].loc`, or the detail's "
        "first word for `group` and `to` before `from`)."
    ),
    openapi_extra=refuses_valid(
        "filters that contradict (`to` not after `from`) or name a group that does not "
        "exist (`invalid_filter`)",
    ),
)
def stream_events(request: HttpRequest, stream: str, query: Query[EventsQuery]) -> HttpResponse:
    page = stream_page_for(
        access_for(request_user(request)),
        stream,
        after=query.after,
        before=query.before,
        limit=query.limit,
        kind_prefix=query.kind,
        event_filter=query.event_filter(),
        count=query.count,
    )
    # Encoded here in one pass from plain dicts, instead of built as ninja Schemas (or
    # pydantic envelopes) and walked again by an encoder (most of a page's CPU): a
    # catching-up client reads thousands of these. The shape is EventPage's; the
    # contract tests check every answer against the documented schema.
    events = page.envelope_dicts()
    for e, item in zip(page.events, events, strict=True):
        item["prev_hash"], item["hash"] = e.prev_hash, e.hash
    body = {
        "stream": stream,
        "head": page.head,
        "events": events,
        "next_after": page.next_after,
        "prev_before": page.prev_before,
        "matched": page.matched,
    }
    return HttpResponse(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        content_type="application/json",
    )


class BrokenOut(Schema):
    stream: str = Field(description="The stream; empty for a finding about the checkpoint log.")
    seq: int = Field(description="The seq where it breaks (0 for the checkpoint log).")
    reason: str
    checkpoint: int | None = Field(
        None, description="The signed checkpoint the finding is about, when there is one."
    )


class VerifyOut(Schema):
    ok: bool
    streams_checked: int
    events_checked: int
    checkpoints_checked: int = Field(
        description="Signed checkpoints checked (hash chain, signature, root)."
    )
    first_broken: BrokenOut | None
    broken: list[BrokenOut]


class VerifyQuery(Schema):
    stream: str | None = Field(None, max_length=120)


@router.get(
    "/audit/verify",
    response={200: VerifyOut, 403: ErrorOut, **ERRORS_READ},
    summary="Recompute the hash chains you may read and check them against the signed "
    "checkpoints; name the first broken link",
)
def audit_verify(request: HttpRequest, query: Query[VerifyQuery]) -> VerifyOut:
    user = request_user(request)
    access = access_for(user)
    names: list[str] | None
    if query.stream is not None:
        # Not the caller's (or no such stream) is a 404, logged by the stream's resolver.
        decision = can_verify_stream(access, readable=can_read_stream(access, query.stream))
        if not decision:
            raise NotFound("No such stream.")
        names = [query.stream]
    else:
        decision = can_verify_record(access, is_superuser=user.is_superuser)
        if not decision:
            refuse(access, action="audit.verify", target="*", reason=decision.reason)
        names = None if decision.scope == VerifyScope.ALL else visible_stream_names(access)
    report = verify(names)
    broken = [
        BrokenOut(stream=b.stream, seq=b.seq, reason=b.reason, checkpoint=b.checkpoint)
        for b in report.broken
    ]
    return VerifyOut(
        ok=report.ok,
        streams_checked=report.streams_checked,
        events_checked=report.events_checked,
        checkpoints_checked=report.checkpoints_checked,
        first_broken=broken[0] if broken else None,
        broken=broken,
    )


class PublicKeyOut(Schema):
    key_id: str = Field(
        description="The key's id: the first 8 bytes of SHA-256 of its 32 raw bytes, hex "
        "(what a checkpoint's `key_id` names)."
    )
    ed25519: str = Field(description="The raw 32-byte Ed25519 public key, base64.")
    pem: str = Field(description="The same key as a PEM SubjectPublicKeyInfo file.")
    current: bool = Field(description="true: new checkpoints are signed with it.")


@router.get(
    "/audit/keys",
    response={200: list[PublicKeyOut], **ERRORS_READ},
    summary="The public keys the hub's checkpoints are signed with (the current one "
    "and those kept after a rotation)",
    description=(
        "For every signed-in officer: public keys are not secret. Verifying an export "
        "against these (rather than the key embedded in the file) proves this hub signed "
        "it; keep a copy made at another time or place to prove it against a hub that "
        "may itself have been changed (docs/operations.md)."
    ),
)
def audit_keys(request: HttpRequest) -> list[PublicKeyOut]:
    current = signing.current_key_id()
    out: list[PublicKeyOut] = []
    for kid, raw in sorted(signing.public_keys().items()):
        pem = (
            Ed25519PublicKey.from_public_bytes(raw)
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )
        out.append(
            PublicKeyOut(
                key_id=kid,
                ed25519=base64.b64encode(raw).decode("ascii"),
                pem=pem,
                current=kid == current,
            )
        )
    return out
