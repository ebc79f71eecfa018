"""hub.web's pure parts: finding the build's entry in Vite's manifest, and the policy text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.web import content_security_policy, frontend_assets


def write_manifest(dist: Path, chunks: dict[str, Any]) -> None:
    (dist / ".vite").mkdir(parents=True)
    (dist / ".vite" / "manifest.json").write_text(json.dumps(chunks))


@pytest.mark.parametrize("entry", ["src/main.tsx", "src/main.ts", "src/boot.tsx"])
def test_the_entry_chunk_is_found(entry: str, tmp_path: Path, settings: Any) -> None:
    settings.FRONTEND_DIST = tmp_path
    write_manifest(
        tmp_path,
        {
            entry: {"file": "assets/entry-1.js", "css": ["assets/entry-2.css"], "isEntry": True},
            "src/lazy.tsx": {"file": "assets/lazy-3.js", "isDynamicEntry": True},
            "_shared-4.js": {"file": "assets/shared-4.js"},
        },
    )
    assert frontend_assets() == {
        "script": "app/assets/entry-1.js",
        "styles": ["app/assets/entry-2.css"],
    }


def test_no_build_or_no_recognisable_entry_is_none(tmp_path: Path, settings: Any) -> None:
    settings.FRONTEND_DIST = tmp_path / "missing"
    assert frontend_assets() is None
    settings.FRONTEND_DIST = tmp_path
    write_manifest(
        tmp_path,
        {
            "src/a.tsx": {"file": "assets/a.js", "isEntry": True},
            "src/b.tsx": {"file": "assets/b.js", "isEntry": True},
        },
    )
    assert frontend_assets() is None, "two unnamed entries: no guessing"


def test_the_policy_text() -> None:
    policy = content_security_policy(host="hub.example.org:8443")
    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    assert (
        directives["connect-src"] == "'self' ws://hub.example.org:8443 wss://hub.example.org:8443"
    )
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert list(directives) == [
        "default-src",
        "script-src",
        "style-src",
        "img-src",
        "font-src",
        "connect-src",
        "worker-src",
        "manifest-src",
        "object-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
    ]
    assert "unsafe" not in policy
