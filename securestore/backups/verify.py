"""`backup verify`: check every file's copies against its record, find orphans, repair.

Each copy is checked by the file lifecycle's `check_copy` (S3's `HEAD` by default, the bytes
themselves with `deep`). Repair never deletes: it recopies a
bad backup from a good primary or a bad primary from a good backup. Orphans (objects with no
row) are deleted only with `delete_orphans`, and only when they are old enough not to be an
upload in flight and belong to a user the database knows (after a database loss every object
is an "orphan": those wait for `backup restore`).
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
from securestore.files.lifecycle import (
    backup_metadata,
    check_copy,
    mark_backed_up,
)
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
    orphans = [(storage.primary_bucket, o) for o in primary_objects if o.key not in live_keys]
    orphans += [(storage.backup_bucket, o) for o in backup_objects if o.key not in all_keys]
    _report_orphans(orphans, report, delete_orphans, utcnow() - orphan_min_age)
    return report


def _records(ids: Sequence[int]) -> Select[StoredFile]:
    return select(StoredFile).where(StoredFile.id.in_(ids)).order_by(StoredFile.id)


def _verify_file(record: StoredFile, report: VerifyReport, *, deep: bool, repair: bool) -> None:
    report.checked += 1
    owner = record.key.split("/", 1)[0]
    live = record.deleted_at is None
    primary = check_copy(record, storage.primary_bucket, deep=deep) if live else None
    backup = check_copy(record, storage.backup_bucket, deep=deep)
    if primary is None and backup is None:
        report.ok += 1
        if record.backup_state is not BackupState.DONE:
            # The copy exists after all (e.g. the copy worked but recording it did not).
            mark_backed_up(record, record.backed_up_at or utcnow())
        record.backup_verified_at = utcnow()
        return
    record.backup_verified_at = None
    problems = []
    for copy, outcome in (("primary", primary), ("backup", backup)):
        if outcome is not None:
            problem = Problem(outcome[0], copy, owner, record.key, outcome[1])
            problems.append(problem)
            report.problems.append(problem)
    if record.backup_state is not BackupState.DONE and backup is not None:
        problems[-1].detail += f" (backup {record.backup_state.value}: {record.backup_error})"
    if repair:
        _repair(
            record,
            primary_good=live and primary is None,
            backup_good=backup is None,
            problems=problems,
        )


def _repair(
    record: StoredFile, *, primary_good: bool, backup_good: bool, problems: list[Problem]
) -> None:
    """Recopy the bad copy from the good one; with no good copy there is nothing to copy."""
    if not primary_good and not backup_good:
        return
    try:
        if primary_good:
            storage.copy_to_backup(
                record.key,
                size=record.size,
                content_type=record.content_type,
                metadata=backup_metadata(record),
            )
            mark_backed_up(record, utcnow())
            action = "recopied from the primary"
        else:
            storage.copy_from_backup(record.key, size=record.size, content_type=record.content_type)
            action = "restored from the backup"
    except StorageError as error:
        log.error("repair of %s failed: %s", record.key, error.detail)
        return
    for problem in problems:
        problem.fixed = action


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
        else:
            storage.delete(item.key, bucket=bucket)
            log.info("deleted orphan s3://%s/%s", bucket, item.key)
            problem.fixed = "deleted"
