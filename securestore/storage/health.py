"""Whether the buckets answer: `S3Storage.health`, for `/storage/health` and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from securestore.storage import locks
from securestore.storage.translate import error_code
from securestore.storage.types import BucketHealth

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def buckets_health(
    client: S3Client, primary: str, backup: str, lock_mode: str | None
) -> list[BucketHealth]:
    """Check that both buckets exist and answer, and that the backup bucket can lock (when
    `lock_mode` is set); the primary's answer first."""
    backup_health = _bucket_health(client, backup)
    if backup_health.ok and lock_mode is not None:
        try:
            problem = locks.lock_problem(client, backup)
        except locks.LockCheckUnanswered as error:
            problem = str(error)
        if problem is not None:
            backup_health = BucketHealth(backup, False, problem)
    return [_bucket_health(client, primary), backup_health]


def _bucket_health(client: S3Client, bucket: str) -> BucketHealth:
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        return BucketHealth(bucket, False, error_code(error))
    except BotoCoreError as error:
        return BucketHealth(bucket, False, type(error).__name__)
    return BucketHealth(bucket, True)
