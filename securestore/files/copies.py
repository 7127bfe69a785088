"""Whether a bucket holds a good copy of a file: its bytes, its encryption and its lock.

Used by the lifecycle steps that read a copy (restore, recover, the download fallback) and by
`backup verify`. With a lock mode on, the backup bucket is versioned: the copy that counts is
the newest version that holds the file's bytes, whatever delete markers or later (damaged,
or foreign) versions were written after it, because a locked older version is still there to
be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from securestore.errors import NotFoundError
from securestore.extensions import storage
from securestore.files.models import StoredFile
from securestore.storage.types import ObjectInfo

MISSING = "missing"
MISMATCHED = "mismatched"
UNENCRYPTED = "unencrypted"
UNLOCKED = "unlocked"
# How far below BACKUP_LOCK_DAYS a lock may fall before verify reports it: `backup sync`
# renews locks every minute, so a day behind means sync has not run for a day.
LOCK_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class Copy:
    """The outcome of looking for a file's copy in a bucket.

    `damage` is None when a good copy exists, else (kind, why); `info` describes the copy
    found (the good one, or the newest one when none is good); `version_id` names its version
    in a versioned backup bucket (None: read the current object).
    """

    damage: tuple[str, str] | None
    info: ObjectInfo | None = None
    version_id: str | None = None


def find_copy(record: StoredFile, bucket: str, *, deep: bool = False) -> Copy:
    """Look for the file's copy in `bucket` (the backup: as `backup_copy` does)."""
    if bucket == storage.backup_bucket:
        return backup_copy(record, deep=deep)
    return _current_copy(record, bucket, deep)


def backup_copy(record: StoredFile, *, deep: bool = False) -> Copy:
    """Find the backup copy to read: the newest version holding the file's bytes.

    A copy is good when it exists with the recorded size and SHA-256: S3's `HEAD` tells the
    size, the `sha256` metadata of backup copies and S3's own full-object checksum where it
    has one; `deep` reads and hashes the bytes instead of trusting S3. A direct upload has
    no SHA-256 (the app never saw its bytes): its `checksum` is S3's composite one of the
    primary object, compared with what S3 reports and with the backup's `checksum` metadata.
    Without a lock mode the bucket is read as it is (its current object).
    """
    if storage.lock_mode is None:
        return _current_copy(record, storage.backup_bucket, deep)
    newest: Copy | None = None
    for version in storage.backup_versions(record.key):
        if version.delete_marker:
            continue
        found = _version_copy(record, version.version_id, deep)
        if found.damage is None:
            return found
        newest = newest or found
    return newest or Copy((MISSING, "no object"))


def protection_problem(copy: Copy, bucket: str, *, now: datetime) -> tuple[str, str] | None:
    """Say how a good copy falls short of its protection: encryption, and lock on backups."""
    info = copy.info
    if info is None:
        return None
    expected = storage.encryption(bucket)
    key_id = expected.get("SSEKMSKeyId")
    if info.encryption != expected["ServerSideEncryption"] or (
        key_id and not _same_key(info.kms_key_id, key_id)
    ):
        wanted = expected["ServerSideEncryption"] + (f" key {key_id}" if key_id else "")
        stored = info.encryption or "no encryption"
        return UNENCRYPTED, f"stored with {stored}, expected {wanted}"
    if bucket != storage.backup_bucket or storage.lock_mode is None:
        return None
    minimum = now + timedelta(days=current_app.config["BACKUP_LOCK_DAYS"]) - LOCK_SLACK
    if info.lock_mode != storage.lock_mode or info.locked_until is None:
        return UNLOCKED, f"version {copy.version_id} has no {storage.lock_mode} lock"
    if info.locked_until < minimum:
        return UNLOCKED, f"version {copy.version_id} locked only until {info.locked_until:%F %T}"
    return None


def _current_copy(record: StoredFile, bucket: str, deep: bool) -> Copy:
    try:
        info = storage.head(record.key, bucket=bucket)
    except NotFoundError:
        return Copy((MISSING, "no object"))
    return Copy(_damage(record, info, bucket, deep, None), info)


def _version_copy(record: StoredFile, version_id: str, deep: bool) -> Copy:
    bucket = storage.backup_bucket
    try:
        info = storage.head(record.key, bucket=bucket, version_id=version_id)
    except NotFoundError:
        return Copy((MISSING, f"version {version_id} vanished"), None, version_id)
    return Copy(_damage(record, info, bucket, deep, version_id), info, version_id)


def _damage(
    record: StoredFile, info: ObjectInfo, bucket: str, deep: bool, version_id: str | None
) -> tuple[str, str] | None:
    if info.size != record.size:
        return MISMATCHED, f"size {info.size}, recorded {record.size}"
    if bucket == storage.backup_bucket and info.metadata.get("sha256") != record.sha256:
        return (
            MISMATCHED,
            f"sha256 metadata {info.metadata.get('sha256')!r} is not the recorded one",
        )
    if bucket == storage.backup_bucket and info.metadata.get("checksum") != record.checksum:
        return (
            MISMATCHED,
            f"checksum metadata {info.metadata.get('checksum')!r} is not the recorded one",
        )
    if record.sha256 is not None and info.sha256 is not None and info.sha256 != record.sha256:
        return MISMATCHED, f"S3 checksum sha256 {info.sha256}, recorded {record.sha256}"
    # A direct upload's record keeps S3's composite checksum of the primary object as it was
    # completed; a primary copied back from the backup (restore, repair) has a new checksum
    # of another kind, and only its size and the backup's metadata speak for it.
    composite = info.checksum is not None and "-" in info.checksum
    primary = bucket != storage.backup_bucket
    if primary and record.checksum and composite and info.checksum != record.checksum:
        return MISMATCHED, f"S3 checksum {info.checksum}, recorded {record.checksum}"
    if deep and record.sha256 is not None:
        content = storage.sha256(record.key, bucket=bucket, version_id=version_id)
        if content != record.sha256:
            return MISMATCHED, f"content sha256 {content}, recorded {record.sha256}"
    return None


def _same_key(stored: str | None, configured: str) -> bool:
    # S3 answers with the key's ARN; the setting may name the key by its id or by that ARN.
    return stored is not None and (stored == configured or stored.endswith("/" + configured))
