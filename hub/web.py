"""The web app as Django serves it: the HTML shell and the build's root files.

The web app is a single-page app with history routing, so every client-side path
(``/points/WDH``, ``/incidents/<ref>/review``, ...) answers with the same shell and
the app decides what the path shows (``hub.urls`` routes every path that is not
the API, the admin, static files, the socket or a health check here). Only GET and
HEAD get the shell.

Vite builds ``frontend/`` into ``frontend/dist`` (``settings.FRONTEND_DIST``) with
a manifest; the shell reads the manifest to find the hashed entry files (served
by WhiteNoise under ``/static/app/``). Without a build (no Node on the machine)
the shell still renders and says so.

Invariants:
- Shell responses carry ``content_security_policy``: scripts, styles, fonts,
  workers and the manifest from this origin only, no inline script or style
  (``app.html`` has none), sockets to the host the request named.
- ``/sw.js`` and ``/manifest.webmanifest`` are the files at the root of the
  build, served at the site root (a service worker controls only paths under
  the one it is served from); 404 without a build.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response, set_response_etag
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

# The build's entry chunk in Vite's manifest, newest layout first.
ENTRIES = ("src/main.tsx", "src/main.ts")


@lru_cache(maxsize=4)
def _read_manifest(path: Path, mtime: float) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _entry(manifest: dict[str, Any]) -> dict[str, Any] | None:
    for name in ENTRIES:
        if name in manifest:
            chunk: dict[str, Any] = manifest[name]
            return chunk
    entries = [manifest[name] for name in sorted(manifest) if manifest[name].get("isEntry")]
    return entries[0] if len(entries) == 1 else None


def frontend_assets() -> dict[str, Any] | None:
    """Static paths (relative to STATIC_URL) of the built entry, or None without a build."""
    manifest = Path(settings.FRONTEND_DIST) / ".vite" / "manifest.json"
    if not manifest.exists():
        return None
    entry = _entry(_read_manifest(manifest, manifest.stat().st_mtime))
    if not entry:
        return None
    return {
        "script": f"app/{entry['file']}",
        "styles": [f"app/{css}" for css in entry.get("css", [])],
    }


def content_security_policy(*, host: str) -> str:
    """The shell's Content-Security-Policy.

    ``host`` is ``request.get_host()``: Django has checked it against
    ALLOWED_HOSTS (and its syntax), so it cannot smuggle in a directive. Sockets
    are named explicitly because older browsers do not count ws:/wss: as 'self'.
    """
    directives = (
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self'"),
        ("img-src", "'self' data: blob:"),
        ("font-src", "'self'"),
        ("connect-src", f"'self' ws://{host} wss://{host}"),
        ("worker-src", "'self'"),
        ("manifest-src", "'self'"),
        ("object-src", "'none'"),
        ("base-uri", "'self'"),
        ("form-action", "'self'"),
        ("frame-ancestors", "'none'"),
    )
    return "; ".join(f"{name} {sources}" for name, sources in directives)


@require_safe
@ensure_csrf_cookie
def app_shell(request: HttpRequest) -> HttpResponse:
    """The HTML shell, for ``/`` and every client-side path of the web app."""
    response = render(request, "app.html", {"assets": frontend_assets()})
    response["Content-Security-Policy"] = content_security_policy(host=request.get_host())
    return response


def _build_root_file(
    request: HttpRequest, name: str, *, content_type: str, headers: dict[str, str]
) -> HttpResponse:
    """``name`` from the root of the build, revalidated by ETag; 404 without a build."""
    path = Path(settings.FRONTEND_DIST) / name
    if not path.is_file():
        raise Http404(f"{name} is not built")
    response = HttpResponse(path.read_bytes(), content_type=content_type, headers=headers)
    set_response_etag(response)
    # A 304 when the client's copy (If-None-Match) is this build's.
    return get_conditional_response(request, etag=response["ETag"], response=response) or response


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    # no-cache: browsers must revalidate, so a new build's worker is found at once.
    return _build_root_file(
        request,
        "sw.js",
        content_type="text/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


@require_safe
def web_manifest(request: HttpRequest) -> HttpResponse:
    return _build_root_file(
        request,
        "manifest.webmanifest",
        content_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )
