"""docs/openapi.json (the web app's generated REST types come from it) is the live schema."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from hub.api import api
from hub.contracts.openapi import COMMITTED, openapi_text

REGENERATE = "python manage.py export_openapi --output docs/openapi.json"


def test_committed_openapi_is_current() -> None:
    committed = COMMITTED.read_text(encoding="utf-8")
    assert committed == openapi_text(), (
        f"docs/openapi.json is stale: run `{REGENERATE}` and `npm run gen:api` in frontend/"
    )


def test_the_text_is_stable_json_of_the_live_schema() -> None:
    text = openapi_text()
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")
    assert json.loads(text) == json.loads(json.dumps(api.get_openapi_schema()))
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert text.splitlines()[1].startswith('  "'), "two-space indent"
    assert text == openapi_text(), "the same API gives the same text"
    assert "/api/v1/streams/{stream}/events" in json.loads(text)["paths"]


def test_the_command_prints_or_writes_the_text(tmp_path: Path) -> None:
    out = StringIO()
    call_command("export_openapi", stdout=out)
    assert out.getvalue() == openapi_text()

    target = tmp_path / "openapi.json"
    quiet = StringIO()
    call_command("export_openapi", "--output", str(target), stdout=quiet)
    assert target.read_text(encoding="utf-8") == openapi_text()
    assert quiet.getvalue() == ""
