"""/healthz and /readyz."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from hub import health


def test_healthz_answers_200(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@override_settings(REDIS_URL=None)
def test_readyz_ok_with_embedded_layer(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"] == "ok"


@pytest.mark.django_db
def test_readyz_ok_with_real_redis(client: Client, redis_url: str) -> None:
    with override_settings(REDIS_URL=redis_url):
        response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["channel_layer"] == "ok"


@pytest.mark.django_db
def test_readyz_503_when_redis_is_unreachable(client: Client) -> None:
    # Port 1 on loopback refuses connections: a Redis that is down.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {
        "database": "ok",
        "channel_layer": "failing",
        **{name: "ok" for name in body["checks"] if name not in {"database", "channel_layer"}},
    }
    reason = body["reasons"]["channel_layer"]
    assert "Redis" in reason
    assert reason.startswith("channel layer (Redis) unreachable (")
    assert "127.0.0.1" not in reason  # the address stays in the log


@pytest.mark.django_db
def test_readyz_answers_short_reasons_and_logs_the_driver_error(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenCursor:
        def __enter__(self) -> Any:
            raise RuntimeError('connection to server at "db-internal.corp" (10.0.0.7) refused')

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(health.connection, "cursor", lambda: BrokenCursor())
    with caplog.at_level("WARNING", logger="hub.health"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "failing"
    assert body["reasons"]["database"] == "database unreachable (RuntimeError)"
    assert "db-internal" not in response.content.decode()
    assert "10.0.0.7" not in response.content.decode()
    assert "db-internal.corp" in caplog.text


@pytest.mark.django_db
@override_settings(REDIS_URL=None)
def test_registered_checks_answer_only_their_summary(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        health._extra_checks, "feed", lambda: "live feed unavailable: redis-7.internal:6379 down"
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"] == {"feed": "live feed unavailable"}


@pytest.mark.django_db
@override_settings(REDIS_URL=None)
def test_a_check_that_raises_is_failing_not_a_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str | None:
        raise KeyError("internal-host")

    monkeypatch.setitem(health._extra_checks, "broken", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broken"] == "failing"
    assert body["checks"]["database"] == "ok"
    assert body["reasons"] == {"broken": "broken check raised (KeyError)"}


@pytest.mark.django_db
def test_readyz_503_when_database_fails(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenCursor:
        def __enter__(self) -> Any:
            raise RuntimeError("connection refused")

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(health.connection, "cursor", lambda: BrokenCursor())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"]["database"] == "database unreachable (RuntimeError)"


def test_health_endpoints_refuse_writes(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
