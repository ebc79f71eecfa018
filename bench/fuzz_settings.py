"""Settings of ``python -m bench.fuzz_api``: the test settings, with the sign-in
throttle raised (the fuzz run signs in far more often than 20 times a minute, and a
429 would then depend on the clock). Never for a server anyone else uses."""

from __future__ import annotations

from hub.settings_test import *  # noqa: F403

HUB_LOGIN_RATE = "1000000/m"
