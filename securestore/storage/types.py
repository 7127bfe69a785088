"""What the storage facade hands back: plain values, no boto3 types."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoredObject:
    """What an upload wrote: the key, its exact size and the SHA-256 of its bytes (hex)."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectStream:
    """An object being read: its size, content type and an iterator over its bytes."""

    size: int
    content_type: str
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class ObjectInfo:
    """What S3 says about an object without reading it.

    `sha256` (hex) is set only when S3 holds a full-object SHA-256 checksum: a multipart
    object's checksum covers its parts, not its bytes, so it cannot be compared to a file hash.
    """

    size: int
    content_type: str
    metadata: dict[str, str]
    sha256: str | None
    version_id: str | None = None
    # S3's own checksum as `<ALGORITHM>:<value>` whatever its kind (a multipart object's is
    # composite: `SHA256:<base64>-<parts>`), None when S3 keeps none.
    checksum: str | None = None
    # How S3 says it stored the bytes: `AES256` or `aws:kms` (with the key's ARN), or None.
    encryption: str | None = None
    kms_key_id: str | None = None
    lock_mode: str | None = None
    locked_until: datetime | None = None


# The checksums S3 may keep of an object, as `head_object` names them.
_CHECKSUMS = ("ChecksumSHA256", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME")


def object_info(answer: Mapping[str, Any]) -> ObjectInfo:
    """The `ObjectInfo` of a `head_object` answer (asked with `ChecksumMode="ENABLED"`)."""
    checksum = answer.get("ChecksumSHA256")
    full_object = checksum is not None and "-" not in checksum
    any_checksum = next(
        (f"{name[8:].upper()}:{answer[name]}" for name in _CHECKSUMS if answer.get(name)), None
    )
    return ObjectInfo(
        size=answer["ContentLength"],
        content_type=answer.get("ContentType") or "application/octet-stream",
        metadata=dict(answer.get("Metadata") or {}),
        sha256=base64.b64decode(checksum).hex() if full_object and checksum else None,
        version_id=answer.get("VersionId"),
        encryption=answer.get("ServerSideEncryption"),
        kms_key_id=answer.get("SSEKMSKeyId"),
        lock_mode=answer.get("ObjectLockMode"),
        locked_until=answer.get("ObjectLockRetainUntilDate"),
        checksum=any_checksum,
    )


@dataclass(frozen=True)
class ListedObject:
    """One key of a bucket listing, with its size and when it was written."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a key in a versioned bucket, or a delete marker (which has no bytes)."""

    key: str
    version_id: str
    size: int
    last_modified: datetime
    delete_marker: bool


@dataclass(frozen=True)
class BucketHealth:
    """Whether a bucket answered, and the reason when it did not."""

    bucket: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class ReceivedPart:
    """One part S3 holds of a multipart upload; `checksum` is its SHA-256 (base64) if known."""

    number: int
    size: int
    etag: str
    checksum: str | None = None


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload S3 still holds open: its key, its id and when it was started."""

    key: str
    upload_id: str
    initiated: datetime
