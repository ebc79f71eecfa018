"""The hub's public contracts, exported for clients that generate code from them.

Owns ``docs/openapi.json``: the REST API's OpenAPI document, from which the web
app generates its REST types (``npm run gen:api`` in ``frontend/``). The committed
file must equal ``openapi_text()``; a test fails when it is stale. Regenerate it
with ``python manage.py export_openapi --output docs/openapi.json``.

(The WebSocket protocol's schema, ``docs/protocol.schema.json``, is exported by
``hub.realtime.protocol`` itself.)
"""
