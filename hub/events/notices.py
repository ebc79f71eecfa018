"""Notices: small per-user pushes about an incident, published after commit.

Two kinds, both published on the hub's bus (Redis pub/sub, or in-process
without ``REDIS_URL``) by the services that make the change, each carrying its
``notice`` frame (``hub.realtime.protocol``), which the live layer validates and
delivers (``hub.realtime.hub``):

- ``incident_notice``: an incident at a crossing point was reported, invited an
  agency, changed visibility or lead, moved status, or its situation reports changed
  (a report, the cadence, a reminder: the board's "reports due"). Published on the
  ``crossing:<CODE>`` stream's channel behind an ``N`` header, so only workers
  with subscribers of that crossing point hear it; each worker sends it to those
  of its ``crossing:<CODE>`` subscribers whose user can read the incident *now*
  (read from the database after the commit), and to nobody else.
- ``mention_notice``: a message mentions officers, or a situation report asks their
  agency for something (its "needs"). Published on the control
  channel (every worker), naming the recipients' user ids; each worker sends it
  to every local socket of those users who can still read the incident.

Notices carry no state: a client that gets one fetches the incident (or the
stream) over REST. Like every bus message they are at most once; the record
stays the truth. Domain services call these functions inside their transaction
(outside one, the notice is published at once); nothing else publishes notices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial

from django.db import transaction

from hub.events.bus import control_channel, get_bus, stream_channel, stream_message

NOTICE_HEADER = "N"  # a stream channel's header for an incident notice
MENTION_NOTICE = "mention_notice"  # the control message type of a mention notice


def _publish(channel: str, message: str) -> None:
    get_bus().publish(channel, message)


def incident_notice(*, crossing_point: str, ref: str, seq: int) -> None:
    """After commit: tell the readers of ``incident:<ref>`` watching ``crossing:<CODE>``
    that the incident changed (as of event ``seq``)."""
    notice = {
        "type": "notice",
        "kind": "incident",
        "crossing_point": crossing_point,
        "ref": ref,
        "stream": f"incident:{ref}",
        "seq": seq,
    }
    message = stream_message(NOTICE_HEADER, json.dumps(notice, separators=(",", ":")))
    transaction.on_commit(
        partial(_publish, stream_channel(f"crossing:{crossing_point}"), message), robust=True
    )


def mention_notice(
    *,
    recipients: Iterable[int],
    crossing_point: str,
    ref: str,
    seq: int,
    by_user: str,
    by_name: str,
    by_agency: str | None,
    excerpt: str,
    stream: str | None = None,
) -> None:
    """After commit: tell ``recipients`` (user ids) that event ``seq`` of ``stream``
    (``incident:<ref>`` unless named: a situation report's needs on an operation go
    out on ``operation:<ref>``) mentions them (or an agency of theirs)."""
    users = sorted(set(recipients))
    if not users:
        return
    message = json.dumps(
        {
            "type": MENTION_NOTICE,
            "recipients": users,
            "notice": {
                "type": "notice",
                "kind": "mention",
                "crossing_point": crossing_point,
                "ref": ref,
                "stream": stream or f"incident:{ref}",
                "seq": seq,
                "by": {"user": by_user, "name": by_name, "agency": by_agency},
                "excerpt": excerpt,
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    transaction.on_commit(partial(_publish, control_channel(), message), robust=True)
