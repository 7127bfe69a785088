"""Move a file's objects to a new key in both buckets, journaled so that a crash is repaired.

A file's key is its path, so a rename or move (of the file, or of a folder above it) is a
server-side copy to the new key in each bucket (multipart above 5 GiB), then the switch of the
row to the new key, then the deletion of the old keys. A `PendingMove` row is committed
before the first copy and deleted after the last delete, so after a crash `repair_pending`
(run by `backup sync` and `backup verify --repair`) knows exactly what was under way:

- the row still has the old key: the switch never happened, the copies are undone;
- the row has the new key: the switch happened, the old keys are deleted.

Either way the file ends up under one name, never under neither and never as two files. A
file whose key no longer matches its folder's path (a folder move stopped half-way) is moved
by `settle_misplaced`. During a move the row always names a key that holds the object, so
the file stays downloadable throughout.
"""

from __future__ import annotations

import logging

from sqlalchemy import exists, select

from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.errors import StorageError, raises
from securestore.extensions import db, storage
from securestore.files import lifecycle
from securestore.files.backup_rules import backup_metadata, lock_until
from securestore.files.copies import backup_copy
from securestore.files.folders import in_subtree
from securestore.files.models import BackupState, Folder, PendingMove, StoredFile
from securestore.files.naming import object_key

log = logging.getLogger(__name__)

# Misplaced files moved per `settle_misplaced` query, so a huge folder moves in bounded steps.
BATCH = 100


@raises(StorageError)
def move(record: StoredFile, name: str, folder: Folder | None) -> None:
    """Give the file `name` in `folder`: copy it to that key, switch its row there; commits.

    `StorageError` during the copies undoes them and the row keeps its old key, name and
    folder; a failure to delete an old key afterwards is left to `repair_pending`. The caller
    has checked that the name is free there.
    """
    from_key = record.key
    to_key = object_key(record.owner.username, name, None if folder is None else folder.path)
    if from_key != to_key:
        journal = PendingMove(file_id=record.id, from_key=from_key, to_key=to_key)
        db.session.add(journal)
        db.session.commit()
        try:
            _copy(record, from_key, to_key)
        except StorageError:
            _undo(journal)
            raise
    record.name, record.key = name, to_key
    record.folder_id = None if folder is None else folder.id
    db.session.commit()
    if from_key != to_key:
        try:
            _finish(journal)
        except StorageError:
            # The file is at its new key; the old one is left for `repair_pending`.
            db.session.rollback()


def settle_misplaced(folder: Folder | None = None) -> int:
    """Move every file (of `folder`'s tree, or anyone's) whose key is not its folder's path:
    a folder move stopped half-way. Returns how many moved; reads `BATCH` files at a time."""
    path = User.username + "/" + Folder.path + "/" + StoredFile.name
    query = (
        select(StoredFile)
        .join(Folder, StoredFile.folder_id == Folder.id)
        .join(User, StoredFile.owner_id == User.id)
        .where(StoredFile.key != path, ~exists().where(PendingMove.file_id == StoredFile.id))
        .order_by(StoredFile.id)
    )
    if folder is not None:
        query = query.where(in_subtree(folder))
    moved, failed = 0, set[int]()
    while batch := db.session.scalars(query.where(StoredFile.id.not_in(failed)).limit(BATCH)).all():
        for record in batch:
            try:
                move(record, record.name, db.session.get(Folder, record.folder_id))
            except StorageError:
                failed.add(record.id)
                continue
            moved += 1
    return moved


def repair_pending() -> int:
    """Finish or undo every move a crash interrupted (see the module docstring); return how
    many were repaired."""
    repaired = 0
    for journal in db.session.scalars(select(PendingMove).order_by(PendingMove.id)).all():
        record = db.session.get(StoredFile, journal.file_id)
        try:
            if record is not None and record.key == journal.to_key:
                _finish(journal)
            else:
                _undo(journal)
        except StorageError as error:
            log.error("move of %s to %s still unrepaired: %s", journal.from_key, journal.to_key,
                      error.detail)  # fmt: skip
            continue
        repaired += 1
    return repaired


def _copy(record: StoredFile, from_key: str, to_key: str) -> None:
    """Copy both copies of the file from `from_key` to `to_key` (only the backup when deleted)."""
    now = utcnow()
    if record.deleted_at is None:
        storage.copy_within(
            storage.primary_bucket, from_key, to_key, size=record.size,
            content_type=record.content_type, metadata={},
        )  # fmt: skip
    found = backup_copy(record)
    if found.damage is not None:
        # Nothing good to carry over: the next `backup sync` copies the primary afresh.
        log.warning("no good backup of %s to move (%s)", from_key, found.damage[1])
        record.backup_state = BackupState.PENDING
        return
    storage.copy_within(
        storage.backup_bucket, from_key, to_key, size=record.size,
        content_type=record.content_type, metadata=backup_metadata(record, key=to_key),
        version_id=found.version_id, locked_until=lock_until(now),
    )  # fmt: skip
    record.backup_locked_until = lock_until(now)


def _finish(journal: PendingMove) -> None:
    """The row is at the new key: delete the old one in both buckets, then the journal."""
    _delete_both(journal.from_key)
    db.session.delete(journal)
    db.session.commit()


def _undo(journal: PendingMove) -> None:
    """The row is still at the old key: delete the new copies, then the journal."""
    _delete_both(journal.to_key)
    db.session.delete(journal)
    db.session.commit()


def _delete_both(key: str) -> None:
    """Delete `key` in both buckets, unless a row (this file, or another by now) holds it."""
    if db.session.scalar(select(StoredFile.id).where(StoredFile.key == key)) is not None:
        return
    storage.delete(key)
    lifecycle.forget_backup_copy(key)
