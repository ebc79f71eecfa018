"""The hub's production settings for benchmark workers that write as fast as they can.

Only the per-connection WebSocket flood limit (``HUB_WS_RATE``/``HUB_WS_BURST``: 10
frames/s, bursts of 40) is lifted: it is an abuse guard, and a write-path benchmark
with a few writers would otherwise measure the guard, not the write path. Everything
else (authorization of every frame, idempotency, the record) is as in production.
"""

from __future__ import annotations

from hub.settings import *  # noqa: F403

HUB_WS_RATE = 1_000_000.0
HUB_WS_BURST = 1_000_000
