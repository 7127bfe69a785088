"""`backup verify`: check every file's copies against its record, find orphans, repair.

Each copy is looked up by `files.copies` (S3's `HEAD` by default, the bytes themselves with
`deep`; in a locked backup bucket the newest version holding the bytes), then checked for the
expected encryption and, on backups, for a lock of at least `BACKUP_LOCK_DAYS`. Repair never
deletes: it recopies a bad backup from a good primary or a bad primary from a good backup,
and renews a short lock. Orphans (objects with no row) are deleted only with
`delete_orphans` (in a locked bucket: left to its lifecycle rules), and only when they are old
enough not to be an upload in flight and belong to a user the database knows (after a
database loss every object is an "orphan": those wait for `backup restore`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, select

from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.errors import StorageError
from securestore.extensions import db, storage
from securestore.files import lifecycle, moves, versions
from securestore.files.copies import UNLOCKED, Copy, find_copy, protection_problem
from securestore.files.models import BackupState, StoredFile
from securestore.storage.types import ListedObject

log = logging.getLogger(__name__)

ORPHAN = "orphan"
# Rows loaded and committed at a time, so repairs of a big store are saved as they go.
BATCH = 500


@dataclass
class Problem:
    """One thing wrong: which copy, whose file, which key, and whether it was fixed."""

    kind: str
    copy: str
    owner: str
    key: str
    detail: str
    fixed: str | None = None


@dataclass
class VerifyReport:
    """The problems found and the summary counts `backup verify` prints."""

    checked: int = 0
    ok: int = 0
    problems: list[Problem] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """How many problems of one kind were found (fixed or not)."""
        return sum(1 for problem in self.problems if problem.kind == kind)

    @property
    def unresolved(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.fixed is None]


def verify(
    *,
    user: User | None = None,
    deep: bool = False,
    repair: bool = False,
    delete_orphans: bool = False,
    orphan_min_age: timedelta = timedelta(hours=24),
) -> VerifyReport:
    """Check every file (or one user's) and every object, fixing what `repair` allows.

    Raises `StorageError` when a bucket cannot be read at all: that is an outage to report,
    not a list of missing files.
    """
    report = VerifyReport()
    if repair:
        moves.repair_pending()  # a move a crash interrupted: finished or undone first
    prefix = f"{user.username}/" if user else ""
    # Listed before the rows are read, so an upload finishing meanwhile is not an orphan.
    primary_objects = list(storage.list_objects(storage.primary_bucket, prefix=prefix))
    backup_objects = list(storage.list_objects(storage.backup_bucket, prefix=prefix))
    query = select(StoredFile.id).order_by(StoredFile.id)
    if user is not None:
        query = query.where(StoredFile.owner_id == user.id)
    ids = db.session.scalars(query).all()
    for start in range(0, len(ids), BATCH):
        for record in db.session.scalars(_records(ids[start : start + BATCH])):
            _verify_file(record, report, deep=deep, repair=repair)
        db.session.commit()
    live_keys, all_keys = _known_keys(user)
    # Versions sit outside users' prefixes (listed only in a whole-bucket check).
    live_keys |= versions.version_keys(user)
    all_keys |= versions.version_keys(user)
    orphans = [(storage.primary_bucket, o) for o in primary_objects if o.key not in live_keys]
    orphans += [(storage.backup_bucket, o) for o in backup_objects if o.key not in all_keys]
    _report_orphans(orphans, report, delete_orphans, utcnow() - orphan_min_age)
    return report


def _records(ids: Sequence[int]) -> Select[StoredFile]:
    return select(StoredFile).where(StoredFile.id.in_(ids)).order_by(StoredFile.id)


def _verify_file(record: StoredFile, report: VerifyReport, *, deep: bool, repair: bool) -> None:
    report.checked += 1
    now = utcnow()
    live = record.deleted_at is None
    copies = {"backup": find_copy(record, storage.backup_bucket, deep=deep)}
    if live:
        copies["primary"] = find_copy(record, storage.primary_bucket, deep=deep)
    problems = {}
    for name, found in copies.items():
        bucket = storage.backup_bucket if name == "backup" else storage.primary_bucket
        outcome = found.damage or protection_problem(found, bucket, now=now)
        if outcome is not None:
            problems[name] = Problem(outcome[0], name, record.key.split("/", 1)[0], record.key,
                                     outcome[1])  # fmt: skip
    if not problems:
        report.ok += 1
        if record.backup_state is not BackupState.DONE:
            # The copy exists after all (e.g. the copy worked but recording it did not).
            lifecycle.mark_backed_up(record, record.backed_up_at or now)
        record.backup_verified_at = now
        return
    record.backup_verified_at = None
    if record.backup_state is not BackupState.DONE and "backup" in problems:
        problems["backup"].detail += f" (backup {record.backup_state.value}: {record.backup_error})"
    report.problems += [problems[name] for name in ("primary", "backup") if name in problems]
    if repair:
        _repair(record, copies, problems, now)


def _repair(
    record: StoredFile, copies: dict[str, Copy], problems: dict[str, Problem], now: datetime
) -> None:
    """Recopy a bad copy from the good one, or renew a short lock; never delete."""
    backup, primary = problems.get("backup"), problems.get("primary")
    bytes_good = {name: copies[name].damage is None for name in copies}
    try:
        if backup is not None and backup.kind == UNLOCKED:
            if lifecycle.renew_lock(record, now):
                backup.fixed = "lock renewed"
        elif backup is not None and bytes_good.get("primary"):
            if lifecycle.copy_to_backup(record):
                backup.fixed = "recopied from the primary"
        if primary is not None and bytes_good["backup"]:
            storage.copy_from_backup(
                record.key,
                size=record.size,
                content_type=record.content_type,
                version_id=copies["backup"].version_id,
            )
            primary.fixed = "restored from the backup"
    except StorageError as error:
        log.error("repair of %s failed: %s", record.key, error.detail)


def _known_keys(user: User | None) -> tuple[set[str], set[str]]:
    query = select(StoredFile.key, StoredFile.deleted_at)
    if user is not None:
        query = query.where(StoredFile.owner_id == user.id)
    rows = db.session.execute(query).all()
    return {key for key, deleted_at in rows if deleted_at is None}, {key for key, _ in rows}


def _report_orphans(
    orphans: list[tuple[str, ListedObject]],
    report: VerifyReport,
    delete: bool,
    written_before: datetime,
) -> None:
    known_users = set(db.session.scalars(select(User.username)))
    for bucket, item in orphans:
        owner = item.key.split("/", 1)[0]
        copy = "primary" if bucket == storage.primary_bucket else "backup"
        problem = Problem(ORPHAN, copy, owner, item.key, f"{item.size} bytes, no database row")
        report.problems.append(problem)
        if not delete:
            continue
        if owner not in known_users:
            problem.detail += "; owner unknown to the database: kept (see `backup restore`)"
        elif item.last_modified > written_before:
            problem.detail += "; written recently (maybe an upload in flight): kept"
        elif bucket == storage.backup_bucket:
            lifecycle.forget_backup_copy(item.key)
            log.info("deleted orphan s3://%s/%s", bucket, item.key)
            problem.fixed = "deleted" if storage.lock_mode is None else "left to expire"
        else:
            storage.delete(item.key, bucket=bucket)
            log.info("deleted orphan s3://%s/%s", bucket, item.key)
            problem.fixed = "deleted"
