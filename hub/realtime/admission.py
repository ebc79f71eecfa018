"""Admission of new sockets: a worker sets up at most ``HUB_WS_MAX_SETUPS`` at once.

Setting a socket up costs database work (sign-in, grants, pending alerts, then the
first subscription's authorization and replay). After a Redis or PostgreSQL restart,
or a worker's death, every client reconnects at once. Without a bound, each worker
queued hundreds of set-ups on its eight database threads; a client whose handshake
waited longer than its open timeout gave up and tried again while the worker still
did the abandoned socket's work, so the storm fed itself (the 1,000-socket soak: 2,700
sockets never caught up after a Redis restart).

With the gate, a socket beyond the bound is accepted and closed at once with 4013
(1013, Try Again Later, in the application range: Daphne's autobahn refuses to send
1013 and fails the socket with 1011 instead) before any database work; its client
backs off with jitter and comes back. A slot is held from the handshake until the
socket's first ``caught_up`` (the consumer releases it), its end, or ``SLOT_HOLD``
seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings

from hub.realtime.protocol import CloseCode

SLOT_HOLD = 15.0  # seconds a socket may hold its set-up slot (one that never subscribes)


class SetupSlot:
    """One socket's place in the gate; ``release`` is idempotent."""

    def __init__(self, gate: SetupGate) -> None:
        self._gate = gate
        self.released = False
        self._timer = asyncio.get_running_loop().call_later(SLOT_HOLD, self.release)

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self._timer.cancel()
        self._gate.busy -= 1


class SetupGate:
    """Counts the sockets being set up in this process (one event loop per worker)."""

    def __init__(self) -> None:
        self.busy = 0
        self.refused = 0

    def enter(self, limit: int) -> SetupSlot | None:
        if self.busy >= limit:
            self.refused += 1
            return None
        self.busy += 1
        return SetupSlot(self)


GATE = SetupGate()


def release_setup(scope: dict[str, Any]) -> None:
    """The socket is set up (or gone): let the next one in."""
    slot = scope.get("hub.setup_slot")
    if slot is not None:
        slot.release()


class AdmissionMiddleware:
    """ASGI middleware for WebSockets, before authentication (which reads the database)."""

    def __init__(self, app: Any, gate: SetupGate = GATE) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") != "websocket":
            return await self.app(scope, receive, send)
        slot = self.gate.enter(int(settings.HUB_WS_MAX_SETUPS))
        if slot is None:
            message = await receive()
            if message.get("type") == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CloseCode.TRY_AGAIN_LATER})
            return None
        try:
            return await self.app({**scope, "hub.setup_slot": slot}, receive, send)
        finally:
            slot.release()
