"""Full-text search of alert titles and bodies (hub.incidents.fulltext).

PostgreSQL: a GIN expression index over the exact expression the search filters
on. SQLite: an FTS5 table keyed by the alert's id, filled from the existing rows
and kept in step by triggers (a later migration that makes Django rebuild
``alerts_alert`` on SQLite drops them with the old table: it must create them
again; tests/integration/test_search.py checks that they exist). See
``incidents.0003_search_fulltext`` for HUB_SEARCH_CONFIG changes.
"""

from django.conf import settings
from django.db import migrations

# Must equal hub.incidents.fulltext.PG_SEPARATORS (tests check that PostgreSQL uses the index).
SEPARATORS = "[[:punct:][:space:]،؛؟۔٪٫٬«»“”‘’…–—•·]+"
TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'"


def postgres_forward(config):
    document = (
        f"to_tsvector('{config}'::regconfig, "
        f"regexp_replace(title || ' ' || body, '{SEPARATORS}', ' ', 'g'))"
    )
    return [f"CREATE INDEX search_alert_gin ON alerts_alert USING gin ({document})"]


POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS search_alert_gin"]

SQLITE_FORWARD = [
    f'CREATE VIRTUAL TABLE search_alert_fts USING fts5(title, body, tokenize="{TOKENIZE}")',
    "INSERT INTO search_alert_fts(rowid, title, body) SELECT id, title, body FROM alerts_alert",
    "CREATE TRIGGER search_alert_fts_insert AFTER INSERT ON alerts_alert BEGIN "
    "INSERT INTO search_alert_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER search_alert_fts_update AFTER UPDATE OF id, title, body ON alerts_alert BEGIN "
    "DELETE FROM search_alert_fts WHERE rowid = old.id; "
    "INSERT INTO search_alert_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER search_alert_fts_delete AFTER DELETE ON alerts_alert BEGIN "
    "DELETE FROM search_alert_fts WHERE rowid = old.id; END",
]

SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_alert_fts_insert",
    "DROP TRIGGER IF EXISTS search_alert_fts_update",
    "DROP TRIGGER IF EXISTS search_alert_fts_delete",
    "DROP TABLE IF EXISTS search_alert_fts",
]


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql, params=None)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, postgres_forward(settings.HUB_SEARCH_CONFIG))
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, POSTGRES_BACKWARD)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_cap_source_unique"),
        ("incidents", "0003_search_fulltext"),
    ]

    operations = [migrations.RunPython(forward, backward)]
