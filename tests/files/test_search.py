"""Name filters use a trigram index on each database and still mean "the name contains the text"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from securestore import create_app
from securestore.auth.models import User
from securestore.extensions import db
from securestore.files.listing import count_files, list_page
from securestore.files.models import StoredFile
from securestore.files.search import FTS_TABLE, TRIGRAM_INDEX
from tests import factories
from tests.factories import add_user, file_row
from tests.files.test_listing import QueryCounter
from tests.fixtures.apps import base_config
from tests.fixtures.databases import app_on_database

START = datetime(2026, 1, 1, tzinfo=UTC)
# Case that only Unicode folds, LIKE's wildcard and escape characters, a quote (FTS5's string
# delimiter), a Kelvin sign (folds to "k" in Unicode, not in ASCII).
TRICKY = [
    "Éclair.TXT",
    "éclair.txt",
    "ÉCLAIR 2.txt",
    "100% done.txt",
    "100 percent.txt",
    "a_b.txt",
    "axb.txt",
    "back\\slash.txt",
    'say "hi".txt',
    "KELVIN \u212a.txt",
    "kelvin k.txt",
]
FILTERS = ["ÉCL", "écl", "CLAIR", "0% d", "a_b", "\\sl", '"hi"', "n k", "n \u212a", ".TXT", "zzz"]


@pytest.fixture(params=["sqlite", "postgresql"])
def tricky_app(request: pytest.FixtureRequest, s3: Any, database_url: str) -> Iterator[Flask]:
    """Alice has the TRICKY names plus a deleted "Éclair deleted.txt"; bob has "bob éclair.txt"."""
    with app_on_database(request, database_url) as app:
        with app.app_context():
            alice, bob = add_user("alice"), add_user("bob")
            rows = [
                StoredFile(**file_row(alice, name, created_at=START + timedelta(seconds=n)))
                for n, name in enumerate(TRICKY)
            ]
            deleted = StoredFile(**file_row(alice, "Éclair deleted.txt", created_at=START))
            deleted.deleted_at = START
            db.session.add_all(
                [*rows, deleted, StoredFile(**file_row(bob, "bob éclair.txt", created_at=START))]
            )
            db.session.commit()
        yield app


def _ascii_contains(name: str, text: str) -> bool:
    """SQLite's LIKE: only ASCII letters match regardless of case."""
    table = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    return text.translate(table) in name.translate(table)


def _alice() -> User:
    return db.session.scalars(sa.select(User).filter_by(username="alice")).one()


@pytest.mark.parametrize("text", FILTERS)
def test_the_prefiltered_count_matches_the_pages_and_the_meaning_of_the_filter(
    tricky_app: Flask, text: str
) -> None:
    with tricky_app.app_context():
        alice = _alice()
        # Pages walk the ordered index: they check every name without the trigram prefilter.
        names = [item.name for item in list_page(alice, limit=200, name_filter=text).items]
        by_name = list_page(alice, limit=200, name_filter=text, order="name").items
        assert sorted(names) == sorted(item.name for item in by_name)
        assert count_files(alice, text, up_to=100) == len(names)
        expected = {name for name in TRICKY if _ascii_contains(name, text)}
        if db.engine.dialect.name == "sqlite":
            assert set(names) == expected
        else:
            # PostgreSQL's ILIKE also folds non-ASCII letters (by its locale, "K" to "k").
            assert set(names) >= expected


def test_a_prefilter_that_matches_more_than_the_limit_still_stops_at_it(tricky_app: Flask) -> None:
    with tricky_app.app_context():
        assert count_files(_alice(), "txt", up_to=3) == 4


def _plan(statement: str, parameters: Any) -> str:
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if not sqlite:
            # A few thousand rows are cheaper to read whole: ask PostgreSQL which index it
            # would use, not whether an index is worth it at this size.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        rows = connection.exec_driver_sql(explain + statement, parameters)
        return " ".join(str(row[-1]) for row in rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def many_app(request: pytest.FixtureRequest, s3: Any, database_url: str) -> Iterator[Flask]:
    """Alice has 5,000 files named "report NNNN.pdf", enough for PostgreSQL to pick indexes."""
    with app_on_database(request, database_url) as app:
        with app.app_context():
            alice = add_user("alice")
            rows = [
                {"owner_id": alice.id, "name": f"report {n:04d}.pdf", "key": f"k/{n}", "size": n,
                 "content_type": "application/pdf", "sha256": "0" * 64, "backup_state": "done",
                 "created_at": START + timedelta(seconds=n)}
                for n in range(5000)
            ]  # fmt: skip
            db.session.execute(sa.insert(StoredFile), rows)
            db.session.commit()
            # As autovacuum would after so many inserts; it also empties the GIN index's
            # pending list, which until then makes PostgreSQL price the trigram index out.
            steady = "ANALYZE" if db.engine.dialect.name == "sqlite" else "VACUUM ANALYZE"
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as link:
                link.exec_driver_sql(steady)
        yield app


def _statements(call: Any) -> tuple[str, Any]:
    with QueryCounter(db.engine) as counter:
        call()
    (statement,), (parameters,) = counter.statements, counter.parameters
    return statement, parameters


def test_a_rare_filter_is_answered_from_the_trigram_index(many_app: Flask) -> None:
    with many_app.app_context():
        alice = _alice()
        count = _plan(*_statements(lambda: count_files(alice, "0999", up_to=10_000)))
        page = _plan(*_statements(lambda: list_page(alice, name_filter="0999", order="name")))
        sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        # The FTS5 table drives the count; the page walks its index (see files.search).
        assert f"SCAN {FTS_TABLE} VIRTUAL TABLE" in count
        assert "ix_stored_files_folder_lower_name" in page and FTS_TABLE not in page
    else:
        assert TRIGRAM_INDEX in count and TRIGRAM_INDEX in page


def test_a_common_filter_walks_the_ordered_index_for_its_page(many_app: Flask) -> None:
    with many_app.app_context():
        alice = _alice()
        page = _plan(*_statements(lambda: list_page(alice, name_filter="report", order="name")))
    assert "_lower_name" in page  # the root's index on SQLite, the owner's on PostgreSQL
    assert TRIGRAM_INDEX not in page and FTS_TABLE not in page


def test_a_filter_too_short_for_trigrams_reads_the_names_instead(many_app: Flask) -> None:
    with many_app.app_context():
        alice = _alice()
        statement, _ = _statements(lambda: count_files(alice, "09", up_to=10_000))
        assert FTS_TABLE not in statement
        expected = sum("09" in f"report {n:04d}.pdf" for n in range(5000))
        assert count_files(alice, "09", up_to=10_000) == expected


def _fts_ids(text: str) -> list[int]:
    query = sa.text(
        "SELECT rowid FROM stored_files_name_fts WHERE stored_files_name_fts MATCH :text"
        " ORDER BY rowid"
    )
    return list(db.session.scalars(query, {"text": f'"{text}"'}))


def test_triggers_keep_the_sqlite_trigram_table_in_step(app: Flask, s3: Any) -> None:
    with app.app_context():
        alice = add_user("alice")
        record = StoredFile(**file_row(alice, "holiday.jpg", created_at=START))
        db.session.add(record)
        db.session.commit()
        assert _fts_ids("holiday") == [record.id]
        record.name = "birthday.jpg"
        db.session.commit()
        assert _fts_ids("holiday") == [] and _fts_ids("birthday") == [record.id]
        assert count_files(alice, "BIRTH", up_to=10) == 1
        db.session.delete(record)
        db.session.commit()
        assert _fts_ids("birthday") == []
        check = (
            "INSERT INTO stored_files_name_fts(stored_files_name_fts) VALUES ('integrity-check')"
        )
        db.session.execute(sa.text(check))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.db"
    return str(request.getfixturevalue("postgres_url"))


def _search_objects() -> set[str]:
    names = (
        sa.text("SELECT name FROM sqlite_master")
        if db.engine.dialect.name == "sqlite"
        else sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'stored_files'")
    )
    return set(db.session.scalars(names)) & {
        FTS_TABLE,
        TRIGRAM_INDEX,
        "stored_files_name_fts_insert",
        "stored_files_name_fts_update",
        "stored_files_name_fts_delete",
    }


def test_the_migration_indexes_existing_names_and_downgrades_cleanly(
    any_database: str, s3: Any
) -> None:
    app = create_app(base_config(any_database))
    with app.app_context():
        upgrade(revision="3c1f0e9a7b52")
        # Plain SQL: the models are at head, the schema not (later columns are absent).
        alice_id = db.session.execute(
            sa.text(
                "INSERT INTO users (username, password_hash, created_at, session_version)"
                " VALUES ('alice', 'x', :now, 1) RETURNING id"
            ),
            {"now": START},
        ).scalar_one()
        alice = User(id=alice_id, username="alice")
        factories.add_files([file_row(alice, "before the index.txt", created_at=START)])
        upgrade()
        sqlite = db.engine.dialect.name == "sqlite"
        assert _search_objects() == (
            {FTS_TABLE} | {f"stored_files_name_fts_{e}" for e in ("insert", "update", "delete")}
            if sqlite
            else {TRIGRAM_INDEX}
        )
        if sqlite:
            assert _fts_ids("BEFORE") == [1]
        assert count_files(alice, "the index", up_to=10) == 1
        db.session.remove()
        downgrade(revision="3c1f0e9a7b52")
        assert _search_objects() == set()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def unprivileged_postgres_url(postgres_url: str) -> Iterator[str]:
    """The test database, reached as a role that may create tables but not extensions."""
    role = f"securestore_test_{uuid.uuid4().hex[:12]}"
    owner = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        connection.exec_driver_sql(f'GRANT CREATE ON SCHEMA public TO "{role}"')
    try:
        yield sa.engine.make_url(postgres_url).set(username=role).render_as_string(False)
    finally:
        with owner.connect() as connection:
            connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
            connection.exec_driver_sql(f'DROP ROLE "{role}"')
        owner.dispose()


def test_without_pg_trgm_the_migration_warns_and_filters_still_work(
    unprivileged_postgres_url: str, s3: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    app = create_app(base_config(unprivileged_postgres_url))
    with app.app_context():
        upgrade()
        assert _search_objects() == set()
        alice = add_user("alice")
        db.session.add(StoredFile(**file_row(alice, "still found.txt", created_at=START)))
        db.session.commit()
        assert count_files(alice, "FOUND", up_to=10) == 1
        db.session.remove()
        db.engine.dispose()
    # alembic.ini's logging config (applied by each upgrade) writes to stderr.
    assert "pg_trgm could not be created" in capfd.readouterr().err
