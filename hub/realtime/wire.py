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

Slow readers: Twisted buffers whatever the kernel does not take, without limit.
``send_buffer_probe`` reads how many bytes wait in a socket's Twisted buffer
(``len(dataBuffer) - offset + _tempDataLen`` of its ``FileDescriptor``, under a
TLS wrapper if any), so the consumer can close a socket that falls too far
behind (4508) instead of holding its backlog in memory. ``close_frame_sender``
sends close codes that autobahn's ``sendClose`` refuses (1009, 1011).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

DirectWrite = Callable[[bytes], bool]
BufferProbe = Callable[[], int]
CloseFrameSender = Callable[[int, str], bool]


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


def direct_writer(
    server_send: Any,
    *,
    max_buffer: int | None = None,
    on_overflow: Callable[[], None] | None = None,
) -> DirectWrite | None:
    """A writer for this socket if ``server_send`` is Daphne's, else None.

    Daphne hands each application ``functools.partial(server.handle_reply,
    protocol)``; the protocol is autobahn's, whose transport is Twisted's.
    When a write leaves more than ``max_buffer`` bytes in Twisted's buffer,
    ``on_overflow`` is called (the frame is queued all the same).
    """
    if not isinstance(server_send, functools.partial) or not server_send.args:
        return None
    protocol = server_send.args[0]
    needed = ("transport", "state", "send_queue", "send_state", "STATE_OPEN", "SEND_STATE_GROUND")
    if not all(hasattr(protocol, name) for name in needed):
        return None
    state_open = protocol.STATE_OPEN
    ground = protocol.SEND_STATE_GROUND

    def queued(transport: Any) -> None:
        # Only checked when bytes went to Twisted's buffer: the fast path that
        # hands everything to the kernel costs nothing extra.
        if max_buffer is not None and on_overflow is not None:
            size = _buffered(transport)
            if size is not None and size > max_buffer:
                on_overflow()

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
                queued(transport)
            return True
        transport.write(frame)
        queued(transport)
        return True

    return write


def _daphne_protocol(server_send: Any) -> Any | None:
    if not isinstance(server_send, functools.partial) or not server_send.args:
        return None
    protocol = server_send.args[0]
    return protocol if hasattr(protocol, "transport") and hasattr(protocol, "state") else None


def _buffered(transport: Any) -> int | None:
    """Bytes waiting in a Twisted ``FileDescriptor``'s write buffer (None: not one)."""
    for _ in range(3):  # the TCP transport, possibly under a TLS wrapper
        try:
            return int(len(transport.dataBuffer) - transport.offset + transport._tempDataLen)
        except (AttributeError, TypeError):
            transport = getattr(transport, "transport", None)
            if transport is None:
                return None
    return None


def send_buffer_probe(server_send: Any) -> BufferProbe | None:
    """A function returning the bytes Twisted holds for this socket, if the server is Daphne.

    Daphne writes synchronously (autobahn frames the message and calls the
    transport's ``write``), so after any send this is the socket's whole
    server-side backlog, the kernel's buffer aside.
    """
    protocol = _daphne_protocol(server_send)
    if protocol is None or _buffered(protocol.transport) is None:
        return None

    def probe() -> int:
        transport = protocol.transport
        if transport is None:
            return 0
        return _buffered(transport) or 0

    return probe


def close_frame_sender(server_send: Any) -> CloseFrameSender | None:
    """Send a close frame with any code (Daphne only).

    autobahn's ``sendClose`` (which Daphne's ASGI close uses) accepts only 1000
    and 3000-4999; 1009 and 1011 are valid on the wire and documented here, and
    ``sendCloseFrame`` is what Daphne itself uses for 1011. Returns False when
    the socket is not open (nothing sent).
    """
    protocol = _daphne_protocol(server_send)
    if protocol is None or not hasattr(protocol, "sendCloseFrame"):
        return None

    def send(code: int, reason: str) -> bool:
        if protocol.state != getattr(protocol, "STATE_OPEN", None):
            return False
        protocol.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8")[:120], isReply=False)
        return True

    return send


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
