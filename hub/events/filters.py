"""Filters on one stream's events, shared by the timeline endpoint, the incident
review and the exports: kind groups, the actor's agency, the actor, a time range
and free text. One definition, so an export holds exactly the rows the review
showed, and records the filters it was made with (``EventFilter.as_record``).

Every filter narrows a queryset of ``Event`` rows of one stream; paging stays a
keyset on ``seq`` (``hub.events.selectors``), never an OFFSET.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet

from hub.accounts.models import User
from hub.agencies.models import Agency
from hub.errors import InvalidInput
from hub.events.models import Event
from hub.events.types import EVENT_TYPES

# The review's chips. Each event kind is in exactly one group (tests/unit checks
# that every registered kind is); "other" holds kinds no incident stream carries.
GROUP_KINDS: dict[str, tuple[str, ...]] = {
    "messages": ("message.posted", "attachment.added"),
    "status": (
        "incident.reported",
        "incident.updated",
        "incident.transitioned",
        "incident.lead_changed",
    ),
    "agencies": ("incident.agency_invited",),
    "alerts": (
        "alert.issued",
        "alert.updated",
        "alert.cancelled",
        "alert.acknowledged",
        "alert.escalated",
        "alert.expired",
    ),
    "operations": (
        "operation.started",
        "operation.closed",
        "operation.progress",
        "task.added",
        "task.removed",
        "task.assigned",
        "task.status_changed",
        "task.noted",
        "task.cosigned",
        "task.overdue",
    ),
    "sitreps": ("sitrep.posted", "sitrep.cadence_set", "sitrep.overdue"),
    "edits": ("message.edited", "message.redacted", "attachment.withdrawn"),
    "other": ("template.published", "attachment.original_downloaded"),
}
GROUPS: tuple[str, ...] = tuple(GROUP_KINDS)
MAX_Q = 200


def group_of(kind: str) -> str:
    for group, kinds in GROUP_KINDS.items():
        if kind in kinds:
            return group
    return "other"


def kinds_of(groups: Iterable[str]) -> list[str]:
    return sorted({kind for g in groups for kind in GROUP_KINDS[g]})


@dataclass(frozen=True)
class EventFilter:
    """What a reviewer narrowed a timeline to. Empty: every event."""

    groups: frozenset[str] = frozenset()  # empty: every group
    agency: str | None = None  # the actor's agency code
    actor: str | None = None  # the actor's username
    start: datetime | None = None  # at >= start
    end: datetime | None = None  # at < end
    q: str = ""  # case-insensitive text in the event's payload
    automatic: bool = True  # include entries with no officer behind them

    @classmethod
    def parse(
        cls,
        *,
        groups: str | Iterable[str] | None = None,
        agency: str | None = None,
        actor: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        q: str | None = None,
        automatic: bool = True,
    ) -> EventFilter:
        """Validate raw values; InvalidInput (``invalid_filter``) names the field that is
        wrong by its query parameter (``group``, ``from``, ``to``, ``q``) as the detail's
        first word: ``"to: must be after from."``."""
        if isinstance(groups, str):
            names = [g.strip() for g in groups.split(",") if g.strip()]
        else:
            names = [g.strip() for g in groups or () if g.strip()]
        unknown = sorted(set(names) - set(GROUPS))
        if unknown:
            raise InvalidInput(
                f"group: unknown {', '.join(unknown)}; one or more of {', '.join(GROUPS)}.",
                code="invalid_filter",
            )
        for field, value in (("from", start), ("to", end)):
            if value is None:
                continue
            if value.tzinfo is None or value.utcoffset() is None:
                raise InvalidInput(
                    f"{field}: give a time with its UTC offset.", code="invalid_filter"
                )
            try:
                value.astimezone(UTC)
            except (OverflowError, ValueError):
                raise InvalidInput(
                    f"{field}: is outside the range of times the hub stores.",
                    code="invalid_filter",
                ) from None
        if start is not None and end is not None and end <= start:
            raise InvalidInput("to: must be after from.", code="invalid_filter")
        for field, raw in (("q", q), ("agency", agency), ("actor", actor)):
            # PostgreSQL refuses NUL in text; no code, username or search has one.
            if raw is not None and any(ord(c) < 32 and c not in "\t" for c in raw):
                raise InvalidInput(
                    f"{field}: control characters are not allowed.", code="invalid_filter"
                )
        text = (q or "").strip()
        if len(text) > MAX_Q:
            raise InvalidInput(f"q: at most {MAX_Q} characters.", code="invalid_filter")
        return cls(
            groups=frozenset(names),
            agency=(agency or "").strip() or None,
            actor=(actor or "").strip() or None,
            start=start,
            end=end,
            q=text,
            automatic=automatic,
        )

    @property
    def active(self) -> int:
        """How many filters narrow the view (the review's badge)."""
        return sum(
            (
                bool(self.groups),
                self.agency is not None,
                self.actor is not None,
                self.start is not None or self.end is not None,
                bool(self.q),
                not self.automatic,
            )
        )

    def narrow(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        """The events of ``qs`` this filter keeps (text: see ``_text_match``).

        The agency and the officer are looked up first (one small query each) and
        compared by id: the page query then stays on the events table alone, so the
        planner can walk the ``(stream, seq)`` index in order and stop at the page's
        ``LIMIT`` (a join on the agency's code or the username made PostgreSQL sort
        every matching row of the stream instead). An unknown code or username
        keeps nothing.
        """
        if self.groups:
            qs = qs.filter(kind__in=kinds_of(self.groups))
        if self.agency is not None:
            agency_id = Agency.objects.filter(code=self.agency).values_list("pk", flat=True).first()
            if agency_id is None:
                return qs.none()
            qs = qs.filter(actor_agency_id=agency_id)
        if self.actor is not None:
            user_id = User.objects.filter(username=self.actor).values_list("pk", flat=True).first()
            if user_id is None:
                return qs.none()
            qs = qs.filter(actor_id=user_id)
        if self.start is not None:
            qs = qs.filter(at__gte=self.start)
        if self.end is not None:
            qs = qs.filter(at__lt=self.end)
        if not self.automatic:
            qs = qs.filter(actor__isnull=False)
        if self.q:
            qs = qs.filter(_text_match(self.q))
        return qs

    def as_record(self) -> dict[str, Any]:
        """The filters as an export records them (JSON-ready; empty ones left out)."""
        out: dict[str, Any] = {}
        if self.groups:
            out["group"] = sorted(self.groups)
        if self.agency is not None:
            out["agency"] = self.agency
        if self.actor is not None:
            out["actor"] = self.actor
        if self.start is not None:
            out["from"] = self.start.isoformat()
        if self.end is not None:
            out["to"] = self.end.isoformat()
        if self.q:
            out["q"] = self.q
        if not self.automatic:
            out["automatic"] = False
        return out


def _text_match(q: str) -> Q:
    """Events whose readable text contains ``q`` (case-insensitive).

    Searches the payload fields people write (a message's body, a title, a
    description, a note, a reason, a situation report's text), never a redacted
    message: its ``message.posted`` and ``message.edited`` events do not match,
    whoever asks (the redaction hides the text from every reader of the stream).
    A message is redacted when the record holds its ``message.redacted`` event
    (message ids are unique across streams), so this app reads no domain table.
    """
    fields = (
        "body",
        "title",
        "description",
        "note",
        "reason",
        "situation",
        "actions_taken",
        "next_steps",
    )
    match = Q()
    for field in fields:
        match |= Q(**{f"payload__{field}__icontains": q})
    redacted = Event.objects.filter(kind="message.redacted").values("payload__message_id")
    hidden = Q(kind__in=("message.posted", "message.edited")) & Q(payload__message_id__in=redacted)
    return match & ~hidden


def known_kinds() -> set[str]:
    return set(EVENT_TYPES)
