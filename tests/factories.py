"""Rows for tests that need accounts and file records, without S3 or password hashing.

Call inside an app context. Listing and search tests never read the bytes, so a file row
here has no object behind it; tests that need objects upload through the app instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from securestore.auth.models import User
from securestore.extensions import db
from securestore.files.models import BackupState, StoredFile

START = datetime(2026, 1, 1, tzinfo=UTC)


def add_user(username: str = "alice") -> User:
    """Create an account that nobody logs into (its password hash is a placeholder)."""
    user = User(username=username, password_hash="not used")
    db.session.add(user)
    db.session.commit()
    return user


def file_row(owner: User, name: str, **columns: Any) -> dict[str, Any]:
    """One `stored_files` row for a bulk insert: a small, backed-up text file by default."""
    return {
        "owner_id": owner.id,
        "name": name,
        "key": f"{owner.username}/{name}",
        "size": 1,
        "content_type": "text/plain",
        "sha256": "0" * 64,
        "created_at": START,
        "backup_state": BackupState.DONE,
        "backup_attempts": 1,
        **columns,
    }


def add_files(rows: Iterable[dict[str, Any]]) -> None:
    """Insert file rows in one statement and commit."""
    db.session.execute(db.insert(StoredFile), list(rows))
    db.session.commit()
