"""REST: search the record (``GET /search``), for every officer, over the incidents
and alerts they may read (``hub.incidents.search``)."""

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
from hub.schemas import ERRORS_READ, refuses_valid

router = Router(tags=["search"])


class SearchQuery(Schema):
    q: str = Field(
        min_length=2,
        max_length=200,
        description="The words to find (2 to 200 characters, surrounding spaces trimmed). "
        "A hit holds every word, ignoring case, each as the start of a word: in a "
        "message's current text, an incident's title or description, or an alert's "
        "title or body. Punctuation and symbols only separate words (no operators): "
        "`+264 81 555-0199` is found by `555 0199`, `P7731904` by `p7731904` or `P773`.",
    )
    crossing_point: str | None = Field(
        None, max_length=6, description="Only incidents and alerts at this crossing point (code)."
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
    kind: Literal["message", "incident", "alert"] = Field(
        description="`message`: a message's current text matched; `incident`: the "
        "incident's title or description matched; `alert`: an alert's title or body "
        "matched."
    )
    incident: str | None = Field(
        description="The incident's reference; for an `alert`, the incident the alert is "
        "linked to (as the alert shows it), or null."
    )
    incident_title: str | None = Field(
        description="The incident's current title; null for an `alert`."
    )
    alert_id: int | None = Field(
        description="The alert's id (an `alert` hit only, else null). The web app links it "
        "as `/alerts/{alert_id}`."
    )
    alert_title: str | None = Field(
        description="The alert's current title (an `alert` hit only, else null)."
    )
    crossing_point: str = Field(description="The incident's or alert's crossing point (code).")
    timezone: str = Field(description="The crossing point's IANA time zone.")
    seq: int | None = Field(
        description="The row in the incident's stream: the message's `message.posted` "
        "event, or 1 (the report) for an incident. The room links it as "
        "`/incidents/{incident}#seq-{seq}`. Null for an `alert`."
    )
    at: datetime = Field(
        description="When the message was posted, the incident reported or the alert issued."
    )
    actor: SearchActorOut = Field(
        description="Who wrote it (the message's author, the incident's reporter or the "
        "alert's issuer)."
    )
    snippet: str = Field(
        description="Up to 160 characters of the matched text around the first match."
    )
    match: list[int] = Field(
        description="[start, end) within `snippet` (code point offsets) of the first "
        "occurrence of one of the query's words; [0, 0]: none to show."
    )


class SearchPageOut(Schema):
    items: list[SearchHitOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `before` for the next page; null: no more results."
    )


def _hit(hit: SearchHit) -> SearchHitOut:
    return SearchHitOut(
        kind=hit.kind,
        incident=hit.incident,
        incident_title=hit.incident_title,
        alert_id=hit.alert_id,
        alert_title=hit.alert_title,
        crossing_point=hit.crossing_point,
        timezone=hit.timezone,
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
    "and descriptions, and alerts, over the incidents and alerts you may read",
    description=(
        "Full-text search: every word of `q`, ignoring case, each matching the start of "
        "a word. Newest first; keyset paging with `before`. Never shows a match from an "
        "incident or alert you may not read, nor from a redacted message. 422 naming the "
        "field for a bad `q`, `limit` or `before`."
    ),
    openapi_extra=refuses_valid(
        "a `before` cursor that this search did not hand out",
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
