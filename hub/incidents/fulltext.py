"""Full-text matching for "search the record", on PostgreSQL and on SQLite alike.

What matches (the same on both databases, and what the tests check on both):

- A query is split into *terms*: runs of letters, digits and combining marks
  (Unicode categories L, N, M and Co); everything else (spaces, punctuation,
  symbols, quotes, ``*``, ``:``, ``&|!()``) only separates terms and never has a
  meaning of its own. Words such as ``AND``, ``OR``, ``NOT`` or ``NEAR`` are
  plain terms. A query with no term matches nothing.
- A text matches when it holds, for every term (AND), a word that starts with
  it, ignoring case: ``p7731904`` is found by ``P7731904`` and by ``P773``;
  ``MV Newname`` by ``newname mv``. Words are split the same way as terms, so
  a phone number written ``+264 81 555-0199`` is found by ``555 0199``, by
  ``+264 81 555 0199`` or by ``81 555``, but not by ``0815550199`` (the digits
  are not re-grouped), and ``a.b@example.com`` by ``example``.
- Urdu (and any other script) matches word by word as written; diacritics are
  kept, not folded (``café`` is not ``cafe``).

PostgreSQL: ``to_tsvector(<HUB_SEARCH_CONFIG>, regexp_replace(text, SEPARATORS,
' ', 'g')) @@ to_tsquery(...)`` with GIN expression indexes over exactly that
expression (migrations ``incidents.0003_search_fulltext`` and
``alerts.0003_search_fulltext``; a message's index only covers rows that are not
redacted). Punctuation is turned into spaces first so that PostgreSQL's parser
does not keep ``+264``, ``555-0199`` or ``a.b@example.com`` as one token.
The configuration defaults to ``simple`` on purpose: it lower-cases and keeps
every word. A language configuration (``english``) would stem and drop stop
words, which does nothing for passport numbers, vessel names or phone numbers,
makes "a word that starts with" surprising (``running`` is indexed as ``run``),
and there is no Urdu configuration at all; ``simple`` treats every language
alike. The tsquery is built here from the terms (``'term':* & ...``, each term
single-quoted), never parsed from user input, so no input can make it fail.

SQLite: FTS5 tables ``search_message_fts`` (body; only messages that are not
redacted), ``search_incident_fts`` (title, description) and ``search_alert_fts``
(title, body), keyed by the row's id and kept in step by triggers on insert,
update and delete of the source rows, tokenised by ``unicode61`` with combining
marks kept in words and no diacritic folding (like PostgreSQL's parser). The
MATCH query is built from the terms, each a quoted string with a prefix star
(``"term"*``), so FTS5's operators never reach it.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Expression, F, Func, Q, Value
from django.db.models.expressions import RawSQL

Table = Literal["message", "incident", "alert"]

# Text columns searched, per table (joined with a space).
COLUMNS: dict[Table, tuple[str, ...]] = {
    "message": ("body",),
    "incident": ("title", "description"),
    "alert": ("title", "body"),
}
FTS_TABLES: dict[Table, str] = {
    "message": "search_message_fts",
    "incident": "search_incident_fts",
    "alert": "search_alert_fts",
}

# The characters turned into spaces before PostgreSQL parses a text: ASCII
# punctuation and spaces, and the punctuation of Arabic script and typography.
# The index expressions of the migrations use this very string.
PG_SEPARATORS = "[[:punct:][:space:]،؛؟۔٪٫٬«»“”‘’…–—•·]+"


def terms(q: str) -> list[str]:
    """The query's terms, in order, without duplicates (case kept)."""
    found: list[str] = []
    word: list[str] = []
    for char in q + " ":
        category = unicodedata.category(char)
        if category[0] in "LNM" or category == "Co":
            word.append(char)
        elif word:
            term = "".join(word)
            if term.lower() not in {t.lower() for t in found}:
                found.append(term)
            word = []
    return found


def tsquery(words: list[str]) -> str:
    """A tsquery (to_tsquery's syntax) for ``words``: every one, each as a prefix."""
    return " & ".join("'" + w.replace("'", "''") + "':*" for w in words)


def fts5_query(words: list[str]) -> str:
    """An FTS5 MATCH expression for ``words``: every one, each as a prefix."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def search_config() -> str:
    return str(getattr(settings, "HUB_SEARCH_CONFIG", "simple"))


class _PgMatch(Func):
    """``to_tsvector(cfg, regexp_replace(a || ' ' || b, SEP, ' ', 'g')) @@ to_tsquery(cfg, q)``:
    the expression of the GIN indexes, so PostgreSQL uses them."""

    output_field = BooleanField()

    def __init__(self, columns: tuple[str, ...], query: str) -> None:
        super().__init__(*[F(c) for c in columns], Value(query))

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        config = search_config()
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            sql, more = compiler.compile(expression)
            parts.append(sql)
            params.extend(more)
        document = " || ' ' || ".join(parts[:-1])
        return (
            f"to_tsvector('{config}'::regconfig, regexp_replace({document}, "
            f"'{PG_SEPARATORS}', ' ', 'g')) @@ to_tsquery('{config}'::regconfig, {parts[-1]})",
            params,
        )


def matches(table: Table, q: str) -> Q | Expression:
    """A filter on ``table``'s model: its text matches every term of ``q``."""
    words = terms(q)
    if not words:
        return Q(pk__in=[])
    if connection.vendor == "postgresql":
        return _PgMatch(COLUMNS[table], tsquery(words))
    fts = FTS_TABLES[table]  # one of three fixed names; the query is a parameter
    sql = f"SELECT rowid FROM {fts} WHERE {fts} MATCH %s"  # noqa: S608
    return Q(pk__in=RawSQL(sql, [fts5_query(words)]))  # noqa: S611
