"""REST: sign in for API clients (tokens) and for the browser (session)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest
from django.middleware.csrf import get_token
from ninja import Router, Schema, Status
from ninja.throttling import AnonRateThrottle, BaseThrottle
from ninja.utils import check_csrf
from pydantic import Field, StrictInt

from hub.accounts.services import credentials_check, session_ended, token_issue, token_revoke
from hub.auth import request_user
from hub.errors import Forbidden, InvalidInput
from hub.schemas import Code, ErrorOut, StrictIn

router = Router(tags=["authentication"])


class LoginThrottle(AnonRateThrottle):
    """Per client address; guesses at passwords are slowed, not only logged. The rate
    is ``settings.HUB_LOGIN_RATE``, read on each request."""

    def __init__(self) -> None:
        super().__init__(settings.HUB_LOGIN_RATE)

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = settings.HUB_LOGIN_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)


LOGIN_THROTTLE: list[BaseThrottle] = [LoginThrottle()]


class Credentials(StrictIn):
    username: Code = Field(min_length=1, max_length=150)
    password: Code = Field(min_length=1, max_length=256)


class TokenRequest(Credentials):
    name: Code = Field(default="", max_length=100)


class TokenOut(Schema):
    id: int
    token: str
    expires_at: datetime | None


class RevokeIn(StrictIn):
    # Strict: pydantic would take true as 1 and revoke token 1.
    id: StrictInt | None = None


class OkOut(Schema):
    ok: bool


class CsrfOut(Schema):
    csrf_token: str


@router.post(
    "/token",
    auth=None,
    throttle=LOGIN_THROTTLE,
    response={201: TokenOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Exchange a username and password for a bearer token",
)
def token_create(request: HttpRequest, payload: TokenRequest) -> Status[TokenOut]:
    user = credentials_check(request=request, username=payload.username, password=payload.password)
    issued = token_issue(user=user, name=payload.name)
    return Status(
        201, TokenOut(id=issued.token.pk, token=issued.raw, expires_at=issued.token.expires_at)
    )


@router.post(
    "/token/revoke",
    response={200: OkOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Revoke a token (the presented one, or one of yours by id)",
)
def token_revoke_view(request: HttpRequest, payload: RevokeIn) -> OkOut:
    user = request_user(request)
    token_id = payload.id
    if token_id is None:
        presented = getattr(request, "api_token", None)
        if presented is None:
            raise InvalidInput("Give the id of the token to revoke.")
        token_id = presented.pk
    token_revoke(user=user, token_id=token_id)
    return OkOut(ok=True)


@router.get("/csrf", auth=None, response={200: CsrfOut}, summary="Set and return the CSRF token")
def csrf(request: HttpRequest) -> CsrfOut:
    return CsrfOut(csrf_token=get_token(request))


@router.post(
    "/login",
    auth=None,
    throttle=LOGIN_THROTTLE,
    response={
        200: OkOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
    },
    summary="Browser sign-in (session cookie); needs the CSRF token",
)
def session_login(request: HttpRequest, payload: Credentials) -> OkOut:
    if check_csrf(request) is not None:
        raise Forbidden("CSRF check failed: send the X-CSRFToken header.", code="csrf_failed")
    user = credentials_check(request=request, username=payload.username, password=payload.password)
    login(request, user)
    return OkOut(ok=True)


@router.post("/logout", response={200: OkOut, 401: ErrorOut, 403: ErrorOut}, summary="Sign out")
def session_logout(request: HttpRequest) -> OkOut:
    user = request_user(request)
    session_key = request.session.session_key
    request._hub_logout_handled = True  # type: ignore[attr-defined]
    logout(request)
    session_ended(user=user, session_key=session_key)
    return OkOut(ok=True)
