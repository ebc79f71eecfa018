"""Search the record: full text over incident titles and descriptions, the
current text of messages and alert titles and bodies, over what the caller may
read.

Readable incidents are exactly ``selectors.visibility_filter`` (the Q of
``can_read_incident``); readable alerts are those of the crossing points whose
alerts the caller reads (``hub.alerts.selectors.alert_readable_point_ids``, the
rule of ``alert_for``). A redacted message never matches (not even for its
author), an edited one matches on its current body only (``Message.body`` is the
current version). What "matches" means, and how, is ``hub.incidents.fulltext``
(PostgreSQL full-text search or SQLite FTS5, the same semantics). Newest first;
keyset paging by (time, kind rank, id), never OFFSET. Reads only; logs nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db.models import Q

from hub.agencies.access import Access
from hub.alerts.models import Alert
from hub.alerts.selectors import alert_readable_point_ids
from hub.incidents.fulltext import matches, terms
from hub.incidents.models import Incident, Message
from hub.incidents.selectors import visibility_filter

MAX_LIMIT = 50
SNIPPET_CHARS = 160

Kind = Literal["message", "incident", "alert"]
# Within one instant: alerts, then messages, then incidents (newest first, then by id).
_RANK: dict[str, int] = {"alert": 2, "message": 1, "incident": 0}


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
            if (
                parsed.tzinfo is None
                or int(rank) not in _RANK.values()
                or not 0 < int(ident) < 2**63
            ):
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
    kind: Kind
    incident: str | None
    incident_title: str | None
    alert_id: int | None
    alert_title: str | None
    crossing_point: str
    timezone: str
    seq: int | None
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


def _word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LNM" or category == "Co"


def first_match(text: str, q: str) -> tuple[int, int] | None:
    """[start, end) of the first occurrence in ``text`` of one of ``q``'s terms,
    ignoring case: preferably at the start of a word (what full text matched),
    else anywhere; None when there is none."""
    best: tuple[int, int] | None = None
    anywhere: tuple[int, int] | None = None
    for term in terms(q):
        for found in re.finditer(re.escape(term), text, re.IGNORECASE):
            start, end = found.span()
            span = (start, end)
            if anywhere is None or (start, -end) < (anywhere[0], -anywhere[1]):
                anywhere = span
            if start == 0 or not _word_char(text[start - 1]):
                if best is None or (start, -end) < (best[0], -best[1]):
                    best = span
                break
    return best or anywhere


def snippet(text: str, q: str, width: int = SNIPPET_CHARS) -> tuple[str, tuple[int, int]]:
    """Up to ``width`` characters of ``text`` around the first match of a term of
    ``q`` (``first_match``), and the match's [start, end) within the snippet
    ((0, 0): none)."""
    flat = text
    found = first_match(flat, q)
    if found is None:
        return flat[:width], (0, 0)
    start, end = found
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
    """One page of hits, newest first, over the incidents and alerts ``access`` may read."""
    limit = max(1, min(limit, MAX_LIMIT))
    readable = Incident.objects.filter(visibility_filter(access))
    alerts = Alert.objects.filter(crossing_point_id__in=alert_readable_point_ids(access))
    if crossing_point:
        readable = readable.filter(crossing_point__code=crossing_point)
        alerts = alerts.filter(crossing_point__code=crossing_point)

    messages = (
        Message.objects.filter(incident__in=readable.values("pk"), redacted_at__isnull=True)
        .filter(matches("message", q))
        .filter(_after(before, "message", "created_at"))
        .select_related("incident__crossing_point", "author", "agency")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    incidents = (
        readable.filter(matches("incident", q))
        .filter(_after(before, "incident", "created_at"))
        .select_related("crossing_point", "reported_by", "reporting_agency")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    alert_rows = (
        alerts.filter(matches("alert", q))
        .filter(_after(before, "alert", "created_at"))
        .select_related("crossing_point", "issued_by", "issuing_agency", "incident")
        .order_by("-created_at", "-id")[: limit + 1]
    )

    hits: list[SearchHit] = []
    for m in messages:
        text, span = snippet(m.body, q)
        hits.append(
            SearchHit(
                kind="message",
                incident=m.incident.ref,
                incident_title=m.incident.title,
                alert_id=None,
                alert_title=None,
                crossing_point=m.incident.crossing_point.code,
                timezone=m.incident.crossing_point.timezone,
                seq=m.seq,
                at=m.created_at,
                actor=SearchActor(name=m.author.display_name, agency=m.agency.code),
                snippet=text,
                match=span,
                id=m.pk,
            )
        )
    for inc in incidents:
        source = inc.title if first_match(inc.title, q) else inc.description
        text, span = snippet(source, q)
        hits.append(
            SearchHit(
                kind="incident",
                incident=inc.ref,
                incident_title=inc.title,
                alert_id=None,
                alert_title=None,
                crossing_point=inc.crossing_point.code,
                timezone=inc.crossing_point.timezone,
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
    for alert in alert_rows:
        source = alert.title if first_match(alert.title, q) or not alert.body else alert.body
        text, span = snippet(source, q)
        hits.append(
            SearchHit(
                kind="alert",
                # The alert's linked incident, as the alert itself shows it to its readers.
                incident=alert.incident.ref if alert.incident is not None else None,
                incident_title=None,
                alert_id=alert.pk,
                alert_title=alert.title,
                crossing_point=alert.crossing_point.code,
                timezone=alert.crossing_point.timezone,
                seq=None,
                at=alert.created_at,
                actor=SearchActor(
                    name=alert.issued_by.display_name, agency=alert.issuing_agency.code
                ),
                snippet=text,
                match=span,
                id=alert.pk,
            )
        )
    hits.sort(key=lambda h: (h.at, _RANK[h.kind], h.id), reverse=True)
    page = hits[:limit]
    more = len(hits) > limit
    return SearchPage(items=page, next_cursor=page[-1].cursor.encode() if more else None)
