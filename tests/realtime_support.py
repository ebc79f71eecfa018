"""Helpers for WebSocket tests against the full ASGI application."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from hub.asgi import application
from tests.factories import officer

ORIGIN = (b"origin", b"http://testserver")
# Frames that arrive on their own, not in answer to a frame: presence and typing, and
# the read markers sent after caught_up on an incident: stream.
NOISE = frozenset({"presence", "typing", "seen_state"})


def session_cookie(username: str) -> str:
    return signed_in_browser(username)[1]


def signed_in_browser(username: str) -> tuple[Client, str]:
    """A test client signed in as ``username`` and its session cookie (for the socket)."""
    client = Client()
    client.force_login(officer(username))
    return client, f"sessionid={client.cookies['sessionid'].value}"


class Socket:
    """A WebsocketCommunicator with JSON helpers."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.c = communicator
        self.welcome: dict[str, Any] | None = None

    @classmethod
    async def open(
        cls,
        username: str | None = None,
        *,
        token: str | None = None,
        cookie: str | None = None,
        origin: tuple[bytes, bytes] | None = ORIGIN,
        expect_welcome: bool = True,
    ) -> Socket:
        """``username`` signs in a fresh session; ``cookie`` uses one you hold."""
        headers: list[tuple[bytes, bytes]] = []
        if origin is not None:
            headers.append(origin)
        if username is not None:
            cookie = await sync_to_async(session_cookie)(username)
        if cookie is not None:
            headers.append((b"cookie", cookie.encode()))
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        socket = cls(WebsocketCommunicator(application, "/ws/", headers=headers))
        connected, _ = await socket.c.connect(timeout=10)
        assert connected, "handshake refused"
        if expect_welcome:
            socket.welcome = await socket.recv()
            assert socket.welcome["type"] == "welcome", socket.welcome
        return socket

    async def send(self, frame: dict[str, Any]) -> None:
        await self.c.send_to(text_data=json.dumps(frame))

    async def send_text(self, text: str) -> None:
        await self.c.send_to(text_data=text)

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        output = await self.c.receive_output(timeout)
        if output["type"] == "websocket.close":
            return {"type": "__closed__", "code": output.get("code")}
        assert output["type"] == "websocket.send", output
        data: dict[str, Any] = json.loads(output["text"])
        return data

    async def recv_until(self, kind: str, timeout: float = 5) -> list[dict[str, Any]]:
        """Frames up to and including the first of ``kind`` (presence, typing and
        seen_state skipped, unless asked for)."""
        frames: list[dict[str, Any]] = []
        while True:
            frame = await self.recv(timeout)
            if frame["type"] in NOISE and frame["type"] != kind:
                continue
            frames.append(frame)
            if frame["type"] == kind or frame["type"] == "__closed__":
                return frames

    async def subscribe(self, stream: str, after: int = 0) -> list[dict[str, Any]]:
        await self.send({"type": "subscribe", "stream": stream, "after": after})
        return await self.recv_until("caught_up")

    async def closed_with(self, timeout: float = 5) -> int | None:
        while True:
            output = await self.c.receive_output(timeout)
            if output["type"] == "websocket.close":
                code: int | None = output.get("code")
                return code

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.c.receive_nothing(timeout)

    async def close(self) -> None:
        await self.c.disconnect()


async def settle() -> None:
    await asyncio.sleep(0.05)
