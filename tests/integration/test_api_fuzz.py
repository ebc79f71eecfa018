"""Schemathesis against /api/v1/openapi.json, with all its checks, in the suite.

The bounded run of ``bench.api_fuzzing`` (``python -m bench.fuzz_api`` runs the same,
longer): every operation of the OpenAPI document as a duty officer, a coordinator
and a senior official, with bearer tokens from ``POST /auth/token``, through
Django's WSGI handler in this process, on the test database seeded with the demo
region, its SOPs, incidents, alerts and a joint operation. Each operation runs with
generated path parameters and with real ones from the demo data. Every check
schemathesis has runs on every response: no 5xx, every status and body as
documented, schema-valid requests accepted and schema-invalid ones refused. Where
a rule cannot be stated in JSON Schema (a time in the future, a code that must
exist), the operation's 422 says so (``hub.schemas.refuses_valid``), and only there
is a 422 expected for a schema-valid request.

Bounded and deterministic: schemathesis's coverage phase (its enumerated boundary
and just-invalid cases) as the coordinator, and a few derandomized fuzzing examples
per operation as each of the three officers.

Nothing is excluded. ``POST /auth/token/revoke`` revokes the token it is called
with, so each of its requests gets a token of its own; ``POST /auth/logout`` ends a
session, which bearer requests do not ride on. Sign-in is throttled (20 a minute),
so the test raises ``HUB_LOGIN_RATE``: a 429 would depend on the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from bench.api_fuzzing import OFFICERS, Target, check_names, fuzz, seed_world

MAX_EXAMPLES = 5


@pytest.fixture
def wsgi_app(settings: Any) -> Iterator[Any]:
    """The hub's WSGI handler on the test database. As in Django's test client, the
    request signals do not close the connection (it holds the test's transaction)."""
    settings.HUB_LOGIN_RATE = "1000000/m"
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_every_operation_passes_every_check(wsgi_app: Any) -> None:
    seed_world()

    report = fuzz(Target(app=wsgi_app), max_examples=MAX_EXAMPLES, coverage_roles={"coordinator"})

    operations = len(Target(app=wsgi_app).get_json("/api/v1/openapi.json", None)["paths"])
    assert {"not_a_server_error", "positive_data_acceptance", "negative_data_rejection"} <= set(
        check_names()
    )
    assert report.operations >= len(OFFICERS) * operations
    assert report.statuses[201] > 0  # writes got through to the services
    assert not report.errors, report.summary()
    assert not report.findings, report.summary() + "\n\n" + report.details()
