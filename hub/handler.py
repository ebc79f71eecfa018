"""Django's HTTP handler for ASGI, with the request's sync work done in one thread hop.

Under ASGI, Django builds the middleware chain in async mode: each of
Django's own middlewares then runs its ``process_request``/``process_response``
through ``sync_to_async`` (two thread hops per middleware and request), a
sync-only middleware adds two more, and the sync view one more. The hub's
middlewares and views are all sync, so that is a dozen hand-offs between the
event loop and a worker thread for every request, about 2 ms of CPU on this
kind of machine, for nothing.

``SyncChainASGIHandler`` builds the chain in sync mode, as under WSGI, and
runs all of it (middlewares and view) in a single ``sync_to_async`` call, on
the request's thread (``thread_sensitive=True``, inside the
``ThreadSensitiveContext`` that ``ASGIHandler`` opens per request). Reading the
body, request signals and sending the response stay async, as in Django. An
async view would still work (Django's sync path wraps it in ``async_to_sync``);
there are none.
"""

from __future__ import annotations

from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

from hub.attachments.uploads import capped_receive, is_upload


class SyncChainASGIHandler(ASGIHandler):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Evidence uploads: stop reading the body past its limit or its declared
        # length (``hub.attachments.uploads``) instead of spooling all of it.
        if scope.get("type") == "http" and is_upload(scope.get("method", ""), scope["path"]):
            receive = capped_receive(scope, receive)
        await super().__call__(scope, receive, send)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        chain: Any = self._middleware_chain  # type: ignore[has-type]
        self._middleware_chain = sync_to_async(chain, thread_sensitive=True)


def get_asgi_application() -> SyncChainASGIHandler:
    """Like ``django.core.asgi.get_asgi_application``, with the handler above."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
