"""URL map: admin, health endpoints, the REST API and the web app.

Every path not claimed by the API (``/api/``), the admin (``/admin/``), static
files (``/static/``), the socket (``/ws/``) or a health check answers with the
web app's shell (``hub.web``): the single-page app routes those paths itself.
An unknown path under a claimed prefix keeps its owner's answer (the API's JSON
404, the admin's redirects, a plain 404 for a missing static file).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, re_path

from hub import health, web
from hub.api import api

admin.site.site_header = "Border Coordination Hub — administration"
admin.site.site_title = "Border Coordination Hub"
admin.site.index_title = "Reference data and records"

# A prefix counts with or without its slash ("/admin" still redirects to "/admin/").
CLIENT_SIDE_PATH = r"^(?!(?:api|admin|static|ws)(?:/|$)|(?:healthz|readyz)(?:/|$)).+$"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("sw.js", web.service_worker, name="service-worker"),
    path("manifest.webmanifest", web.web_manifest, name="web-manifest"),
    path("", web.app_shell, name="app"),
    re_path(CLIENT_SIDE_PATH, web.app_shell, name="app-route"),
]
