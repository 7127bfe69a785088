"""Trigram indexes that let a name filter (`ILIKE '%text%'`) skip the names that cannot match.

Each database gets its own, built by hand in migration 5b7e2d9c41a8 and absent from the models:
- PostgreSQL: `ix_stored_files_name_trgm`, a `pg_trgm` GIN index the planner uses by itself
  when the text is rare (and ignores when walking an ordered index finds a page sooner).
- SQLite: `stored_files_name_fts`, an FTS5 table with the trigram tokenizer over the names
  (external content, kept in step by triggers). SQLite's planner cannot weigh it against an
  ordered index, so `prefiltered` drives a query from it only where every match is needed.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, column, table

from securestore.extensions import db
from securestore.files.models import StoredFile

TRIGRAM_INDEX = "ix_stored_files_name_trgm"
FTS_TABLE = "stored_files_name_fts"
# Trigrams need three characters.
_MIN_TEXT = 3

_fts = table(FTS_TABLE, column("rowid"), column("name"))


def prefiltered(query: Select[Any], name_filter: str | None) -> Select[Any]:
    """Drive a query on `StoredFile` from the SQLite trigram table's matches for `name_filter`.

    The candidates are a superset of the query's own name condition, which the caller keeps:
    FTS5 folds the case of all of Unicode, SQLite's LIKE only of ASCII. Use it where the query
    needs every match (a count): each candidate costs a row lookup, so a page that stops after
    50 rows walks its ordered index instead. Elsewhere the query comes back unchanged.
    """
    if (
        not name_filter
        or len(name_filter) < _MIN_TEXT
        or db.session.get_bind().dialect.name != "sqlite"
    ):
        return query
    phrase = '"' + name_filter.replace('"', '""') + '"'
    return query.join(_fts, _fts.c.rowid == StoredFile.id).where(_fts.c.name.match(phrase))


def like_escaped(text: str) -> str:
    """`text` with LIKE's wildcards and escape character escaped (use `escape="\\"`)."""
    return re.sub(r"([\\%_])", r"\\\1", text)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Keep the trigram indexes (and FTS5's shadow tables) out of Alembic's model comparison."""
    if type_ == "table":
        return not (name or "").startswith(FTS_TABLE)
    return not (type_ == "index" and name == TRIGRAM_INDEX)
