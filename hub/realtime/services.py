"""Socket writes: the same services as REST, answered with an ``ack`` frame."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from hub.accounts.models import User
from hub.alerts.services import alert_acknowledge
from hub.errors import InvalidInput
from hub.events.reads import ReadResult, stream_mark_read
from hub.events.streams import parse_stream_name
from hub.incidents.services import message_post
from hub.realtime.protocol import Ack
from hub.realtime.selectors import signed_in_user


def as_signed_in(
    write: Callable[..., Ack],
    *,
    user_id: int,
    session_key: str | None,
    token_id: int | None,
    **kwargs: Any,
) -> tuple[User, Ack] | None:
    """A write frame's sign-in check and the write itself, in one database call.

    Every frame is checked against the sign-in state (``signed_in_user``); for a
    write the check and the write share one thread hop and one pooled connection
    instead of two. None when the socket's user is signed out: nothing is written.
    """
    user = signed_in_user(user_id=user_id, session_key=session_key, token_id=token_id)
    if user is None:
        return None
    return user, write(actor=user, **kwargs)


def message_send_from_socket(
    *,
    actor: User,
    stream: str,
    body: str,
    client_msg_id: UUID,
    attachments: Sequence[int] = (),
) -> Ack:
    """``attachments``: ids of the incident's evidence files (checked by the service:
    ``attachment_unknown`` / ``attachment_withdrawn`` come back as ``error`` frames)."""
    kind, key = parse_stream_name(stream)
    if kind.kind != "incident":
        raise InvalidInput("Messages are posted on incident streams.", code="invalid_frame")
    result = message_post(
        actor=actor,
        ref=key,
        body=body,
        client_msg_id=client_msg_id,
        attachments=list(attachments),
    )
    return Ack(type="ack", client_msg_id=client_msg_id, stream=result.stream, seq=result.seq)


def alert_ack_from_socket(
    *, actor: User, alert_id: int, client_msg_id: UUID, agency: str | None = None
) -> Ack:
    result = alert_acknowledge(
        actor=actor, alert_id=alert_id, client_msg_id=client_msg_id, agency=agency
    )
    return Ack(type="ack", client_msg_id=client_msg_id, stream=result.stream, seq=result.seq)


def read_mark_from_socket(*, actor: User, stream: str, seq: int) -> ReadResult:
    """A ``read`` frame, written at once (the frame's sign-in check has just passed)."""
    return stream_mark_read(actor=actor, stream=stream, seq=seq)


def read_mark_deferred(
    *, user_id: int, session_key: str | None, token_id: int | None, stream: str, seq: int
) -> ReadResult | None:
    """A ``read`` position held back by the rate limit, written when its window ends
    (or the socket closes): only while the socket's user is still signed in."""
    user = signed_in_user(user_id=user_id, session_key=session_key, token_id=token_id)
    if user is None:
        return None
    return stream_mark_read(actor=user, stream=stream, seq=seq)
