"""Recently deleted files: gone from the primary bucket, restorable from the backup copy.

A deleted file keeps its row with `deleted_at` set until `backup sync` purges it after
`BACKUP_RETENTION_DAYS`. Keeping the row keeps its name and key reserved: a new upload of the
same name gets `name (2).ext`, so its backup copy can never overwrite the deleted file's.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.backups.service import back_up, claim, new_lease_owner
from securestore.backups.verify import check_copy
from securestore.db_types import utcnow
from securestore.errors import NotFoundError, StorageError
from securestore.extensions import db, storage
from securestore.files.models import BackupState, StoredFile


class BackupNotReadyError(StorageError):
    """Deleting now would leave no copy to restore from."""

    status = 503
    code = "backup_pending"
    message = (
        "This file's backup copy is not made yet, so deleting it now could not be undone. "
        "Nothing was changed; try again in a few minutes."
    )


class BackupDamagedError(StorageError):
    """The backup copy is missing or does not match the file's recorded size and hash."""

    code = "backup_damaged"
    message = "The backup copy of this file is damaged, so it cannot be restored."


def retention() -> timedelta:
    """How long a deleted file stays restorable (`BACKUP_RETENTION_DAYS`)."""
    return timedelta(days=current_app.config["BACKUP_RETENTION_DAYS"])


def move_to_trash(record: StoredFile) -> None:
    """Delete a file from the primary bucket, keeping its row and backup copy for Restore.

    A file whose backup is not done gets one more copy attempt first; if that fails the
    delete is refused, because it would destroy the only copy.
    """
    if record.backup_state is not BackupState.DONE:
        if not (claim(record.id, new_lease_owner("delete")) and back_up(record)):
            raise BackupNotReadyError()
    storage.delete(record.key)
    record.deleted_at = utcnow()
    db.session.commit()


def list_deleted(user: User) -> list[StoredFile]:
    """Return the user's deleted files that can still be restored, most recent first."""
    query = (
        select(StoredFile)
        .where(StoredFile.owner_id == user.id, StoredFile.deleted_at.is_not(None))
        .order_by(StoredFile.deleted_at.desc(), StoredFile.id.desc())
    )
    return list(db.session.scalars(query))


def restore(user: User, file_id: int) -> StoredFile:
    """Bring a deleted file back: copy its backup to the primary bucket, then list it again.

    The row is revived with a conditional UPDATE so a purge that got there first wins
    cleanly: the copy just made is removed again and the user gets a 404. A second Restore
    of the same file racing this one just finds it restored.
    """
    record = db.session.get(StoredFile, file_id)
    if record is None or record.owner_id != user.id or record.deleted_at is None:
        raise NotFoundError()
    damage = check_copy(record, storage.backup_bucket)
    if damage is not None:
        raise BackupDamagedError(detail=f"{record.key}: backup {damage[0]}, {damage[1]}")
    storage.copy_from_backup(record.key, size=record.size, content_type=record.content_type)
    revived = db.session.execute(
        update(StoredFile)
        .where(StoredFile.id == file_id, StoredFile.deleted_at.is_not(None))
        .values(deleted_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if revived.rowcount != 1:  # type: ignore[attr-defined]
        exists = db.session.scalar(select(StoredFile.id).where(StoredFile.id == file_id))
        if exists is None:
            storage.delete(record.key)
            raise NotFoundError()
    db.session.refresh(record)
    audit.record("restore", user=user, detail=record.audit_label)
    return record
