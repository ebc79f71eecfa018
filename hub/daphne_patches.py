"""Server wiring for Daphne: turn off Twisted's parsing of POST form bodies.

Daphne's ``WebRequest`` is a ``twisted.web.http.Request``. For every POST with a
``multipart/form-data`` (or URL-encoded) body, Twisted's ``requestReceived`` reads the
whole body and parses it with the stdlib ``email`` parser into ``request.args``,
before Daphne hands the request to the hub, and Daphne never reads ``request.args``.
A 25 MiB evidence upload raised a worker's peak RSS by ~320 MiB (12.8x the body), and
a 30 MiB one the hub refuses with 413 by ~385 MiB (bench/RESULTS.md, "Evidence file
uploads"). Twisted's ``Request`` takes ``parsePOSTFormSubmission=False`` to skip it;
Daphne 4.2.3 does not pass it, so ``apply()`` makes ``WebRequest`` pass it.

``hub/asgi.py`` calls ``apply()``: every way the hub runs Daphne (``daphne
hub.asgi:application`` in the Makefile, Dockerfile/compose, tests and benches) imports
that module in the serving process before the first request. ``apply()`` is
idempotent. If Daphne or Twisted change shape (no ``parsePOSTFormSubmission``
parameter, no ``WebRequest``), it logs an error and changes nothing.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

logger = logging.getLogger(__name__)

_MARKER = "_hub_no_form_parsing"


def apply() -> bool:
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
