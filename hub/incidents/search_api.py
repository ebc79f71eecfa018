"""REST: search the record (``GET /search``), for every officer, over the incidents
they may read (``hub.incidents.search``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from hub.agencies.selectors import access_for
from hub.auth import request_user
from hub.errors import FieldProblem, InvalidFields
from hub.incidents.search import MAX_LIMIT, BadCursor, Cursor, SearchHit, search_record
from hub.schemas import ERRORS_READ

router = Router(tags=["search"])


class SearchQuery(Schema):
    q: str = Field(
        min_length=2,
        max_length=200,
        description="The text to find (2 to 200 characters, ignoring case, surrounding "
        "spaces trimmed): a substring of a message's current text, an incident's title "
        "or description.",
    )
    crossing_point: str | None = Field(
        None, max_length=6, description="Only incidents at this crossing point (code)."
    )
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="Results per page (at most 50).")
    before: str | None = Field(
        None,
        max_length=200,
        description="The `next_cursor` of the previous page: the results after it.",
    )

    @field_validator("q", mode="after")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        value = value.strip()
        if len(value) < 2:
            raise ValueError("must be at least 2 characters, not counting spaces")
        return value

    @field_validator("crossing_point", "before", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("crossing_point", "before", mode="after")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class SearchActorOut(Schema):
    name: str = Field(description="The officer's display name.")
    agency: str = Field(description="The agency they acted for (code).")


class SearchHitOut(Schema):
    incident: str = Field(description="The incident's reference.")
    incident_title: str = Field(description="The incident's current title.")
    crossing_point: str = Field(description="The incident's crossing point (code).")
    timezone: str = Field(description="The crossing point's IANA time zone.")
    kind: Literal["message", "incident"] = Field(
        description="`message`: a message's current text matched; `incident`: the "
        "incident's title or description matched."
    )
    seq: int = Field(
        description="The row in the incident's stream: the message's `message.posted` "
        "event, or 1 (the report) for an incident. The room links it as "
        "`/incidents/{incident}#seq-{seq}`."
    )
    at: datetime = Field(description="When the message was posted or the incident reported.")
    actor: SearchActorOut = Field(description="Who wrote it (the author or the reporter).")
    snippet: str = Field(description="Up to 160 characters around the first match.")
    match: list[int] = Field(
        description="[start, end) of the first match within `snippet` (character offsets)."
    )


class SearchPageOut(Schema):
    items: list[SearchHitOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `before` for the next page; null: no more results."
    )


def _hit(hit: SearchHit) -> SearchHitOut:
    return SearchHitOut(
        incident=hit.incident,
        incident_title=hit.incident_title,
        crossing_point=hit.crossing_point,
        timezone=hit.timezone,
        kind=hit.kind,
        seq=hit.seq,
        at=hit.at,
        actor=SearchActorOut(name=hit.actor.name, agency=hit.actor.agency),
        snippet=hit.snippet,
        match=list(hit.match),
    )


@router.get(
    "/search",
    response={200: SearchPageOut, **ERRORS_READ},
    summary="Search the record: messages (current text, never redacted), incident titles "
    "and descriptions, over the incidents you may read",
    description=(
        "Case-insensitive substring match. Newest first; keyset paging with `before`. "
        "Never shows a match from an incident you may not read, nor from a redacted "
        "message. 422 naming the field for a bad `q`, `limit` or `before`."
    ),
)
def search_view(request: HttpRequest, query: Query[SearchQuery]) -> SearchPageOut:
    cursor = None
    if query.before is not None:
        try:
            cursor = Cursor.decode(query.before)
        except BadCursor:
            raise InvalidFields(
                [FieldProblem(("query", "before"), "not a cursor from this search", "value_error")]
            ) from None
    page = search_record(
        access_for(request_user(request)),
        query.q,
        crossing_point=query.crossing_point,
        limit=query.limit,
        before=cursor,
    )
    return SearchPageOut(items=[_hit(h) for h in page.items], next_cursor=page.next_cursor)
