"""Versions: the earlier contents of a file, kept when an upload or a restore replaces it.

The current content is always the object at the file's path; older ones are objects under
`VERSION_PREFIX` (`.versions/<username>/<file id>/<random>`), outside every user's prefix, in
both buckets. That layout rather than S3 bucket versioning, because:
- a listing of a user's prefix (what `backup restore` and anyone browsing a bucket sees) holds
  current contents only, and the backup bucket's own versioning stays what Object Lock needs;
- versions are keyed by file, not by path, so renames and moves never carry them along;
- it works on any S3, versioned or not, and each version is a plain object to verify.

Each step keeps the order that makes a crash harmless: the old content is copied to its
version key and recorded (committed) before anything overwrites the file's object.
"""

from __future__ import annotations

import logging
import secrets
from typing import IO

from flask import current_app
from sqlalchemy import select

from securestore.auth.models import User
from securestore.db_types import MAX_ID, utcnow
from securestore.errors import DatabaseError, NotFoundError, StorageError, TooLargeError, raises
from securestore.extensions import db, storage
from securestore.files import lifecycle
from securestore.files.backup_rules import backup_metadata, lock_until
from securestore.files.models import VERSION_PREFIX, FileVersion, StoredFile
from securestore.storage.types import ObjectStream

log = logging.getLogger(__name__)


def list_versions(record: StoredFile) -> list[FileVersion]:
    """The file's earlier contents, newest first (the current content is not one of them)."""
    query = select(FileVersion).where(FileVersion.file_id == record.id)
    return list(db.session.scalars(query.order_by(FileVersion.id.desc())))


@raises(NotFoundError)
def get_version(record: StoredFile, version_id: int) -> FileVersion:
    """One version of the file; a version of another file answers 404."""
    version = db.session.get(FileVersion, version_id) if 0 < version_id <= MAX_ID else None
    if version is None or version.file_id != record.id:
        raise NotFoundError()
    return version


@raises(StorageError)
def keep_current(record: StoredFile) -> FileVersion:
    """Copy the file's current content to a new version, in both buckets; commits the row.

    The primary copy comes first and the row right after, so the old content is safe before
    anything overwrites it. A failed backup copy leaves `backed_up_at` empty for `sync_pending`.
    """
    key = f"{VERSION_PREFIX}{record.owner.username}/{record.id}/{secrets.token_hex(8)}"
    storage.copy_within(
        storage.primary_bucket, record.key, key, size=record.size,
        content_type=record.content_type, metadata={},
    )  # fmt: skip
    version = FileVersion(
        file_id=record.id,
        key=key,
        size=record.size,
        content_type=record.content_type,
        sha256=record.sha256,
        checksum=record.checksum,
        created_at=record.content_at,
    )
    db.session.add(version)
    db.session.commit()
    back_up(version, record)
    return version


def back_up(version: FileVersion, record: StoredFile) -> bool:
    """Copy a version to the backup bucket (locked like every backup copy); commits."""
    now = utcnow()
    try:
        storage.copy_to_backup(
            version.key,
            size=version.size,
            content_type=version.content_type,
            metadata=backup_metadata(record, content=version),
            locked_until=lock_until(now),
        )
    except StorageError:
        return False  # logged by storage; `backup sync` tries again
    version.backed_up_at = now
    db.session.commit()
    return True


@raises(StorageError)
def open_version(version: FileVersion, span: tuple[int, int] | None = None) -> ObjectStream:
    """The version's bytes, from the primary bucket or else its backup copy."""
    try:
        return storage.open(version.key, span=span)
    except (NotFoundError, StorageError) as error:
        log.warning("version %s unreadable in the primary (%s); reading its backup",
                    version.key, error.detail)  # fmt: skip
        return storage.open(version.key, bucket=storage.backup_bucket, span=span)


@raises(StorageError)
def make_current(record: StoredFile, version: FileVersion) -> None:
    """Restore `version`: the current content becomes a version, the version current.

    Copy the current content away (committed), copy the version onto the file's key, save
    the row, then forget the restored version; finally start the file's new backup copy.
    """
    keep_current(record)
    storage.copy_within(
        storage.primary_bucket, version.key, record.key, size=version.size,
        content_type=version.content_type, metadata={},
    )  # fmt: skip
    record.size, record.sha256, record.checksum = version.size, version.sha256, version.checksum
    record.content_type, record.modified_at = version.content_type, utcnow()
    lifecycle.replaced(record)
    forget([version])


@raises(StorageError, DatabaseError, TooLargeError)
def replace_content(
    record: StoredFile, stream: IO[bytes], content_type: str, max_bytes: int
) -> None:
    """Give the file the uploaded content, keeping its current one as a version first.

    An upload that fails forgets that version again: the file still holds its content.
    """
    version = keep_current(record)
    try:
        stored = storage.upload(
            record.key, stream, content_type=content_type, max_bytes=max_bytes, replace=True
        )
    except BaseException:
        forget([version])
        raise
    record.size, record.sha256, record.content_type = stored.size, stored.sha256, content_type
    record.checksum, record.modified_at = None, utcnow()
    lifecycle.replaced(record)
    prune(record)


def prune(record: StoredFile) -> int:
    """Forget the file's versions beyond `MAX_VERSIONS`, oldest first; return how many."""
    kept = current_app.config["MAX_VERSIONS"]
    return forget(list_versions(record)[kept:])


def forget(versions: list[FileVersion]) -> int:
    """Delete versions: the rows first (committed), then the objects in both buckets.

    An object that cannot be deleted stays as an orphan for `backup verify` to report.
    """
    keys = [version.key for version in versions]
    for version in versions:
        db.session.delete(version)
    db.session.commit()
    for key in keys:
        try:
            storage.delete(key)
            lifecycle.forget_backup_copy(key)
        except StorageError:
            log.error("version %s forgotten but left as an orphan", key)
    return len(keys)


def sync_pending() -> tuple[int, int]:
    """Make the backup copies of versions that have none yet; return (copied, failed)."""
    copied = failed = 0
    pending = select(FileVersion).where(FileVersion.backed_up_at.is_(None))
    for version in db.session.scalars(pending.order_by(FileVersion.id)).all():
        record = db.session.get(StoredFile, version.file_id)
        if record is not None and back_up(version, record):
            copied += 1
        else:
            failed += 1
    return copied, failed


def version_keys(user: User | None = None) -> set[str]:
    """The keys of every version (of one user's files): objects that are not orphans."""
    query = select(FileVersion.key)
    if user is not None:
        query = query.join(StoredFile).where(StoredFile.owner_id == user.id)
    return set(db.session.scalars(query))
