"""Control messages to every worker: "this user's access changed".

Published after commit on ``<prefix>:control``. The realtime layer listens and,
within seconds, closes or re-authorises that user's sockets. Domain services
(logout, token revocation, membership or user changes) call
``access_changed``; incident visibility changes call ``stream_access_changed``
(for ``incident:<REF>``, workers also re-check ``operation:`` subscriptions,
whose readers derive from their incident's). The only other messages on this
channel are mention notices (``hub.events.notices``).

Like every bus message these are at most once: a publish that fails is logged
and dropped (``hub.events.bus``). They are the fast path, not the only one:
the live layer re-reads sign-in state on every client frame and re-checks all
its sockets every ``HUB_WS_RECHECK_INTERVAL`` seconds, so a lost message costs
seconds, never access.
"""

from __future__ import annotations

import json
from functools import partial

from django.db import transaction

from hub.events.bus import control_channel, get_bus


def _publish(message: str) -> None:
    get_bus().publish(control_channel(), message)


def access_changed(
    *,
    user_id: int,
    reason: str,
    session_key: str | None = None,
    token_id: int | None = None,
    close_all: bool = False,
) -> None:
    """Tell every worker to re-check ``user_id``'s sockets (after commit, if in one).

    ``session_key``/``token_id`` narrow a logout or revocation to the sockets
    that authenticated with it; ``close_all`` closes every socket of the user.
    """
    message = json.dumps(
        {
            "type": "access_changed",
            "user_id": user_id,
            "reason": reason,
            "session_key": session_key,
            "token_id": token_id,
            "close_all": close_all,
        }
    )
    transaction.on_commit(partial(_publish, message), robust=True)


def stream_access_changed(*, stream: str, reason: str) -> None:
    """Tell every worker to re-check who may stay subscribed to ``stream``."""
    message = json.dumps({"type": "stream_access_changed", "stream": stream, "reason": reason})
    transaction.on_commit(partial(_publish, message), robust=True)
