"""`backup restore`: rebuild a user's records and primary objects from the backup bucket alone.

Each backup copy carries `owner`, `filename` (percent-encoded) and `sha256` metadata, and sits
under the same `username/path` key as its primary. That is all it takes to recreate a row
(and the folders of its path), so
a lost database, a lost primary bucket, or both, can be recovered. Keys that already have a
row are left alone, which makes restore safe to run again and to run after restoring an older
database dump (it adds only what the dump lacks).

In a locked (versioned) backup bucket restore reads versions, not objects: a key whose newest
entry is a delete marker (an attacker's, or a lifecycle rule's after a purge) still has its
locked version underneath, and the newest version of each key is what comes back.
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
from securestore.files import folders, lifecycle
from securestore.files.models import BackupState, StoredFile
from securestore.storage.types import ListedObject, ObjectVersion

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
    for item, version_id in _backup_copies(f"{username}/"):
        if item.key in known:
            report.present += 1
            continue
        _restore_file(report.user, item, version_id)
        report.restored += 1
    return report


def _backup_copies(prefix: str) -> list[tuple[ListedObject, str | None]]:
    """Each key's copy to restore: the current object, or the newest version when locked."""
    if storage.lock_mode is None:
        return [(item, None) for item in storage.list_objects(storage.backup_bucket, prefix=prefix)]
    newest: dict[str, ObjectVersion] = {}
    for version in storage.list_versions(storage.backup_bucket, prefix=prefix):
        if not version.delete_marker and version.key not in newest:
            newest[version.key] = version
    return [(ListedObject(v.key, v.size, v.last_modified), v.version_id) for v in newest.values()]


def _restore_file(user: User, item: ListedObject, version_id: str | None) -> None:
    bucket = storage.backup_bucket
    info = storage.head(item.key, bucket=bucket, version_id=version_id)
    *parents, tail = item.key.split("/")[1:]
    name = unquote(info.metadata.get("filename", "")) or tail
    folder = folders.ensure_path(user, None, parents)
    sha256 = info.metadata.get("sha256") or storage.sha256(
        item.key, bucket=bucket, version_id=version_id
    )
    lifecycle.recover(
        StoredFile(
            owner_id=user.id,
            folder_id=None if folder is None else folder.id,
            name=name,
            key=item.key,
            size=item.size,
            content_type=info.content_type,
            sha256=sha256,
            created_at=item.last_modified,
            backup_state=BackupState.DONE,
            backed_up_at=item.last_modified,
            backup_attempts=0,
            backup_locked_until=info.locked_until,
        ),
        version_id=version_id,
    )
    log.info("restored %s (%d bytes) from the backup bucket", item.key, item.size)
