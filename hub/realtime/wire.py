"""Writing one pre-built WebSocket frame to many sockets.

A server-to-client WebSocket frame is not masked, so the same bytes are valid
for every socket. The hub builds each event's frame once (header + UTF-8
payload) and, when the socket is served by Daphne, writes those bytes straight
to its transport: no per-socket JSON, no per-socket UTF-8 encoding, no framing,
no coroutine. When nothing is pending in Twisted's buffer for a plain TCP
socket, the bytes go to the kernel at once (as asyncio's transports do), instead
of waiting a loop turn and two epoll changes per socket; the unsent rest, if
any, goes through Twisted's buffer, so order holds. Anything else (another
server, TLS, a socket that is closing, data queued inside autobahn) falls back
to the ASGI ``send``, so correctness never depends on the shortcut.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

DirectWrite = Callable[[bytes], bool]


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame (RFC 6455 §5.2) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def direct_writer(server_send: Any) -> DirectWrite | None:
    """A writer for this socket if ``server_send`` is Daphne's, else None.

    Daphne hands each application ``functools.partial(server.handle_reply,
    protocol)``; the protocol is autobahn's, whose transport is Twisted's.
    """
    if not isinstance(server_send, functools.partial) or not server_send.args:
        return None
    protocol = server_send.args[0]
    needed = ("transport", "state", "send_queue", "send_state", "STATE_OPEN", "SEND_STATE_GROUND")
    if not all(hasattr(protocol, name) for name in needed):
        return None
    state_open = protocol.STATE_OPEN
    ground = protocol.SEND_STATE_GROUND

    def write(frame: bytes) -> bool:
        # Only when autobahn has nothing of its own queued or half-sent, so
        # frames stay whole and in order; otherwise the caller uses ASGI send.
        if protocol.state != state_open or protocol.send_queue or protocol.send_state != ground:
            return False
        transport = protocol.transport
        if _idle_plain_tcp(transport):
            try:
                sent = transport.socket.send(frame)
            except BlockingIOError:
                sent = 0
            except OSError:
                return False  # the connection is going; Twisted will notice
            if sent < len(frame):
                transport.write(frame[sent:])
            return True
        transport.write(frame)
        return True

    return write


def _idle_plain_tcp(transport: Any) -> bool:
    """A Twisted TCP transport, without TLS, with nothing buffered to send."""
    try:
        return (
            transport.TLS is False
            and transport.connected
            and not transport.disconnecting
            and not transport._writeDisconnected
            and not transport._tempDataBuffer
            and transport.offset >= len(transport.dataBuffer)
            and transport.socket is not None
        )
    except AttributeError:  # not the Twisted we know: take the safe path
        return False


class KeepServerSend:
    """Outermost ASGI wrapper: remember the server's own ``send`` in the scope
    (Channels' session middleware wraps the one the consumer receives)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await self.app({**scope, "hub.server_send": send}, receive, send)
