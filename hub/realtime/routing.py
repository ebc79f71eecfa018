"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from hub.realtime.consumers import HubConsumer

websocket_urlpatterns = [
    path("ws/", HubConsumer.as_asgi()),
]
