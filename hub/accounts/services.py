"""Writes on accounts: API tokens and sign-in/out side effects."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from hub.accounts.models import ApiToken, User
from hub.errors import NotAuthenticated, NotFound
from hub.events.control import access_changed

TOKEN_PREFIX = "bch_"  # noqa: S105 - a public prefix, not a secret
DEFAULT_TOKEN_TTL = timedelta(days=30)
LAST_USED_GRANULARITY = timedelta(minutes=1)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str


def credentials_check(*, request: HttpRequest | None, username: str, password: str) -> User:
    user = authenticate(request, username=username, password=password)
    if user is None or not isinstance(user, User) or not user.is_active:
        raise NotAuthenticated("Invalid username or password.", code="invalid_credentials")
    return user


@transaction.atomic
def token_issue(
    *, user: User, name: str = "", ttl: timedelta | None = DEFAULT_TOKEN_TTL
) -> IssuedToken:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:12],
        digest=token_digest(raw),
        expires_at=timezone.now() + ttl if ttl else None,
    )
    return IssuedToken(token=token, raw=raw)


def token_authenticate(raw: str) -> tuple[User, ApiToken] | None:
    """The user and token for a presented bearer token, or None if it is not valid now."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=token_digest(raw)).first()
    now = timezone.now()
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or not token.user.is_active
    ):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


@transaction.atomic
def token_revoke(*, user: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if token is None:
        if ApiToken.objects.filter(pk=token_id).exists():
            # Someone else's token: logged, then the very answer a missing one gets.
            from hub.agencies.selectors import access_for
            from hub.security import log_denial

            log_denial(
                access_for(user),
                action="token.revoke",
                target=f"token:{token_id}",
                reason="a token can only be revoked by its owner",
            )
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        access_changed(user_id=user.pk, reason="token_revoked", token_id=token.pk)
    return token


def session_ended(*, user: User, session_key: str | None) -> None:
    """After a logout: close the sockets that rode on that session."""
    access_changed(user_id=user.pk, reason="logout", session_key=session_key)
