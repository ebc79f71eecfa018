"""Full-text search of messages and incidents (hub.incidents.fulltext).

PostgreSQL: GIN expression indexes over the exact expression the search filters
on (``to_tsvector(<HUB_SEARCH_CONFIG>, regexp_replace(text, SEPARATORS, ' ',
'g'))``); a message's only over rows that are not redacted. Changing
HUB_SEARCH_CONFIG later needs them rebuilt: ``manage.py migrate incidents 0002``
then ``manage.py migrate`` (and the same for ``alerts 0002``).

SQLite: FTS5 tables keyed by the row's id, filled from the existing rows and kept
in step by triggers. A later migration that makes Django rebuild
``incidents_message`` or ``incidents_incident`` on SQLite (an AlterField, say)
drops these triggers with the old table: it must create them again
(tests/integration/test_search.py checks that they exist).
"""

from django.conf import settings
from django.db import migrations

# Must equal hub.incidents.fulltext.PG_SEPARATORS (tests check that PostgreSQL uses the indexes).
SEPARATORS = "[[:punct:][:space:]،؛؟۔٪٫٬«»“”‘’…–—•·]+"
INCIDENT_TEXT = "title || ' ' || description"
TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'"


def _document(config: str, columns: str) -> str:
    return (
        f"to_tsvector('{config}'::regconfig, regexp_replace({columns}, '{SEPARATORS}', ' ', 'g'))"
    )


def postgres_forward(config: str) -> list[str]:
    return [
        "CREATE INDEX search_message_gin ON incidents_message USING gin "
        f"({_document(config, 'body')}) WHERE redacted_at IS NULL",
        "CREATE INDEX search_incident_gin ON incidents_incident USING gin "
        f"({_document(config, INCIDENT_TEXT)})",
    ]


POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS search_message_gin",
    "DROP INDEX IF EXISTS search_incident_gin",
]

SQLITE_FORWARD = [
    f'CREATE VIRTUAL TABLE search_message_fts USING fts5(body, tokenize="{TOKENIZE}")',
    "INSERT INTO search_message_fts(rowid, body) "
    "SELECT id, body FROM incidents_message WHERE redacted_at IS NULL",
    "CREATE TRIGGER search_message_fts_insert AFTER INSERT ON incidents_message "
    "WHEN new.redacted_at IS NULL BEGIN "
    "INSERT INTO search_message_fts(rowid, body) VALUES (new.id, new.body); END",
    # An edit replaces the text; a redaction removes it.
    "CREATE TRIGGER search_message_fts_update AFTER UPDATE OF id, body, redacted_at "
    "ON incidents_message BEGIN "
    "DELETE FROM search_message_fts WHERE rowid = old.id; "
    "INSERT INTO search_message_fts(rowid, body) "
    "SELECT new.id, new.body WHERE new.redacted_at IS NULL; END",
    "CREATE TRIGGER search_message_fts_delete AFTER DELETE ON incidents_message BEGIN "
    "DELETE FROM search_message_fts WHERE rowid = old.id; END",
    f'CREATE VIRTUAL TABLE search_incident_fts USING fts5(title, description, tokenize="{TOKENIZE}")',
    "INSERT INTO search_incident_fts(rowid, title, description) "
    "SELECT id, title, description FROM incidents_incident",
    "CREATE TRIGGER search_incident_fts_insert AFTER INSERT ON incidents_incident BEGIN "
    "INSERT INTO search_incident_fts(rowid, title, description) "
    "VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER search_incident_fts_update AFTER UPDATE OF id, title, description "
    "ON incidents_incident BEGIN "
    "DELETE FROM search_incident_fts WHERE rowid = old.id; "
    "INSERT INTO search_incident_fts(rowid, title, description) "
    "VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER search_incident_fts_delete AFTER DELETE ON incidents_incident BEGIN "
    "DELETE FROM search_incident_fts WHERE rowid = old.id; END",
]

SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_message_fts_insert",
    "DROP TRIGGER IF EXISTS search_message_fts_update",
    "DROP TRIGGER IF EXISTS search_message_fts_delete",
    "DROP TABLE IF EXISTS search_message_fts",
    "DROP TRIGGER IF EXISTS search_incident_fts_insert",
    "DROP TRIGGER IF EXISTS search_incident_fts_update",
    "DROP TRIGGER IF EXISTS search_incident_fts_delete",
    "DROP TABLE IF EXISTS search_incident_fts",
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
        ("incidents", "0002_message_mentions"),
    ]

    operations = [migrations.RunPython(forward, backward)]
