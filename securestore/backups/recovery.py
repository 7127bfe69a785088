"""`backup restore`: rebuild a user's records and primary objects from the backup bucket alone.

Each backup copy carries `owner`, `filename` (percent-encoded) and `sha256` metadata, and sits
under the same `username/name` key as its primary. That is all it takes to recreate a row, so
a lost database, a lost primary bucket, or both, can be recovered. Keys that already have a
row are left alone, which makes restore safe to run again and to run after restoring an older
database dump (it adds only what the dump lacks).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from securestore.auth.models import User
from securestore.auth.service import find_user, validate_username
from securestore.extensions import db, storage
from securestore.files import lifecycle
from securestore.files.models import BackupState, StoredFile
from securestore.storage.types import ListedObject

log = logging.getLogger(__name__)


@dataclass
class RestoreReport:
    """What `backup restore` did for one user."""

    user: User
    created_user: bool = False
    restored: int = 0
    present: int = 0


def restore_user(username: str) -> RestoreReport:
    """Recreate every file of `username` found in the backup bucket that has no row.

    A missing account is recreated with a random password nobody knows: the operator sets a
    real one with `flask users set-password`. For each file the primary object is copied
    back first and the row committed after (`files.lifecycle.recover`), as an upload does.
    """
    username = validate_username(username)
    user = find_user(username)
    report = RestoreReport(user=user or User(username=username))
    if user is None:
        report.user.password_hash = generate_password_hash(secrets.token_urlsafe(32))
        db.session.add(report.user)
        db.session.commit()
        report.created_user = True
    known = set(
        db.session.scalars(
            select(StoredFile.key).where(StoredFile.key.startswith(f"{username}/", autoescape=True))
        )
    )
    for item in storage.list_objects(storage.backup_bucket, prefix=f"{username}/"):
        if item.key in known:
            report.present += 1
            continue
        _restore_file(report.user, item)
        report.restored += 1
    return report


def _restore_file(user: User, item: ListedObject) -> None:
    info = storage.head(item.key, bucket=storage.backup_bucket)
    name = unquote(info.metadata.get("filename", "")) or item.key.split("/", 1)[1]
    sha256 = info.metadata.get("sha256") or storage.sha256(item.key, bucket=storage.backup_bucket)
    lifecycle.recover(
        StoredFile(
            owner_id=user.id,
            name=name,
            key=item.key,
            size=item.size,
            content_type=info.content_type,
            sha256=sha256,
            created_at=item.last_modified,
            backup_state=BackupState.DONE,
            backed_up_at=item.last_modified,
            backup_attempts=0,
        )
    )
    log.info("restored %s (%d bytes) from the backup bucket", item.key, item.size)
