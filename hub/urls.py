"""URL map: admin, health endpoints, the REST API and the web app."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from hub import health, web
from hub.api import api

admin.site.site_header = "Border Coordination Hub — administration"
admin.site.site_title = "Border Coordination Hub"
admin.site.index_title = "Reference data and records"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", web.app_shell, name="app"),
]
