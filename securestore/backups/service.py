"""`backup sync`: make every backup copy that is due, purge expired deletes, count the states.

The steps themselves (claim, copy, purge) are the file lifecycle's (`files.lifecycle`); this
module picks what is due and reports. Any number of concurrent runs on any number of
machines copy each file exactly once, because each file is claimed before it is copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, func, or_, select

from securestore.accounts import deletion
from securestore.db_types import utcnow
from securestore.extensions import db, storage
from securestore.files import lifecycle, moves, organize, versions
from securestore.files.models import BackupState, StoredFile
from securestore.quotas import service as quotas
from securestore.shares import service as shares
from securestore.uploads import service as uploads


@dataclass
class SyncReport:
    """What one `backup sync` run did."""

    copied: int = 0
    failed: int = 0
    purged: int = 0
    purge_errors: int = 0
    renewed: int = 0
    renew_errors: int = 0
    waiting_deletions: int = 0
    accounts_forgotten: int = 0
    share_links_forgotten: int = 0
    moves_repaired: int = 0
    files_moved: int = 0
    versions_copied: int = 0
    versions_failed: int = 0
    folders_purged: int = 0
    uploads_expired: int = 0


@dataclass(frozen=True)
class BackupCounts:
    """How many live files have a backup in each state, and how many were verified."""

    done: int
    pending: int
    failed: int
    verified: int
    deleted: int
    served_from_backup: int


def sync(*, now: datetime | None = None, ignore_backoff: bool = False) -> SyncReport:
    """Copy every live file whose backup is due, renew locks running low, purge expired deletes.

    First, moves a crash interrupted are finished or undone and files a folder move left
    behind are moved (`files.moves`). Then the files of deleted accounts that waited for
    their backup are deleted, the accounts nothing is left of are forgotten
    (`accounts.deletion`), the share links of purged files go, and direct uploads left
    unfinished past `UPLOAD_EXPIRY_HOURS` are aborted (their reservations released).

    Locks are renewed for every file that still has a row, deleted ones within retention too,
    once less than `BACKUP_LOCK_DAYS` is left, so no copy is ever less protected than that.
    """
    now = now or utcnow()
    report = SyncReport()
    report.moves_repaired = moves.repair_pending()
    report.files_moved = moves.settle_misplaced()
    for file_id in db.session.scalars(_due_query(now, ignore_backoff)).all():
        if not lifecycle.claim(file_id, now=now):
            continue  # another run has it, or finished it since the query
        record = db.session.get(StoredFile, file_id)
        if record is None:
            continue
        if lifecycle.back_up(record):
            report.copied += 1
        else:
            report.failed += 1
    if storage.lock_mode is not None:
        for file_id in db.session.scalars(_renewal_query(now)).all():
            record = db.session.get(StoredFile, file_id)
            if record is None:
                continue
            if lifecycle.renew_lock(record, now):
                report.renewed += 1
            else:
                report.renew_errors += 1
    report.versions_copied, report.versions_failed = versions.sync_pending()
    report.waiting_deletions = deletion.finish_deletions()
    report.purged, report.purge_errors = lifecycle.purge_expired(now)
    report.folders_purged = organize.purge_deleted_folders(now)
    report.accounts_forgotten = deletion.forget_deleted()
    report.share_links_forgotten = shares.forget_orphans()  # links of purged files
    report.uploads_expired = uploads.expire(now)
    quotas.expire_reservations()  # room held by uploads that crashed
    return report


def _renewal_query(now: datetime) -> Select[int]:
    low = now + timedelta(days=current_app.config["BACKUP_LOCK_DAYS"])
    return (
        select(StoredFile.id)
        .where(
            StoredFile.backup_state == BackupState.DONE,
            or_(StoredFile.backup_locked_until.is_(None), StoredFile.backup_locked_until < low),
        )
        .order_by(StoredFile.id)
    )


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
