"""Reads for the live layer: encoded event frames from the record.

Replays and gap fills read the same rows as the REST timeline, through the
stream kind's presenter (redacted text stays hidden), and encode each event
frame exactly as ``emit`` published it.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY

from hub.accounts.models import User
from hub.agencies.access import Access
from hub.agencies.selectors import access_for
from hub.events.pipeline import encode_event_frame
from hub.events.selectors import envelopes_for, events_after, stream_head
from hub.events.streams import can_read_stream, require_readable_stream
from hub.realtime.protocol import REPLAY_PAGE, PendingAlert, PendingAlerts

Frames = list[tuple[int, str]]


def frames_between(stream: str, *, after: int, upto: int | None = None) -> Frames:
    """Encoded frames of events with after < seq <= upto (one page at most)."""
    events = events_after(stream, after=after, limit=REPLAY_PAGE, until=upto)
    envelopes = envelopes_for(events, present_stream=stream)
    return [(env.seq, encode_event_frame(env)) for env in envelopes]


def subscription_head(access: Access, stream: str) -> int:
    """The stream's head, if the caller may read it (NotFound otherwise)."""
    require_readable_stream(access, stream)
    return stream_head(stream)


def replay_page(access: Access, stream: str, *, after: int) -> Frames:
    """One page of replay, re-checking that the caller may still read the stream."""
    require_readable_stream(access, stream)
    return frames_between(stream, after=after)


def session_is_signed_in(session_key: str, user_id: int) -> bool:
    """True while the session exists, has not expired, and belongs to the user."""
    engine = import_module(settings.SESSION_ENGINE)
    data = engine.SessionStore(session_key).load()
    return bool(data.get(SESSION_KEY) == str(user_id))


def connection_recheck(
    *, user_id: int, session_key: str | None, token_id: int | None, streams: list[str]
) -> tuple[bool, Access | None, list[str]]:
    """After an access change: (still signed in?, fresh access, streams now unreadable)."""
    from hub.accounts.models import ApiToken

    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return False, None, streams
    if token_id is not None:
        token = ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).first()
        if token is None:
            return False, None, streams
    elif session_key is not None and not session_is_signed_in(session_key, user_id):
        return False, None, streams
    access = access_for(user)
    revoked = [s for s in streams if not can_read_stream(access, s)]
    return True, access, revoked


def pending_alerts_frame(access: Access, crossing_point: str | None = None) -> PendingAlerts:
    """The alerts the caller's agencies still owe an acknowledgement (all points, or one)."""
    from django.utils import timezone

    from hub.agencies.models import CrossingPoint
    from hub.alerts.selectors import pending_alerts_for

    points = None
    if crossing_point is not None:
        points = set(CrossingPoint.objects.filter(code=crossing_point).values_list("pk", flat=True))
    now = timezone.now()
    mine = {g.agency_id for g in access.grants}
    items = []
    for alert in pending_alerts_for(access, points):
        owed = [
            t for t in alert.target_rows.all() if t.agency_id in mine and t.acknowledged_at is None
        ]
        due = min((t.due_at for t in owed if t.due_at is not None), default=None)
        items.append(
            PendingAlert(
                id=alert.pk,
                crossing_point=alert.crossing_point.code,
                title=alert.title,
                severity=alert.severity,
                exercise=alert.is_exercise,
                due_at=due,
                overdue=due is not None and due <= now,
                agencies=sorted(t.agency.code for t in owed),
                stream=f"crossing:{alert.crossing_point.code}",
            )
        )
    return PendingAlerts(type="pending_alerts", crossing_point=crossing_point, alerts=items)
