"""Listing pages: keyset cursors, one bounded query per page, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from securestore.auth.models import User
from securestore.errors import ValidationError
from securestore.extensions import db
from securestore.files import views
from securestore.files.listing import count_files, list_page
from securestore.files.models import StoredFile
from tests.factories import add_user, file_row
from tests.fixtures.databases import app_on_database
from tests.fixtures.forms import AuthActions

FILES = 230
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def filled_app(request: pytest.FixtureRequest, s3: Any, database_url: str) -> Iterator[Flask]:
    """An app whose user `alice` has FILES files (some sharing a timestamp) and bob one."""
    with app_on_database(request, database_url) as app:
        with app.app_context():
            alice, bob = add_user("alice"), add_user("bob")
            rows = [
                # Pairs of files share a timestamp: the id must break the tie.
                StoredFile(
                    **file_row(
                        alice,
                        f"file {number:03d}.txt",
                        created_at=START + timedelta(seconds=number // 2),
                    )
                )
                for number in range(FILES)
            ]
            rows.append(StoredFile(**file_row(bob, "bob only.txt", created_at=START)))
            db.session.add_all(rows)
            db.session.commit()
        yield app


class QueryCounter:
    """Count the SQL statements an engine runs while active (and keep their parameters)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.parameters: list[Any] = []

    def __enter__(self) -> QueryCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        self.statements.append(statement)
        self.parameters.append(parameters)


def walk(app: Flask, order: str, limit: int, name_filter: str | None = None) -> list[list[str]]:
    """Return the names on every page, checking that each page costs exactly one query."""
    pages: list[list[str]] = []
    cursor = None
    with app.app_context():
        alice = db.session.scalars(sa.select(User).filter_by(username="alice")).one()
        while True:
            with QueryCounter(db.engine) as counter:
                page = list_page(
                    alice, cursor=cursor, limit=limit, order=order, name_filter=name_filter
                )
            assert len(counter.statements) == 1
            pages.append([item.name for item in page.items])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor


def test_newest_pages_cover_every_file_once_newest_first(filled_app: Flask) -> None:
    pages = walk(filled_app, "newest", 50)
    assert [len(page) for page in pages] == [50, 50, 50, 50, 30]
    names = [name for page in pages for name in page]
    # Same timestamp: the later insert (higher id) first.
    assert names == [f"file {n:03d}.txt" for n in reversed(range(FILES))]


def test_oldest_and_name_orders_walk_the_same_files(filled_app: Flask) -> None:
    oldest = [name for page in walk(filled_app, "oldest", 64) for name in page]
    by_name = [name for page in walk(filled_app, "name", 100) for name in page]
    assert oldest == [f"file {n:03d}.txt" for n in range(FILES)]
    assert by_name == sorted(by_name)
    assert set(by_name) == set(oldest)


def test_name_pages_keep_every_non_ascii_name_at_a_page_boundary(filled_app: Flask) -> None:
    # SQLite's lower() leaves "É" as it is while Python's gives "é": a cursor folded in Python
    # after "Éz" would have skipped "éa". 231 = 3 x 77, so page 3 ends exactly on "Éz".
    with filled_app.app_context():
        alice = db.session.scalars(sa.select(User).filter_by(username="alice")).one()
        db.session.add_all(
            StoredFile(**file_row(alice, name, created_at=START)) for name in ("Éz.txt", "éa.txt")
        )
        db.session.commit()
    names = [name for page in walk(filled_app, "name", 77) for name in page]
    assert sorted(names) == sorted(
        [f"file {n:03d}.txt" for n in range(FILES)] + ["Éz.txt", "éa.txt"]
    )


def test_counting_stops_just_past_its_limit(filled_app: Flask) -> None:
    with filled_app.app_context():
        alice = db.session.scalars(sa.select(User).filter_by(username="alice")).one()
        assert count_files(alice, up_to=1000) == FILES
        assert count_files(alice, up_to=FILES) == FILES
        assert count_files(alice, up_to=100) == 101
        assert count_files(alice, "FILE 1", up_to=1000) == 100


def test_the_name_filter_is_case_insensitive_and_literal(filled_app: Flask) -> None:
    matches = [name for page in walk(filled_app, "name", 50, "FILE 1") for name in page]
    assert matches == [f"file {n}.txt" for n in range(100, 200)]
    # % and _ are plain characters, not wildcards.
    assert walk(filled_app, "newest", 50, "%") == [[]]
    assert walk(filled_app, "newest", 50, "file_0") == [[]]


def test_another_users_files_never_appear(filled_app: Flask) -> None:
    names = [name for page in walk(filled_app, "newest", 200) for name in page]
    assert "bob only.txt" not in names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cursor": "not a cursor"}, "page link is out of date"),
        ({"cursor": "WyJuYW1lIiwgImEiLCAxXQ"}, "page link is out of date"),  # a "name" cursor
        ({"order": "size"}, "Unknown order"),
        ({"limit": 0}, "A page holds 1 to 200 files"),
        ({"name_filter": "a\x00b"}, "cannot contain a NUL"),
    ],
)
def test_bad_page_requests_are_refused_clearly(
    filled_app: Flask, kwargs: dict[str, Any], message: str
) -> None:
    with filled_app.app_context():
        alice = db.session.scalars(sa.select(User).filter_by(username="alice")).one()
        with pytest.raises(ValidationError, match=message):
            list_page(alice, **kwargs)


def test_the_newest_page_query_walks_the_owner_index_without_sorting(app: Flask, s3: Any) -> None:
    with app.app_context():
        query = (
            sa.select(StoredFile)
            .where(StoredFile.owner_id == 1)
            .where(sa.tuple_(StoredFile.created_at, StoredFile.id) < (START, 5))
            .order_by(StoredFile.created_at.desc(), StoredFile.id.desc())
            .limit(51)
        )
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(
            row[-1] for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))
        )
    assert "ix_stored_files_owner_created_name" in plan
    assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize("order", ["name", "name_desc"])
def test_name_pages_walk_the_lower_name_index_without_sorting(
    filled_app: Flask, order: str
) -> None:
    with filled_app.app_context():
        alice = db.session.scalars(sa.select(User).filter_by(username="alice")).one()
        cursor = list_page(alice, limit=10, order=order).next_cursor
        with QueryCounter(db.engine) as counter:
            list_page(alice, cursor=cursor, limit=10, order=order)
        (statement,), (parameters,) = counter.statements, counter.parameters
        with db.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if not sqlite:
                # A few hundred rows are cheaper to sort than to look up: ask PostgreSQL whether
                # the index can serve the page, not whether it is worth it at this size.
                connection.exec_driver_sql("SET LOCAL enable_sort = off")
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = " ".join(
                str(row[-1]) for row in connection.exec_driver_sql(explain + statement, parameters)
            )
    # The root's own index, or (PostgreSQL, which filters `folder_id IS NULL` on the way) the
    # owner's: either serves the page in order.
    assert re.search(r"ix_stored_files_(folder|owner)_lower_name", plan)
    assert "TEMP B-TREE" not in plan and "Sort" not in plan


def test_the_files_page_shows_a_next_link_that_leads_to_the_older_files(
    app: Flask, auth: AuthActions, client: Any
) -> None:
    auth.signed_up("alice")
    with app.app_context():
        alice = db.session.scalars(sa.select(User).filter_by(username="alice")).one()
        db.session.add_all(
            StoredFile(
                **file_row(alice, f"doc {n:02d}.txt", created_at=START + timedelta(minutes=n))
            )
            for n in range(60)
        )
        db.session.commit()
        engine = db.engine
    with QueryCounter(engine) as counter:
        first = client.get("/files/").get_data(as_text=True)
    # The session's user, the page, the total and the storage used: nothing per file.
    assert len(counter.statements) <= 5  # user, files, count, usage, subfolders
    assert "doc 59.txt" in first and "doc 10.txt" in first and "doc 09.txt" not in first
    next_link = first.split('data-load-more href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_link).get_data(as_text=True)
    assert "doc 09.txt" in second and "doc 00.txt" in second and "doc 10.txt" not in second
    assert "data-load-more" not in second
    assert client.get("/files/?cursor=garbage").status_code == 400
    refused = client.get("/files/?q=a%00b")
    assert refused.status_code == 400
    assert "cannot contain a NUL" in refused.get_data(as_text=True)


def test_a_total_past_the_count_limit_reads_more_than(
    app: Flask, auth: AuthActions, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "COUNT_LIMIT", 30)
    auth.signed_up("alice")
    with app.app_context():
        alice = db.session.scalars(sa.select(User).filter_by(username="alice")).one()
        db.session.add_all(
            StoredFile(**file_row(alice, f"doc {n:02d}.txt", created_at=START)) for n in range(40)
        )
        db.session.commit()
    assert 'data-total="31">More than 30 files</span>' in client.get("/files/").get_data(True)
    filtered = client.get("/files/?q=doc+1").get_data(as_text=True)
    assert 'data-total="10">10 files match “doc 1”</span>' in filtered
