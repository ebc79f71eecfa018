"""WebSocket authentication: the session cookie (browser) or a bearer token.

``Authorization: Bearer <token>`` in the handshake wins over the cookie; the
token's id is kept in the scope so that revoking it closes this socket.
"""

from __future__ import annotations

from typing import Any

from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from hub.accounts.services import token_authenticate
from hub.realtime.db import db


class BearerTokenMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                text = value.decode("latin1")
                scheme, _, token = text.partition(" ")
                if scheme.lower() == "bearer":
                    found = await db(token_authenticate)(token.strip())
                    if found is None:
                        scope["user"] = AnonymousUser()
                    else:
                        scope["user"], api_token = found
                        scope["api_token_id"] = api_token.pk
                break
        return await super().__call__(scope, receive, send)
