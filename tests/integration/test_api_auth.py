"""REST authentication: bearer tokens (hashed, revocable), session + CSRF."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hub.accounts.models import ApiToken
from hub.accounts.services import token_digest
from hub.agencies.demo import DEMO_PASSWORD
from tests.factories import Api, report

pytestmark = pytest.mark.usefixtures("demo")


def issue(username: str = "na-imm.duty") -> dict[str, Any]:
    response = Client().post(
        "/api/v1/auth/token",
        json.dumps({"username": username, "password": DEMO_PASSWORD, "name": "laptop"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_token_is_stored_hashed_and_authenticates() -> None:
    body = issue()
    raw = str(body["token"])
    assert raw.startswith("bch_")
    token = ApiToken.objects.get(pk=body["id"])
    assert token.digest == token_digest(raw)
    assert raw not in {token.digest, token.prefix}
    me = Api(bearer=raw).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "na-imm.duty"
    assert me.json()["memberships"][0] == {
        "agency": "NA-IMM",
        "agency_name": "Namibia Immigration Service",
        "agency_kind": "immigration",
        "role": "duty_officer",
        "crossing_points": ["WDH", "WEN", "WVB"],
    }


def test_wrong_password_is_401_with_code() -> None:
    response = Client().post(
        "/api/v1/auth/token",
        json.dumps({"username": "na-imm.duty", "password": "nope"}),
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


def test_revoked_and_expired_tokens_are_refused() -> None:
    raw = str(issue()["token"])
    api = Api(bearer=raw)
    assert api.post("/api/v1/auth/token/revoke", {}).json() == {"ok": True}
    refused = api.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthenticated"
    other = issue()
    ApiToken.objects.filter(pk=other["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Api(bearer=str(other["token"])).get("/api/v1/me").status_code == 401


def test_revoking_someone_elses_token_is_404_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    theirs = issue("na-cus.duty")
    mine = Api(bearer=str(issue()["token"]))
    with caplog.at_level("WARNING", logger="hub.security"):
        refused = mine.post("/api/v1/auth/token/revoke", {"id": theirs["id"]})
        missing = mine.post("/api/v1/auth/token/revoke", {"id": theirs["id"] + 1000})
    # The same answer as a token that does not exist ...
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json()
    assert refused.json()["code"] == "not_found"
    # ... but the attempt on a real token is on the security log, and changed nothing.
    denials = [r for r in caplog.records if r.name == "hub.security"]
    assert [r.getMessage() for r in denials] == [
        f"denied user=na-imm.duty action=token.revoke target=token:{theirs['id']} "
        "reason=a token can only be revoked by its owner"
    ]
    assert ApiToken.objects.get(pk=theirs["id"]).revoked_at is None
    assert Api(bearer=str(theirs["token"])).get("/api/v1/me").status_code == 200


def test_deactivated_user_token_is_refused() -> None:
    from hub.accounts.models import User

    raw = str(issue()["token"])
    User.objects.filter(username="na-imm.duty").update(is_active=False)
    assert Api(bearer=raw).get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer nonsense", "Basic abc", "Bearer bch_" + "x" * 200]
)
def test_malformed_authorization_is_401(header: str) -> None:
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "detail"}


def test_session_writes_need_csrf() -> None:
    incident = report()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(__import__("tests.factories", fromlist=["officer"]).officer("na-imm.duty"))
    body = json.dumps({"body": "hi", "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01"})
    refused = strict.post(
        f"/api/v1/incidents/{incident.ref}/messages", body, content_type="application/json"
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    token = strict.get("/api/v1/auth/csrf").json()["csrf_token"]
    accepted = strict.post(
        f"/api/v1/incidents/{incident.ref}/messages",
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert accepted.status_code == 201


def test_browser_login_and_logout() -> None:
    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/api/v1/auth/csrf").json()["csrf_token"]
    creds = json.dumps({"username": "na-imm.duty", "password": DEMO_PASSWORD})
    no_csrf = browser.post("/api/v1/auth/login", creds, content_type="application/json")
    assert no_csrf.status_code == 403
    ok = browser.post(
        "/api/v1/auth/login", creds, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert ok.status_code == 200
    assert browser.get("/api/v1/me").json()["username"] == "na-imm.duty"
    token = browser.cookies["csrftoken"].value
    assert browser.post("/api/v1/auth/logout", HTTP_X_CSRFTOKEN=token).status_code == 200
    assert browser.get("/api/v1/me").status_code == 401


def test_anonymous_requests_are_401_json() -> None:
    for path in ["/api/v1/me", "/api/v1/incidents", "/api/v1/agencies", "/api/v1/audit/verify"]:
        response = Client().get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated"


def test_sign_in_rate_is_read_from_settings_on_each_request(settings: Any) -> None:
    """``HUB_LOGIN_RATE`` (20 a minute) can be changed without a restart of the throttle:
    the API fuzz run raises it, and a lower one applies at once."""
    settings.HUB_LOGIN_RATE = "2/m"
    guess = json.dumps({"username": "nobody", "password": "wrong"})
    client = Client(REMOTE_ADDR="192.0.2.77")
    statuses = [
        client.post("/api/v1/auth/token", guess, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    settings.HUB_LOGIN_RATE = "100/m"
    again = client.post("/api/v1/auth/token", guess, content_type="application/json")
    assert again.status_code == 401
