"""Search the record: text over incident titles and descriptions and the current
text of messages, over the incidents the caller may read.

Readable incidents are exactly ``selectors.visibility_filter`` (the Q of
``can_read_incident``); a redacted message never matches (not even for its
author), an edited one matches on its current body only (``Message.body`` is the
current version). Matching is a case-insensitive substring (``icontains``), the
same on SQLite and PostgreSQL. Newest first; keyset paging by (time, kind, id),
never OFFSET. Reads only; logs nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db.models import Q

from hub.agencies.access import Access
from hub.incidents.models import Incident, Message
from hub.incidents.selectors import visibility_filter

MAX_LIMIT = 50
SNIPPET_CHARS = 160

Kind = Literal["message", "incident"]
# Within one instant, messages sort before incidents (newest first, ties by rank then id).
_RANK: dict[str, int] = {"message": 1, "incident": 0}


class BadCursor(ValueError):
    """A cursor this module did not make."""


@dataclass(frozen=True)
class Cursor:
    at: datetime
    rank: int
    id: int

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.rank}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, rank, ident = raw.split("|")
            parsed = datetime.fromisoformat(at)
            if parsed.tzinfo is None or int(rank) not in (0, 1):
                raise ValueError(raw)
            return Cursor(parsed, int(rank), int(ident))
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise BadCursor(text) from exc


@dataclass(frozen=True)
class SearchActor:
    name: str
    agency: str


@dataclass(frozen=True)
class SearchHit:
    incident: str
    incident_title: str
    crossing_point: str
    timezone: str
    kind: Kind
    seq: int
    at: datetime
    actor: SearchActor
    snippet: str
    match: tuple[int, int]
    id: int

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, _RANK[self.kind], self.id)


@dataclass(frozen=True)
class SearchPage:
    items: list[SearchHit]
    next_cursor: str | None


def snippet(text: str, q: str, width: int = SNIPPET_CHARS) -> tuple[str, tuple[int, int]]:
    """Up to ``width`` characters of ``text`` around the first case-insensitive
    match of ``q``, and the match's [start, end) within the snippet ((0, 0): none)."""
    flat = text
    found = re.search(re.escape(q), flat, re.IGNORECASE)
    if found is None:
        return flat[:width], (0, 0)
    start, end = found.span()
    size = end - start
    if size >= width:
        return flat[start : start + width], (0, width)
    before = (width - size) // 2
    lo = max(0, start - before)
    hi = min(len(flat), lo + width)
    lo = max(0, hi - width)
    return flat[lo:hi], (start - lo, end - lo)


def _after(cursor: Cursor | None, kind: Kind, at_field: str) -> Q:
    if cursor is None:
        return Q()
    rank = _RANK[kind]
    older = Q(**{f"{at_field}__lt": cursor.at})
    if rank < cursor.rank:
        return older | Q(**{at_field: cursor.at})
    if rank == cursor.rank:
        return older | Q(**{at_field: cursor.at, "id__lt": cursor.id})
    return older


def search_record(
    access: Access,
    q: str,
    *,
    crossing_point: str | None = None,
    limit: int = 20,
    before: Cursor | None = None,
) -> SearchPage:
    """One page of hits, newest first, over the incidents ``access`` may read."""
    limit = max(1, min(limit, MAX_LIMIT))
    readable = Incident.objects.filter(visibility_filter(access))
    if crossing_point:
        readable = readable.filter(crossing_point__code=crossing_point)

    messages = (
        Message.objects.filter(
            incident__in=readable.values("pk"), redacted_at__isnull=True, body__icontains=q
        )
        .filter(_after(before, "message", "created_at"))
        .select_related("incident__crossing_point", "author", "agency")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    incidents = (
        readable.filter(Q(title__icontains=q) | Q(description__icontains=q))
        .filter(_after(before, "incident", "created_at"))
        .select_related("crossing_point", "reported_by", "reporting_agency")
        .order_by("-created_at", "-id")[: limit + 1]
    )

    hits: list[SearchHit] = []
    for m in messages:
        text, span = snippet(m.body, q)
        hits.append(
            SearchHit(
                incident=m.incident.ref,
                incident_title=m.incident.title,
                crossing_point=m.incident.crossing_point.code,
                timezone=m.incident.crossing_point.timezone,
                kind="message",
                seq=m.seq,
                at=m.created_at,
                actor=SearchActor(name=m.author.display_name, agency=m.agency.code),
                snippet=text,
                match=span,
                id=m.pk,
            )
        )
    for inc in incidents:
        source = inc.title if re.search(re.escape(q), inc.title, re.IGNORECASE) else inc.description
        text, span = snippet(source, q)
        hits.append(
            SearchHit(
                incident=inc.ref,
                incident_title=inc.title,
                crossing_point=inc.crossing_point.code,
                timezone=inc.crossing_point.timezone,
                kind="incident",
                seq=1,
                at=inc.created_at,
                actor=SearchActor(
                    name=inc.reported_by.display_name, agency=inc.reporting_agency.code
                ),
                snippet=text,
                match=span,
                id=inc.pk,
            )
        )
    hits.sort(key=lambda h: (h.at, _RANK[h.kind], h.id), reverse=True)
    page = hits[:limit]
    more = len(hits) > limit
    return SearchPage(items=page, next_cursor=page[-1].cursor.encode() if more else None)
