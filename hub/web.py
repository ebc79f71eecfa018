"""The web app's HTML shell.

Vite builds ``frontend/`` into ``frontend/dist`` with a manifest; this view reads
the manifest to find the hashed entry files and renders ``app.html`` around them.
Without a build (no Node on the machine) the shell still renders and says so.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

ENTRY = "src/main.ts"


@lru_cache(maxsize=4)
def _read_manifest(path: Path, mtime: float) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def frontend_assets() -> dict[str, Any] | None:
    """Static paths (relative to STATIC_URL) of the built entry, or None without a build."""
    manifest = Path(settings.FRONTEND_DIST) / ".vite" / "manifest.json"
    if not manifest.exists():
        return None
    entry = _read_manifest(manifest, manifest.stat().st_mtime).get(ENTRY)
    if not entry:
        return None
    return {
        "script": f"app/{entry['file']}",
        "styles": [f"app/{css}" for css in entry.get("css", [])],
    }


@ensure_csrf_cookie
def app_shell(request: HttpRequest) -> HttpResponse:
    return render(request, "app.html", {"assets": frontend_assets()})
