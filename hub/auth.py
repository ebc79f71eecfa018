"""Authentication for the REST API: bearer tokens, or the Django session + CSRF."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from hub.accounts.models import User
from hub.accounts.services import token_authenticate


class BearerAuth(HttpBearer):
    """``Authorization: Bearer <token>`` from ``POST /api/v1/auth/token``."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = token_authenticate(token)
        if found is None:
            return None
        user, api_token = found
        request.user = user
        request.api_token = api_token  # type: ignore[attr-defined]
        return user


class ActiveSessionAuth(SessionAuth):
    """The browser's session cookie; CSRF is checked on unsafe methods."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


bearer_auth = BearerAuth()
session_auth = ActiveSessionAuth(csrf=True)
API_AUTH = [bearer_auth, session_auth]


def request_user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user
