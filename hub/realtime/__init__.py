"""Realtime: the WebSocket layer that delivers stream events to officers live."""
