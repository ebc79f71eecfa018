"""REST: read markers ("seen by") of a stream (``hub.events.reads``)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field, StrictInt

from hub.agencies.selectors import access_for
from hub.auth import request_user
from hub.events.reads import MAX_SEQ, stream_mark_read, stream_readers_for
from hub.schemas import ERRORS_READ, ERRORS_WRITE, StrictIn

router = Router(tags=["read markers"])


class ReadIn(StrictIn):
    seq: StrictInt = Field(ge=0, le=MAX_SEQ, description="The last seq you have seen.")


class ReadMarkerOut(Schema):
    stream: str
    seq: int = Field(
        description="Your stored marker: never lower than before, never beyond the head."
    )
    updated_at: datetime


class ReaderOut(Schema):
    user: str = Field(description="The username.")
    name: str
    agency: str | None = Field(description="The agency they read the stream under.")
    seq: int
    updated_at: datetime


class ReadersOut(Schema):
    stream: str
    head: int = Field(description="The stream's last seq when this was read.")
    readers: list[ReaderOut] = Field(
        description="Everyone who can still read the stream and has read some of it."
    )


@router.post(
    "/streams/{stream}/read",
    response={200: ReadMarkerOut, **ERRORS_WRITE},
    summary="Record how far you have read a stream (never goes back; clamped to the head)",
)
def stream_read(request: HttpRequest, stream: str, payload: ReadIn) -> ReadMarkerOut:
    result = stream_mark_read(actor=request_user(request), stream=stream, seq=payload.seq)
    marker = result.marker
    return ReadMarkerOut(stream=marker.stream_name, seq=marker.seq, updated_at=marker.updated_at)


@router.get(
    "/streams/{stream}/reads",
    response={200: ReadersOut, **ERRORS_READ},
    summary="Who has read a stream how far (seen by)",
)
def stream_reads(request: HttpRequest, stream: str) -> ReadersOut:
    head, readers = stream_readers_for(access_for(request_user(request)), stream)
    return ReadersOut(
        stream=stream,
        head=head,
        readers=[
            ReaderOut(
                user=r.username, name=r.name, agency=r.agency, seq=r.seq, updated_at=r.updated_at
            )
            for r in readers
        ],
    )
