"""The one signal receiver: Django's admin logout, which the hub does not own."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from hub.accounts.models import User
from hub.accounts.services import session_ended


def close_sockets_on_logout(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    if user is None or request is None or getattr(request, "_hub_logout_handled", False):
        return
    session_ended(user=user, session_key=getattr(request.session, "session_key", None))
