"""Listing latency at scale: one user with N files, on SQLite and on PostgreSQL.

Half of the user's files are at the top level and half in 50 folders. Times
`files.listing.list_page` (one query each) for the first page and pages deep in the top level's
list (cursors collected by walking it) in every order, a rare and a common name filter searched
across every folder (newest and name order), and `count_files` (the page shows the total), and
reports p50/p95 in milliseconds.
PostgreSQL is the server of `BENCH_DATABASE_URL` or `TEST_DATABASE_URL`, in a database of
its own that is dropped afterwards; without either it is skipped.
Run: python -m bench.listing [files]
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade

from securestore import create_app
from securestore.auth.models import User
from securestore.extensions import db
from securestore.files.listing import ORDERS, count_files, list_page
from securestore.files.models import Folder, StoredFile
from securestore.files.views import COUNT_LIMIT

SAMPLES = 100
PAGE = 50
DEPTH = 200
# The two worst cases of a name filter: a rare text (120 of the names) makes a walk of the
# ordered index read most rows (a count: all), a common one (every name) makes a prefilter
# return them all.
FILTERS = {"rare": "0999", "common": "doc"}


@contextmanager
def _postgres_url() -> Iterator[str | None]:
    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield None
        return
    name = f"securestore_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


FOLDERS = 50


def _fill(files: int) -> None:
    """One user with `files` files (every other one in one of FOLDERS folders), plus a
    neighbour whose files must be skipped."""
    owner, other = (
        User(username="many", password_hash="x"),
        User(username="other", password_hash="x"),
    )
    db.session.add_all([owner, other])
    db.session.flush()
    folders = [Folder(owner_id=owner.id, name=f"f{n}", path=f"f{n}") for n in range(FOLDERS)]
    db.session.add_all(folders)
    db.session.flush()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "owner_id": owner.id if number % 10 else other.id,
            "folder_id": folders[number % FOLDERS].id if number % 10 and number % 2 else None,
            "name": f"document {number:06d}.pdf",
            "key": f"u/{number}",
            "size": number,
            "content_type": "application/pdf",
            "sha256": "0" * 64,
            "created_at": start + timedelta(seconds=number),
            "backup_state": "done",
            "backup_attempts": 1,
        }
        for number in range(int(files * 10 / 9))
    ]
    for first in range(0, len(rows), 10_000):
        db.session.execute(sa.insert(StoredFile), rows[first : first + 10_000])
    db.session.commit()
    # Autovacuum would have vacuumed a table after so many inserts (PostgreSQL 13+): without
    # it, index-only scans still read the heap, the first reads of each page set hint bits, and
    # the trigram GIN index keeps its pending list (which makes the planner price it out).
    steady = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(steady)


def _cursors(user: User, order: str) -> list[str]:
    """The cursors of the first DEPTH pages in `order` (a keyset page's cost does not depend
    on how deep it is, so deeper pages would only lengthen the run)."""
    cursors: list[str] = []
    page = list_page(user, limit=PAGE, order=order)
    while page.next_cursor and len(cursors) < DEPTH:
        cursors.append(page.next_cursor)
        page = list_page(user, cursor=page.next_cursor, limit=PAGE, order=order)
    return cursors


def _percentiles(call: Callable[[], Any]) -> dict[str, float]:
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=20)
    return {"p50": round(statistics.median(times), 2), "p95": round(cuts[18], 2)}


def _measure_database(url: str, files: int, migrate: bool) -> dict[str, Any]:
    app = create_app(
        {"SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": url,
         "S3_PRIMARY_BUCKET": "p", "S3_BACKUP_BUCKET": "b"}
    )  # fmt: skip
    with app.app_context():
        if migrate:
            upgrade()
        _fill(files)
        user = db.session.scalars(sa.select(User).filter_by(username="many")).one()
        rng = random.Random(6)
        result: dict[str, Any] = {"files": files}
        for order in ORDERS:
            cursors = _cursors(user, order)
            result[order] = {
                "first": _percentiles(lambda o=order: list_page(user, limit=PAGE, order=o)),
                "later": _percentiles(
                    lambda o=order, c=cursors: list_page(
                        user, cursor=rng.choice(c), limit=PAGE, order=o
                    )
                ),
            }
        # The page also shows how many files there are (and match the filter).
        result["count"] = _percentiles(lambda: count_files(user, up_to=COUNT_LIMIT))
        for kind, text in FILTERS.items():
            result[f"filter_{kind}"] = {
                order: _percentiles(
                    lambda t=text, o=order: list_page(
                        user, name_filter=t, limit=PAGE, order=o, recursive=True
                    )
                )
                for order in ("newest", "name")
            } | {
                "count": _percentiles(
                    lambda t=text: count_files(user, t, up_to=COUNT_LIMIT, recursive=True)
                )
            }
        db.session.remove()
        db.engine.dispose()
    return result


def measure(files: int) -> dict[str, Any]:
    """Latencies on SQLite and on PostgreSQL (or why PostgreSQL was skipped)."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="securestore-listing-") as folder:
        results["sqlite"] = _measure_database(f"sqlite:///{folder}/list.db", files, True)
    with _postgres_url() as url:
        if url is None:
            results["postgresql"] = {"skipped": "set BENCH_DATABASE_URL or TEST_DATABASE_URL"}
        else:
            results["postgresql"] = _measure_database(url, files, True)
    return results


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
