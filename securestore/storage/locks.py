"""S3 Object Lock and versions of the backup bucket: check the bucket, lock, list, mark.

With a lock mode on, every backup copy is a version locked until a given time: nobody holding
the app's credentials can delete it, overwrite it in place or shorten its lock, so the backup
bucket survives anything the app server can do. The app writes no delete there at all: a
purged file's copy is tagged, and the bucket's lifecycle rules (`deploy/lifecycle-backup.json`)
give it a delete marker and expire old versions once their lock has run out.

A copy is locked by `PutObjectRetention` on the version the copy made, not by lock headers on
the copy itself: SeaweedFS ignores those headers on CopyObject, and moto refuses them without a
body checksum. On AWS the bucket's default retention locks the new version at once anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from securestore.config.table import ConfigError
from securestore.errors import NotFoundError
from securestore.storage.translate import error_code, translated
from securestore.storage.types import ObjectVersion

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

# The tag the lifecycle rule in deploy/lifecycle-backup.json expires (a delete marker).
PURGE_TAG = {"Key": "securestore", "Value": "purged"}
# What S3 answers when asked for the lock settings of a bucket that has none.
_NO_LOCK_CODES = {"ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"}


class LockCheckUnanswered(RuntimeError):
    """The bucket did not say whether it is locked (unreachable, missing, access denied)."""


def lock_problem(client: S3Client, bucket: str) -> str | None:
    """Say what keeps `bucket` from holding locked versions, or None when nothing does.

    Raises `LockCheckUnanswered` when S3 gives no answer either way, so that a start-up during
    an outage is not mistaken for an unlocked bucket.
    """
    try:
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status")
        if versioning != "Enabled":
            return "has no versioning enabled"
        try:
            answer = client.get_object_lock_configuration(Bucket=bucket)
        except ClientError as error:
            if error_code(error) in _NO_LOCK_CODES:
                return "has no Object Lock"
            raise
    except ClientError as error:
        raise LockCheckUnanswered(error_code(error)) from error
    except BotoCoreError as error:
        raise LockCheckUnanswered(type(error).__name__) from error
    if answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
        return "has no Object Lock"
    return None


def refuse_an_unlocked_bucket(client: S3Client, bucket: str, mode: str) -> None:
    """Stop start-up when the backup bucket says it cannot hold locked versions.

    Runs in `S3Storage.init_app`, so every process that may write backups (each gunicorn
    worker, each `flask backup` command) refuses before writing one unprotected copy. A bucket
    that does not answer is only logged: an S3 outage at boot must not crash-loop the workers,
    and `/storage/health` reports the bucket until it answers.
    """
    try:
        problem = lock_problem(client, bucket)
    except LockCheckUnanswered as error:
        log.warning("could not check Object Lock on s3://%s at start-up: %s", bucket, error)
        return
    if problem is not None:
        raise ConfigError(
            f"BACKUP_LOCK_MODE={mode} needs versioning and Object Lock on the backup bucket, "
            f"but S3 bucket {bucket} {problem}"
        )


def lock(
    client: S3Client, bucket: str, key: str, version_id: str, mode: str, until: datetime
) -> None:
    """Lock one version until `until` (S3 refuses to shorten a lock: only ever extend)."""
    retention: Any = {"Mode": mode, "RetainUntilDate": until}
    with translated("lock", bucket, key):
        client.put_object_retention(
            Bucket=bucket, Key=key, VersionId=version_id, Retention=retention
        )


def versions(client: S3Client, bucket: str, prefix: str) -> Iterator[ObjectVersion]:
    """Yield every version and delete marker under `prefix`, newest first within each key."""
    pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    with translated("list versions", bucket, prefix + "*"):
        for page in pages:
            entries: list[tuple[Any, bool]] = [(item, False) for item in page.get("Versions", [])]
            entries += [(item, True) for item in page.get("DeleteMarkers", [])]
            # A page lists versions and markers apart; S3 orders each key's entries newest first.
            entries.sort(
                key=lambda entry: (
                    entry[0]["Key"],
                    not entry[0].get("IsLatest", False),
                    -entry[0]["LastModified"].timestamp(),
                )
            )
            for item, marker in entries:
                yield ObjectVersion(
                    key=item["Key"],
                    version_id=item["VersionId"],
                    size=0 if marker else item.get("Size", 0),
                    last_modified=item["LastModified"],
                    delete_marker=marker,
                )


def mark_purged(client: S3Client, bucket: str, key: str) -> None:
    """Tag the current version of `key` for the lifecycle rule that gives it a delete marker.

    A key whose current version is already a delete marker (or that is gone) needs nothing.
    """
    try:
        # Tagging a delete marker answers MethodNotAllowed: there is no object to tag.
        with translated("mark purged", bucket, key, missing={"MethodNotAllowed"}):
            client.put_object_tagging(
                Bucket=bucket,
                Key=key,
                Tagging={"TagSet": [PURGE_TAG]},  # type: ignore[list-item]
            )
    except NotFoundError:
        return
