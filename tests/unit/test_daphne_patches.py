"""hub.daphne_patches: Daphne's WebRequest does not parse multipart bodies into .args."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from daphne.http_protocol import WebRequest
from twisted.web.test.requesthelper import DummyChannel

from hub import daphne_patches

BOUNDARY = b"xYzZY"
BODY = (
    b"--" + BOUNDARY + b"\r\n"
    b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n" + b"\x89PNG" + b"x" * 1024 + b"\r\n"
    b"--" + BOUNDARY + b"--\r\n"
)


def _received(request: Any) -> Any:
    """Feed a multipart POST to ``request`` the way HTTPChannel does, without Daphne's
    ``process()`` (which would hand it to an application)."""
    request.process = lambda: None
    request.requestHeaders.setRawHeaders(
        b"content-type", [b"multipart/form-data; boundary=" + BOUNDARY]
    )
    request.requestHeaders.setRawHeaders(b"content-length", [str(len(BODY)).encode()])
    request.content = io.BytesIO()
    request.content.write(BODY)  # as handleContentChunk leaves it: at the end
    request.requestReceived(b"POST", b"/api/v1/incidents/x/attachments", b"HTTP/1.1")
    return request


def _web_request() -> WebRequest:
    """A WebRequest built as Daphne's HTTPChannel builds it: ``requestFactory(channel)``."""
    channel = DummyChannel()
    connected: list[Any] = []
    channel.factory = SimpleNamespace(  # type: ignore[attr-defined]
        server=SimpleNamespace(protocol_connected=connected.append)
    )
    return WebRequest(channel)


def test_apply_turns_off_form_parsing_and_is_idempotent() -> None:
    assert daphne_patches.apply() is True
    init = WebRequest.__init__
    assert daphne_patches.apply() is True
    assert WebRequest.__init__ is init  # not wrapped twice

    request = _received(_web_request())
    assert request._parsePOSTFormSubmission is False
    assert request.args == {}
    assert request.content.getvalue() == BODY  # the body is still there for Daphne


def test_hub_asgi_applies_it() -> None:
    import hub.asgi  # noqa: F401

    assert getattr(WebRequest.__init__, "_hub_no_form_parsing", False)


def test_without_the_patch_twisted_parses_the_body() -> None:
    """What the patch prevents: a plain twisted Request parses the multipart body."""
    from twisted.web.http import Request

    request = _received(Request(DummyChannel()))  # type: ignore[arg-type]
    assert request.args[b"file"][0].startswith(b"\x89PNG")


def test_changed_shape_logs_error_and_changes_nothing(monkeypatch: Any, caplog: Any) -> None:
    from twisted.web import http

    original = WebRequest.__init__

    def old_init(self: Any, channel: Any, queued: object = None) -> None:
        raise AssertionError("not called")

    monkeypatch.setattr(http.Request, "__init__", old_init)
    monkeypatch.setattr(WebRequest, "__init__", lambda self, *a, **k: None)
    caplog.set_level("ERROR")
    assert daphne_patches.apply() is False
    assert "parsePOSTFormSubmission" in caplog.text
    monkeypatch.undo()
    assert WebRequest.__init__ is original


def test_apply_gives_every_status_its_reason_phrase() -> None:
    """Twisted writes "Unknown Status" for a code missing from its RESPONSES (429 and
    422 are); after apply() the status line carries Python's phrase, and Twisted's own
    phrases are left as they were."""
    from twisted.web import http

    assert daphne_patches.apply() is True
    assert daphne_patches.apply() is True  # idempotent

    request = http.Request(DummyChannel())  # type: ignore[arg-type]
    request.setResponseCode(429)
    assert request.code_message == b"Too Many Requests"
    request.setResponseCode(422)
    assert request.code_message == b"Unprocessable Entity"
    request.setResponseCode(413)
    assert request.code_message == b"Request Entity Too Large"  # Twisted's, unchanged
    assert all(
        code in http.RESPONSES for code in (422, 423, 424, 425, 426, 428, 429, 431, 451, 511)
    )


def test_reason_phrases_when_twisted_changed_shape(monkeypatch: Any, caplog: Any) -> None:
    from twisted.web import http

    monkeypatch.setattr(http, "RESPONSES", ("not", "a", "dict"))
    caplog.set_level("ERROR")
    assert daphne_patches.apply() is False
    assert "RESPONSES" in caplog.text
