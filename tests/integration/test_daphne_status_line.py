"""Status lines as a real ``daphne hub.asgi:application`` worker writes them.

Twisted takes the reason phrase from its own table and wrote "429 Unknown Status"
for sign-in throttling (and "422 Unknown Status" for validation errors);
``hub.daphne_patches`` gives them their phrases. Read from the raw socket, because
an HTTP client library would hide a wrong phrase.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections

from tests.processes import DaphneWorker, database_url_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# hub.settings.HUB_LOGIN_RATE: 20 sign-in attempts a minute per client address.
LOGIN_ATTEMPTS_ALLOWED = 20


@pytest.fixture
def worker(settings: Any) -> Iterator[DaphneWorker]:
    settings.REDIS_URL = None
    w = DaphneWorker(database_url=database_url_for(connection.settings_dict), name="status")
    w.start()
    try:
        yield w
    finally:
        w.stop()
        connections.close_all()


def _post_status_line(worker: DaphneWorker, path: str, body: dict[str, Any]) -> str:
    """POST ``body`` as JSON; the first line of the answer, as sent."""
    data = json.dumps(body).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data
    with socket.create_connection(("127.0.0.1", worker.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def test_throttled_sign_in_says_too_many_requests(worker: DaphneWorker) -> None:
    guess = {"username": "nobody", "password": "wrong-guess"}
    lines = [
        _post_status_line(worker, "/api/v1/auth/token", guess)
        for _ in range(LOGIN_ATTEMPTS_ALLOWED + 1)
    ]

    assert lines[:LOGIN_ATTEMPTS_ALLOWED] == ["HTTP/1.1 401 Unauthorized"] * LOGIN_ATTEMPTS_ALLOWED
    assert lines[-1] == "HTTP/1.1 429 Too Many Requests"


def test_validation_error_says_unprocessable_entity(worker: DaphneWorker) -> None:
    line = _post_status_line(worker, "/api/v1/auth/token", {"username": "x"})

    assert line == "HTTP/1.1 422 Unprocessable Entity"
