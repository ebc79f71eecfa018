"""The REST API's OpenAPI document as stable text (the content of docs/openapi.json)."""

from __future__ import annotations

import json

from hub.config import BASE_DIR

COMMITTED = BASE_DIR / "docs" / "openapi.json"


def openapi_text() -> str:
    """``hub.api.api``'s schema: sorted keys, 2-space indent, ASCII, one trailing newline.

    Sorted keys make the text depend on the API alone (not on the order routers
    are mounted), so a diff of the committed file shows only real changes.
    """
    from hub.api import api  # the URLconf's API, with every router mounted

    schema = api.get_openapi_schema()
    return json.dumps(schema, sort_keys=True, indent=2) + "\n"
