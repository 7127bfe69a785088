"""The life of a stored file once its bytes are in the primary bucket: one function per step.

    register ──> (backup copy: copy_to_backup, retried by `backup sync` under a claim)
       │          (renew_lock: `backup sync` keeps a locked copy locked, see below)
       ├──> replaced           a new content at the same key (`files.versions` keeps the old)
       ├──> discard            an upload undone: both copies and the row, for real
       └──> soft_delete ──> restore | purge_expired
    recover                    a file known only from its backup copy (`backup restore`)
    (a move to another key: `files.moves`, journaled)

Each step is one transaction and commits it itself; callers call a step with nothing of
their own pending in the session. The order of writes inside a step is what keeps data safe:
no row ever points to an object that was not written, and whatever cannot be undone is left
as an orphan that `backup verify` reports, never silently.

With `BACKUP_LOCK_MODE` on, the app never deletes in the backup bucket: every copy is a
version locked for `BACKUP_LOCK_DAYS` plus `LOCK_RENEWAL` (`files.backup_rules`, with what a
copy carries and when a failed one is retried), renewed by `backup sync` once less than
`BACKUP_LOCK_DAYS` is left (so from any moment on, a compromise included, each copy stays
locked at least that long), and a purge only tags the copy for the bucket's lifecycle rules,
which give it a delete marker and expire it once its lock has run out. Reads of a copy go to
the newest version holding the file's bytes (`files.copies`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from securestore.db_types import utcnow
from securestore.errors import (
    BackupDamagedError,
    BackupNotReadyError,
    DatabaseError,
    NotFoundError,
    StorageError,
    raises,
)
from securestore.extensions import db, storage
from securestore.files.backup_rules import backup_metadata, lock_until, retry_delay
from securestore.files.copies import backup_copy
from securestore.files.models import BackupState, FileVersion, PendingMove, StoredFile

log = logging.getLogger(__name__)

# Long enough for a server-side copy of the largest object; a dead copier's claim expires.
LEASE = timedelta(minutes=30)


@raises(DatabaseError)
def register(record: StoredFile) -> StoredFile:
    """Record a file whose primary object was just written, after trying its backup copy.

    The copy comes before the row, so the upload's one commit saves the file together with
    its backup state, and no `backup sync` can see the row while the upload still copies it.
    A failed copy leaves the file `pending` (logged with bucket and key, retried by sync);
    a failed commit takes both copies away again (`DatabaseError`).
    """
    record.backup_attempts = 0
    copy_to_backup(record)
    db.session.add(record)
    try:
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("could not record s3://%s/%s: %s", storage.primary_bucket, record.key, error)
        _delete_copies(record.key, "no database row")
        raise DatabaseError() from error
    return record


@raises(DatabaseError)
def replaced(record: StoredFile) -> StoredFile:
    """Save a file whose object now holds a new content, after trying its new backup copy.

    The caller has kept the old content as a version and set the row's size, hash and type.
    """
    record.backup_state = BackupState.PENDING
    record.backup_attempts = 0
    copy_to_backup(record)
    try:
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("could not record the new content of s3://%s/%s: %s",
                  storage.primary_bucket, record.key, error)  # fmt: skip
        raise DatabaseError() from error
    return record


@raises(DatabaseError)
def discard(record: StoredFile) -> None:
    """Undo a stored upload for real: the row and both copies go, nothing stays restorable.

    The row goes first, so a copy that cannot be deleted afterwards is an orphan for
    `backup verify`, never a row without its object.
    """
    db.session.delete(record)
    try:
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        raise DatabaseError("The upload could not be undone; it is still listed.") from error
    _delete_copies(record.key, "discarded upload")


def claim(file_id: int, *, now: datetime | None = None) -> bool:
    """Take the lease on a live file whose backup is not done; False when someone else has it.

    One conditional UPDATE, atomic on SQLite and PostgreSQL alike: of any number of
    concurrent copiers (sync runs on several machines, a delete) exactly one wins, and a
    crashed copier's lease simply expires after `LEASE`.
    """
    now = now or utcnow()
    result = db.session.execute(
        update(StoredFile)
        .where(
            StoredFile.id == file_id,
            StoredFile.backup_state != BackupState.DONE,
            StoredFile.live(),
            or_(StoredFile.backup_lease_until.is_(None), StoredFile.backup_lease_until < now),
        )
        .values(backup_lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def copy_to_backup(record: StoredFile) -> bool:
    """Copy the file to the backup bucket inside S3 and note the outcome on the row.

    Does not commit: `register` saves the outcome with the new row, `back_up` for a file
    that already has one. Never raises for S3: a failure is logged with bucket and key,
    stored on the row with the attempt count and the time of the next attempt, and turns
    `failed` after `BACKUP_MAX_ATTEMPTS` attempts.
    """
    record.backup_attempts += 1
    now = utcnow()
    until = lock_until(now)
    try:
        storage.copy_to_backup(
            record.key,
            size=record.size,
            content_type=record.content_type,
            metadata=backup_metadata(record),
            locked_until=until,
        )
    except StorageError as error:
        _note_failure(record, error, now)
        return False
    mark_backed_up(record, now)
    record.backup_locked_until = until
    return True


def back_up(record: StoredFile) -> bool:
    """Copy a file whose lease the caller holds (see `claim`), save the outcome, release it."""
    copied = copy_to_backup(record)
    record.backup_lease_until = None
    db.session.commit()
    return copied


def mark_backed_up(record: StoredFile, now: datetime) -> None:
    """Note on the row that a good backup copy exists as of `now`."""
    record.backup_state = BackupState.DONE
    record.backup_error = None
    record.backup_next_attempt_at = None
    record.backed_up_at = now
    record.backup_verified_at = None


def renew_lock(record: StoredFile, now: datetime) -> bool:
    """Lock the version holding the file's backup until `lock_until(now)`; commit the row.

    Never raises for S3: a copy that cannot be found or locked is logged and False returned;
    a live file whose copy is gone turns `pending`, so the next sync copies it again.
    """
    until = lock_until(now)
    found = backup_copy(record)
    if until is None or found.damage is not None or found.version_id is None:
        why = found.damage[1] if found.damage else "no versioned copy"
        log.warning(
            "cannot renew the lock of s3://%s/%s: %s", storage.backup_bucket, record.key, why
        )
        if record.deleted_at is None:
            # The primary is still there: the next sync makes (and locks) a new copy.
            record.backup_state = BackupState.PENDING
            record.backup_error = f"lock renewal: {why}"
            record.backup_next_attempt_at = None
            db.session.commit()
        return False
    try:
        storage.extend_lock(record.key, found.version_id, until)
    except StorageError:
        return False
    record.backup_locked_until = until
    db.session.commit()
    return True


@raises(BackupNotReadyError, StorageError)
def soft_delete(record: StoredFile) -> None:
    """Delete a file from the primary bucket, keeping its row and backup copy for `restore`.

    A file whose backup is not done gets one more copy attempt first; if that fails the
    delete is refused, because it would destroy the only copy. The object goes before the
    row changes: if S3 refuses, the file stays listed and nothing changed.
    """
    if record.backup_state is not BackupState.DONE:
        if not (claim(record.id) and back_up(record)):
            raise BackupNotReadyError()
    storage.delete(record.key)
    record.deleted_at = utcnow()
    db.session.commit()


@raises(NotFoundError, BackupDamagedError, StorageError)
def restore(record: StoredFile) -> StoredFile:
    """Bring a deleted file back: copy its backup to the primary bucket, then list it again.

    The row is revived with a conditional UPDATE so a purge that got there first wins
    cleanly: the copy just made is removed again and the caller gets `NotFoundError`. A
    second restore racing this one just finds it restored.
    """
    found = backup_copy(record)
    if found.damage is not None:
        kind, why = found.damage
        raise BackupDamagedError(detail=f"{record.key}: backup {kind}, {why}")
    storage.copy_from_backup(
        record.key,
        size=record.size,
        content_type=record.content_type,
        version_id=found.version_id,
    )
    revived = db.session.execute(
        update(StoredFile)
        .where(StoredFile.id == record.id, StoredFile.deleted_at.is_not(None))
        .values(deleted_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if revived.rowcount != 1:  # type: ignore[attr-defined]
        if db.session.scalar(select(StoredFile.id).where(StoredFile.id == record.id)) is None:
            storage.delete(record.key)
            raise NotFoundError()
    db.session.refresh(record)
    return record


@raises(StorageError)
def recover(record: StoredFile, *, version_id: str | None = None) -> StoredFile:
    """Adopt a file known only from its backup copy (`backup restore`): primary, then row.

    The same order as an upload, so a crash in between leaves an orphan, not a bad row.
    `version_id` names the backup version to copy back (None: the current object).
    """
    storage.copy_from_backup(
        record.key, size=record.size, content_type=record.content_type, version_id=version_id
    )
    db.session.add(record)
    db.session.commit()
    return record


def purge_expired(now: datetime) -> tuple[int, int]:
    """Forget deleted files past `BACKUP_RETENTION_DAYS`; return (purged, copies kept).

    The row goes first (with its versions' rows and any move journal), with a conditional
    DELETE, so of two concurrent runs only one purges a file and a user's restore that lands
    first wins. The versions' objects go with the file's backup copy. A copy that cannot be deleted
    afterwards is an orphan that `backup verify` reports, never a row without its object.
    With a lock mode the copy is not deleted but tagged: the bucket's lifecycle rules give it
    a delete marker and expire it once its lock runs out.
    """
    cutoff = now - timedelta(days=current_app.config["BACKUP_RETENTION_DAYS"])
    expired = db.session.execute(
        select(StoredFile.id, StoredFile.key).where(StoredFile.deleted_at <= cutoff)
    ).all()
    purged = kept = 0
    for file_id, key in expired:
        version_keys = list(db.session.scalars(
            select(FileVersion.key).where(FileVersion.file_id == file_id)))  # fmt: skip
        result = db.session.execute(
            delete(StoredFile).where(StoredFile.id == file_id, StoredFile.deleted_at <= cutoff)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            continue
        for model in (FileVersion, PendingMove):
            db.session.execute(delete(model).where(model.file_id == file_id))
        db.session.commit()
        for version_key in version_keys:
            _delete_copies(version_key, "version of a purged file")
        try:
            forget_backup_copy(key)
        except StorageError:
            log.error("purged %s but its backup copy stays as an orphan", key)
            kept += 1
        else:
            log.info("purged s3://%s/%s after the retention period", storage.backup_bucket, key)
            purged += 1
    return purged, kept


def forget_backup_copy(key: str) -> None:
    """Delete the backup copy of `key`, or with a lock mode leave it to the lifecycle rules.

    A locked copy cannot be deleted, and the app may not even try: it is tagged instead, and
    the backup bucket's lifecycle rules give it a delete marker and expire it once its lock
    has run out. Raises `StorageError`.
    """
    if storage.lock_mode is None:
        storage.delete(key, bucket=storage.backup_bucket)
    else:
        storage.mark_purged(key)


def _note_failure(record: StoredFile, error: StorageError, now: datetime) -> None:
    attempts = record.backup_attempts
    gave_up = attempts >= current_app.config["BACKUP_MAX_ATTEMPTS"]
    record.backup_state = BackupState.FAILED if gave_up else BackupState.PENDING
    record.backup_error = error.detail
    record.backup_next_attempt_at = now + retry_delay(attempts, failed=gave_up)
    log.warning(
        "backup of s3://%s/%s to s3://%s/%s is %s after %d attempt(s): %s",
        storage.primary_bucket,
        record.key,
        storage.backup_bucket,
        record.key,
        record.backup_state.value,
        attempts,
        error.detail,
    )


def _delete_copies(key: str, why: str) -> None:
    """Delete both copies of `key`; what cannot be deleted stays as a logged orphan."""
    for bucket in (storage.primary_bucket, storage.backup_bucket):
        try:
            if bucket == storage.backup_bucket:
                forget_backup_copy(key)
            else:
                storage.delete(key, bucket=bucket)
        except StorageError:
            log.error("orphan left at s3://%s/%s (%s); backup verify reports it", bucket, key, why)
