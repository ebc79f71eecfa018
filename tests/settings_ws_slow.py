"""Test settings for real Daphne workers with a small per-socket send buffer cap.

``tests/integration/test_ws_daphne.py`` starts workers with this module so that
a client that stops reading overflows the cap after a few hundred KiB instead of
the production 8 MiB.
"""

from __future__ import annotations

from hub.settings_test import *  # noqa: F403

HUB_WS_MAX_SEND_BUFFER = 256 * 1024
