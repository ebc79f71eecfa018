"""ASGI entry point: Django for HTTP, the hub's consumer for WebSockets (Daphne serves both).

WebSockets pass, in order: the Origin check against ALLOWED_HOSTS (it stays
on: a page elsewhere cannot open a socket with an officer's cookie), the
admission gate (at most HUB_WS_MAX_SETUPS sockets set up at once per worker;
hub.realtime.admission), the session (cookie) authentication, then bearer-token
authentication.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

from hub import daphne_patches

# Daphne's requests skip Twisted's parsing of multipart bodies into request.args
# (which Daphne never reads; it cost ~13x an upload's size in memory).
daphne_patches.apply()

from hub.handler import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from hub.realtime.admission import AdmissionMiddleware  # noqa: E402
from hub.realtime.auth import BearerTokenMiddleware  # noqa: E402
from hub.realtime.routing import websocket_urlpatterns  # noqa: E402
from hub.realtime.wire import KeepServerSend  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": KeepServerSend(
            AllowedHostsOriginValidator(
                AdmissionMiddleware(
                    AuthMiddlewareStack(BearerTokenMiddleware(URLRouter(websocket_urlpatterns)))
                )
            )
        ),
    }
)
