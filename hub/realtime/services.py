"""Socket writes: the same services as REST, answered with an ``ack`` frame."""

from __future__ import annotations

from uuid import UUID

from hub.accounts.models import User
from hub.alerts.services import alert_acknowledge
from hub.errors import InvalidInput
from hub.events.streams import parse_stream_name
from hub.incidents.services import message_post
from hub.realtime.protocol import Ack


def message_send_from_socket(*, actor: User, stream: str, body: str, client_msg_id: UUID) -> Ack:
    kind, key = parse_stream_name(stream)
    if kind.kind != "incident":
        raise InvalidInput("Messages are posted on incident streams.", code="invalid_frame")
    result = message_post(actor=actor, ref=key, body=body, client_msg_id=client_msg_id)
    return Ack(type="ack", client_msg_id=client_msg_id, stream=result.stream, seq=result.seq)


def alert_ack_from_socket(
    *, actor: User, alert_id: int, client_msg_id: UUID, agency: str | None = None
) -> Ack:
    result = alert_acknowledge(
        actor=actor, alert_id=alert_id, client_msg_id=client_msg_id, agency=agency
    )
    return Ack(type="ack", client_msg_id=client_msg_id, stream=result.stream, seq=result.seq)
