"""The rules a backup copy follows: what it carries, how long it stays locked, and when a
failed copy is tried again. Pure functions of the settings, used by every step of
`files.lifecycle` that writes a copy (and by `files.moves`, `files.versions`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from flask import current_app

from securestore.extensions import storage
from securestore.files.models import FileVersion, StoredFile

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
# A `failed` file is still retried, just rarely: the cause is usually a lasting outage.
FAILED_RETRY_INTERVAL = timedelta(hours=6)
# A copy is locked this much longer than BACKUP_LOCK_DAYS, and renewed once less than
# BACKUP_LOCK_DAYS is left: about one PutObjectRetention per file and week.
LOCK_RENEWAL = timedelta(days=7)


def lock_until(now: datetime) -> datetime | None:
    """Until when a copy made or renewed at `now` is locked (None without a lock mode)."""
    if storage.lock_mode is None:
        return None
    return now + timedelta(days=current_app.config["BACKUP_LOCK_DAYS"]) + LOCK_RENEWAL


def retry_delay(attempts: int, *, failed: bool = False) -> timedelta:
    """How long to wait after `attempts` failed copies before the next one.

    The first failure (during the upload) is retried by the next sync; then 1, 2, 4 ...
    minutes, capped at an hour; a `failed` file every six hours.
    """
    if failed:
        return FAILED_RETRY_INTERVAL
    if attempts <= 1:
        return timedelta(0)
    return min(BACKOFF_BASE * 2 ** (attempts - 2), BACKOFF_CAP)


def backup_metadata(
    record: StoredFile, *, key: str | None = None, content: FileVersion | None = None
) -> dict[str, str]:
    """Describe a file on its backup copy, so the backup bucket alone can rebuild it.

    `key` is the key the copy goes to (a move's new one), `content` a version of the file
    whose hashes describe the copy instead of the file's own. A direct upload has no
    `sha256` but S3's `checksum` of its primary object instead.
    """
    described = {
        "owner": (key or record.key).split("/", 1)[0],
        # S3 metadata is ASCII only; the exact Unicode name survives percent-encoded.
        "filename": quote(record.name, safe=""),
    }
    hashes = content or record
    if hashes.sha256 is not None:
        described["sha256"] = hashes.sha256
    if hashes.checksum is not None:
        described["checksum"] = hashes.checksum
    return described
