"""Time the file list with 10,000 files: first and deep pages in every order, and a filter.

Run: .venv/bin/python bench/listing.py [FILES]. Prints milliseconds per request (median of 5)
through the Flask test client on SQLite; no S3 is touched (the list reads only the database).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade

from securestore import create_app
from securestore.auth.models import User
from securestore.extensions import db
from securestore.files import service
from securestore.files.models import BackupState, StoredFile

REPEAT = 5


def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="securestore-bench-"))
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "WTF_CSRF_ENABLED": False,
            "S3_REGION": "us-east-1",
        }
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with app.app_context():
        upgrade()
        user = User(username="bench", password_hash="x")
        db.session.add(user)
        db.session.commit()
        db.session.execute(
            db.insert(StoredFile),
            [
                {
                    "owner_id": user.id,
                    "name": f"document {n:05d}.pdf",
                    "key": f"bench/document {n:05d}.pdf",
                    "size": (n * 7919) % 10_000_000,
                    "content_type": "application/pdf",
                    "sha256": "0" * 64,
                    "created_at": start + timedelta(seconds=n),
                    "backup_state": BackupState.DONE,
                    "backup_attempts": 1,
                }
                for n in range(count)
            ],
        )
        db.session.commit()
        user_id = user.id
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    print(f"{count} files, SQLite, median of {REPEAT} GET /files/ (ms)")
    for order in service.ORDERS:
        deep = deep_cursor(app, user_id, order, pages=100)
        first = timed(client, f"/files/?order={order}")
        later = timed(client, f"/files/?order={order}&cursor={deep}")
        print(f"  {order:<10} first page {first:7.1f}   page 101 {later:7.1f}")
    print(f"  filter 'ment 12'      {timed(client, '/files/?q=ment%2012'):7.1f}")


def deep_cursor(app, user_id: int, order: str, pages: int) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        user = db.session.get(User, user_id)
        cursor = None
        for _ in range(pages):
            cursor = service.list_page(user, cursor=cursor, order=order).next_cursor
        assert cursor is not None
        return cursor


def timed(client, path: str) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(REPEAT):
        begin = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - begin) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(samples)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
