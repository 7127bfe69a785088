"""Backup copies: make them, retry them with bounded backoff, purge expired ones, count them.

Whoever copies a file first takes its lease with one conditional UPDATE (`claim`), which is
atomic on SQLite and PostgreSQL alike. An upload, the in-app retry and any number of
concurrent `backup sync` runs on any number of machines therefore never copy the same file at
the same time, and a crashed copier's lease simply expires.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from flask import current_app
from sqlalchemy import Select, delete, func, or_, select, update

from securestore.db_types import utcnow
from securestore.errors import SecureStoreError, StorageError
from securestore.extensions import db, storage
from securestore.files.models import BackupState, StoredFile
from securestore.storage.service import ObjectStream

log = logging.getLogger(__name__)

# Long enough for a server-side copy of the largest object; a dead copier's lease expires.
LEASE = timedelta(minutes=30)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
# A `failed` file is still retried, just rarely: the cause is usually a lasting outage.
FAILED_RETRY_INTERVAL = timedelta(hours=6)


@dataclass
class SyncReport:
    """What one `backup sync` run did."""

    copied: int = 0
    failed: int = 0
    purged: int = 0
    purge_errors: int = 0


@dataclass(frozen=True)
class BackupCounts:
    """How many live files have a backup in each state, and how many were verified."""

    done: int
    pending: int
    failed: int
    verified: int
    deleted: int
    served_from_backup: int


def new_lease_owner(kind: str) -> str:
    """Name a copier uniquely (`sync:<hex>`), so only it can release what it claimed."""
    return f"{kind}:{uuid.uuid4().hex}"


def lease_for_upload(record: StoredFile) -> None:
    """Mark a new, not yet committed record as being copied by the upload that creates it.

    `backup sync` leaves it alone while the upload request makes the copy; if the request
    dies, the lease expires and sync takes over.
    """
    record.backup_lease_owner = new_lease_owner("upload")
    record.backup_lease_until = utcnow() + LEASE


def claim(file_id: int, owner: str, *, now: datetime | None = None) -> bool:
    """Take the lease on a live file whose backup is not done; False when someone else has it."""
    now = now or utcnow()
    result = db.session.execute(
        update(StoredFile)
        .where(
            StoredFile.id == file_id,
            StoredFile.backup_state != BackupState.DONE,
            StoredFile.live(),
            or_(StoredFile.backup_lease_until.is_(None), StoredFile.backup_lease_until < now),
        )
        .values(backup_lease_owner=owner, backup_lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def back_up(record: StoredFile) -> bool:
    """Copy a file whose lease the caller holds to the backup bucket; record and release.

    Never raises for S3: a failure is logged with bucket and key, stored on the row with the
    attempt count and the time of the next attempt, and turns `failed` after
    `BACKUP_MAX_ATTEMPTS` attempts.
    """
    record.backup_attempts += 1
    now = utcnow()
    try:
        storage.copy_to_backup(
            record.key,
            size=record.size,
            content_type=record.content_type,
            metadata=backup_metadata(record),
        )
    except StorageError as error:
        _record_failure(record, error, now)
        succeeded = False
    else:
        record.backup_state = BackupState.DONE
        record.backup_error = None
        record.backed_up_at = now
        record.backup_next_attempt_at = None
        record.backup_verified_at = None
        succeeded = True
    record.backup_lease_owner = None
    record.backup_lease_until = None
    db.session.commit()
    return succeeded


def _record_failure(record: StoredFile, error: StorageError, now: datetime) -> None:
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


def retry_delay(attempts: int, *, failed: bool = False) -> timedelta:
    """How long to wait after `attempts` failed copies before the next one.

    The first failure (during the upload) is retried at once; then 1, 2, 4 ... minutes, capped
    at an hour; a `failed` file every six hours.
    """
    if failed:
        return FAILED_RETRY_INTERVAL
    if attempts <= 1:
        return timedelta(0)
    return min(BACKOFF_BASE * 2 ** (attempts - 2), BACKOFF_CAP)


def backup_metadata(record: StoredFile) -> dict[str, str]:
    """Describe a file on its backup copy, so the backup bucket alone can rebuild it."""
    return {
        "sha256": record.sha256,
        "owner": record.key.split("/", 1)[0],
        # S3 metadata is ASCII only; the exact Unicode name survives percent-encoded.
        "filename": quote(record.name, safe=""),
    }


def retry_file(file_id: int) -> bool | None:
    """Retry one file's copy if nobody else is copying it; None when it was not ours to do."""
    if not claim(file_id, new_lease_owner("retry")):
        return None
    record = db.session.get(StoredFile, file_id)
    return None if record is None else back_up(record)


def sync(*, now: datetime | None = None, ignore_backoff: bool = False) -> SyncReport:
    """Copy every live file whose backup is due, then purge deleted files past retention."""
    now = now or utcnow()
    report = SyncReport()
    owner = new_lease_owner("sync")
    for file_id in db.session.scalars(_due_query(now, ignore_backoff)).all():
        if not claim(file_id, owner, now=now):
            continue  # another run has it, or finished it since the query
        record = db.session.get(StoredFile, file_id)
        if record is None:
            continue
        if back_up(record):
            report.copied += 1
        else:
            report.failed += 1
    _purge_expired(now, report)
    return report


def _due_query(now: datetime, ignore_backoff: bool) -> Select[int]:
    query = select(StoredFile.id).where(
        StoredFile.backup_state != BackupState.DONE,
        StoredFile.live(),
        or_(StoredFile.backup_lease_until.is_(None), StoredFile.backup_lease_until < now),
    )
    if not ignore_backoff:
        query = query.where(
            or_(
                StoredFile.backup_next_attempt_at.is_(None),
                StoredFile.backup_next_attempt_at <= now,
            )
        )
    return query.order_by(StoredFile.id)


def _purge_expired(now: datetime, report: SyncReport) -> None:
    """Forget deleted files past retention: the row first, then its backup copy.

    Deleting the row is conditional, so of two concurrent runs only one purges a file, and a
    user's Restore that lands first wins. If the copy cannot be deleted afterwards it is an
    orphan that `backup verify` reports, never a row without its object.
    """
    cutoff = now - timedelta(days=current_app.config["BACKUP_RETENTION_DAYS"])
    expired = db.session.execute(
        select(StoredFile.id, StoredFile.key).where(StoredFile.deleted_at <= cutoff)
    ).all()
    for file_id, key in expired:
        result = db.session.execute(
            delete(StoredFile).where(StoredFile.id == file_id, StoredFile.deleted_at <= cutoff)
        )
        db.session.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        try:
            storage.delete(key, bucket=storage.backup_bucket)
        except StorageError:
            log.error("purged %s but its backup copy stays as an orphan", key)
            report.purge_errors += 1
        else:
            log.info("purged s3://%s/%s after the retention period", storage.backup_bucket, key)
            report.purged += 1


def counts() -> BackupCounts:
    """Count backups by state for the health page and `backup verify`."""
    rows = db.session.execute(
        select(
            StoredFile.backup_state,
            func.count(),
            func.count(StoredFile.backup_verified_at),
            func.coalesce(func.sum(StoredFile.backup_reads), 0),
        )
        .where(StoredFile.live())
        .group_by(StoredFile.backup_state)
    ).all()
    by_state = {state: count for state, count, _, _ in rows}
    deleted = db.session.scalar(select(func.count()).where(StoredFile.deleted_at.is_not(None)))
    return BackupCounts(
        done=by_state.get(BackupState.DONE, 0),
        pending=by_state.get(BackupState.PENDING, 0),
        failed=by_state.get(BackupState.FAILED, 0),
        verified=sum(verified for _, _, verified, _ in rows),
        deleted=deleted or 0,
        served_from_backup=sum(int(reads) for _, _, _, reads in rows),
    )


def open_from_backup(
    record: StoredFile, cause: SecureStoreError, *, span: tuple[int, int] | None = None
) -> ObjectStream:
    """Serve a file from its backup copy because the primary failed; logged and counted."""
    log.warning(
        "primary s3://%s/%s unavailable (%s); serving the backup copy",
        storage.primary_bucket,
        record.key,
        cause.detail,
    )
    db.session.execute(
        update(StoredFile)
        .where(StoredFile.id == record.id)
        .values(backup_reads=StoredFile.backup_reads + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    try:
        return storage.open(record.key, bucket=storage.backup_bucket, span=span)
    except SecureStoreError as error:
        log.error(
            "no readable copy of %s (owner %s) in either bucket: %s",
            record.key,
            record.owner_id,
            error.detail,
        )
        raise StorageError(detail=f"both copies of {record.key} unreadable") from error
