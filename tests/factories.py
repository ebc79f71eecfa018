"""Test helpers: the demo region, officers by username, a JSON API client."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from hub.accounts.models import User
from hub.agencies.demo import seed_reference_data
from hub.incidents import services
from hub.incidents.models import Incident


def seed() -> None:
    seed_reference_data()


def officer(username: str) -> User:
    return User.objects.get(username=username)


def occurred(minutes_ago: int = 30) -> datetime:
    return timezone.now() - timedelta(minutes=minutes_ago)


def report(
    username: str = "na-imm.duty",
    crossing_point: str = "WDH",
    **fields: Any,
) -> Incident:
    """Report an incident through the service, as ``username``."""
    params: dict[str, Any] = {
        "title": "Passenger with altered passport",
        "category": "document_fraud",
        "severity": "medium",
        "occurred_at": occurred(),
        "description": "Referred at the primary line.",
        "people_count": 1,
        "location_detail": "Arrivals hall, desk 4",
    }
    params.update(fields)
    return services.incident_report(
        actor=officer(username), crossing_point=crossing_point, **params
    ).incident


def post(username: str, ref: str, body: str = "On my way to secondary.") -> services.MessageResult:
    return services.message_post(
        actor=officer(username), ref=ref, body=body, client_msg_id=uuid.uuid4()
    )


class Api:
    """A JSON client signed in as one officer (session auth)."""

    def __init__(self, username: str | None = None, *, bearer: str | None = None) -> None:
        self.client = Client()
        self.headers: dict[str, str] = {}
        if username is not None:
            self.client.force_login(officer(username))
        if bearer is not None:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"

    def _send(
        self, method: str, path: str, body: Any = None, raw: str | bytes | None = None
    ) -> Any:
        data: str | bytes | None = raw
        if raw is None and body is not None:
            data = json.dumps(body, default=str)
        call = getattr(self.client, method)
        if data is None:
            return call(path, **self.headers)
        return call(path, data, content_type="application/json", **self.headers)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {}, **self.headers)  # type: ignore[arg-type]

    def post(self, path: str, body: Any = None, *, raw: str | bytes | None = None) -> Any:
        return self._send(
            "post", path, body if body is not None else ({} if raw is None else None), raw
        )

    def patch(self, path: str, body: Any = None, *, raw: str | bytes | None = None) -> Any:
        return self._send(
            "patch", path, body if body is not None else ({} if raw is None else None), raw
        )

    def put(self, path: str, body: Any = None, *, raw: str | bytes | None = None) -> Any:
        return self._send(
            "put", path, body if body is not None else ({} if raw is None else None), raw
        )
