"""Server wiring for Daphne: turn off Twisted's parsing of POST form bodies, and give
every status the hub answers its reason phrase.

Daphne's ``WebRequest`` is a ``twisted.web.http.Request``. For every POST with a
``multipart/form-data`` (or URL-encoded) body, Twisted's ``requestReceived`` reads the
whole body and parses it with the stdlib ``email`` parser into ``request.args``,
before Daphne hands the request to the hub, and Daphne never reads ``request.args``.
A 25 MiB evidence upload raised a worker's peak RSS by ~320 MiB (12.8x the body), and
a 30 MiB one the hub refuses with 413 by ~385 MiB (bench/RESULTS.md, "Evidence file
uploads"). Twisted's ``Request`` takes ``parsePOSTFormSubmission=False`` to skip it;
Daphne 4.2.3 does not pass it, so ``apply()`` makes ``WebRequest`` pass it.

Daphne writes the status line with Twisted's ``Request.setResponseCode(code)``,
which takes the reason phrase from ``twisted.web.http.RESPONSES`` and writes
"Unknown Status" for a code missing there. Twisted 26.10 lacks 422 and 429 (and a
few others), so the hub's validation errors went out as "422 Unknown Status" and
sign-in throttling as "429 Unknown Status". ``apply()`` adds every code Python's
``http.HTTPStatus`` knows and Twisted does not, with Python's phrase ("429 Too Many
Requests"); Twisted's own phrases stay as they are.

``hub/asgi.py`` calls ``apply()``: every way the hub runs Daphne (``daphne
hub.asgi:application`` in the Makefile, Dockerfile/compose, tests and benches) imports
that module in the serving process before the first request. ``apply()`` is
idempotent. If Daphne or Twisted change shape (no ``parsePOSTFormSubmission``
parameter, no ``WebRequest``), it logs an error and changes nothing.
"""

from __future__ import annotations

import functools
import http
import inspect
import logging
from typing import Any

logger = logging.getLogger(__name__)

_MARKER = "_hub_no_form_parsing"


def apply() -> bool:
    """Both patches (see the module docstring). Returns True when both are in place (now
    or from an earlier call), False when Daphne/Twisted do not have the expected shape
    (an error is logged, and the patch that could not be made is left out)."""
    form_parsing_off = _form_parsing_off()
    phrases = _reason_phrases()
    return form_parsing_off and phrases


def _reason_phrases() -> bool:
    """Add the reason phrase of every HTTP status Twisted does not know (429, 422, …)."""
    try:
        from twisted.web import http as twisted_http
    except ImportError:
        logger.error("daphne_patches: Twisted not importable; reason phrases left as they are")
        return False
    responses = getattr(twisted_http, "RESPONSES", None)
    if not isinstance(responses, dict) or not isinstance(responses.get(404), bytes):
        logger.error(
            "daphne_patches: twisted.web.http.RESPONSES is not a dict of code -> bytes "
            "(Twisted changed); statuses it lacks (429, 422) go out as 'Unknown Status'"
        )
        return False
    for status in http.HTTPStatus:
        responses.setdefault(status.value, status.phrase.encode("ascii"))
    return True


def _form_parsing_off() -> bool:
    """Make Daphne's ``WebRequest`` not parse POST form bodies into ``.args``.

    Returns True when the patch is in place (now or from an earlier call), False when
    Daphne/Twisted do not have the expected shape (an error is logged).
    """
    try:
        from daphne.http_protocol import WebRequest
        from twisted.web.http import Request
    except ImportError:
        logger.error("daphne_patches: Daphne or Twisted not importable; form parsing left on")
        return False

    init = WebRequest.__init__
    if getattr(init, _MARKER, False):
        return True
    if not issubclass(WebRequest, Request) or (
        "parsePOSTFormSubmission" not in inspect.signature(Request.__init__).parameters
    ):
        logger.error(
            "daphne_patches: twisted.web.http.Request has no parsePOSTFormSubmission "
            "(Daphne/Twisted changed); Twisted's form parsing is left ON and multipart "
            "uploads cost ~13x their size in memory"
        )
        return False

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        init(self, *args, **kwargs)

    setattr(__init__, _MARKER, True)
    WebRequest.__init__ = __init__
    return True
