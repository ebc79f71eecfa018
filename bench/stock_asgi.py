"""The baseline: stock Channels fan-out, one group member per socket.

Each socket is an ``AsyncJsonWebsocketConsumer`` that joins one group; the
publisher calls ``group_send`` on ``RedisChannelLayer``. This is the pattern the
hub's delivery path is measured against (bench/fanout.py, bench/connections.py).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

# Hundreds of sockets join the group at once; give the baseline a pool that big.
layer_config: Any = settings.CHANNEL_LAYERS["default"]["CONFIG"]
layer_config["hosts"][0]["max_connections"] = 4096

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

GROUP = "bench"


class StockConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def bench_message(self, event: dict[str, Any]) -> None:
        await self.send_json(event["frame"])


application = ProtocolTypeRouter(
    {"http": django_asgi_app, "websocket": URLRouter([path("ws/", StockConsumer.as_asgi())])}
)
