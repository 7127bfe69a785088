"""The one door to S3: upload to the primary bucket, copy server-side to the backup bucket.

`S3Storage` owns the app's single boto3 client, built in `init_app` by `storage.client` from
boto3's default credential chain (no keys are ever passed). Every botocore error is
translated once, by `storage.translate`, into the domain exception tree; callers never see
`ClientError`. Large uploads go through the multipart engine (`storage.multipart`), Object
Lock and versions through `storage.locks`, bucket checks through `storage.health`; what
comes back is a plain value (`storage.types`). Every write and copy asks for `S3_SSE`
encryption, with the bucket's own KMS key under `aws:kms`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from flask import Flask, current_app

from securestore.errors import NotFoundError, StorageError, TooLargeError
from securestore.storage import locks
from securestore.storage.client import build_client
from securestore.storage.copying import server_side_copy
from securestore.storage.direct import DirectUploads
from securestore.storage.health import buckets_health
from securestore.storage.multipart import fill, put_multipart
from securestore.storage.translate import translated
from securestore.storage.types import (
    BucketHealth,
    ListedObject,
    ObjectInfo,
    ObjectStream,
    ObjectVersion,
    StoredObject,
    object_info,
)

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_s3 import S3Client

EXTENSION_KEY = "securestore.storage"
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Settings:
    client: S3Client
    session: Session
    primary: str
    backup: str
    part_bytes: int
    concurrency: int
    # The `ServerSideEncryption` arguments of writes to each bucket.
    encryption: dict[str, dict[str, str]]
    # S3's lock mode for backup copies (`GOVERNANCE`, `COMPLIANCE`), None when off.
    lock_mode: str | None


class S3Storage:
    """Primary-then-backup object storage over one S3 client per app."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the app's S3 client from its `S3_*` settings and the default credentials.

        The client is created per app, and the app is created per gunicorn worker (no
        preloading), so no connection pool is ever shared across a fork.
        """
        settings = app.config.get_namespace("S3_")
        client, session = build_client(settings)
        mode = app.config["BACKUP_LOCK_MODE"]
        lock_mode = None if mode == "off" else mode.upper()
        if lock_mode is not None:
            locks.refuse_an_unlocked_bucket(client, settings["backup_bucket"], mode)
        app.extensions[EXTENSION_KEY] = _Settings(
            client=client,
            session=session,
            primary=settings["primary_bucket"],
            backup=settings["backup_bucket"],
            part_bytes=settings["part_bytes"],
            concurrency=settings["upload_concurrency"],
            encryption={
                settings["primary_bucket"]: _encryption(settings["sse"], settings["kms_key_id"]),
                settings["backup_bucket"]: _encryption(
                    settings["sse"], settings["backup_kms_key_id"]
                ),
            },
            lock_mode=lock_mode,
        )

    @property
    def _settings(self) -> _Settings:
        settings: _Settings = current_app.extensions[EXTENSION_KEY]
        return settings

    @property
    def client(self) -> S3Client:
        """The app's boto3 S3 client (for tools and tests; app code uses the methods)."""
        return self._settings.client

    @property
    def primary_bucket(self) -> str:
        return self._settings.primary

    @property
    def backup_bucket(self) -> str:
        return self._settings.backup

    @property
    def lock_mode(self) -> str | None:
        """S3's Object Lock mode of backup copies (`GOVERNANCE`, `COMPLIANCE`), None when off."""
        return self._settings.lock_mode

    @property
    def direct(self) -> DirectUploads:
        """The calls of uploads that clients send straight to the primary bucket."""
        bucket = self.primary_bucket
        settings = self._settings
        return DirectUploads(settings.client, settings.session, bucket, self.encryption(bucket))

    def encryption(self, bucket: str) -> dict[str, str]:
        """The encryption asked for on every write to `bucket` (what verify expects to find)."""
        return self._settings.encryption[bucket]

    def upload(
        self,
        key: str,
        stream: IO[bytes],
        *,
        content_type: str,
        max_bytes: int,
        replace: bool = False,
    ) -> StoredObject:
        """Write `stream` to the primary bucket under `key`, never replacing an existing object
        unless `replace` says so (a new content of an existing file).

        Hashes the bytes on the way (SHA-256) and lets S3 verify them: a small body goes in one
        PUT checked against that SHA-256; larger ones as a multipart upload of `S3_PART_BYTES`
        parts, each checked against its CRC32, with at most `S3_UPLOAD_CONCURRENCY` parts in
        flight. The parts are read into `S3_UPLOAD_CONCURRENCY` + 1 reused buffers, so memory
        use is bounded whatever the file size. Raises `ObjectExistsError` when the key is
        taken, `TooLargeError` as soon as more than `max_bytes` arrive; on any failure nothing
        is left behind.
        """
        buffer = bytearray(self._settings.part_bytes)
        filled = fill(stream, buffer)
        if filled > max_bytes:
            raise TooLargeError()
        if filled < len(buffer):
            body = bytes(memoryview(buffer)[:filled])
            return self._put_single(key, body, content_type, replace=replace)
        return put_multipart(
            self.client,
            self.primary_bucket,
            key,
            buffer,
            stream,
            content_type=content_type,
            max_bytes=max_bytes,
            concurrency=self._settings.concurrency,
            encryption=self.encryption(self.primary_bucket),
            replace=replace,
        )

    def exists(self, key: str) -> bool:
        """Tell whether `key` is taken in the primary bucket (an orphan object, for instance)."""
        try:
            with translated("check", self.primary_bucket, key):
                self.client.head_object(Bucket=self.primary_bucket, Key=key)
        except NotFoundError:
            return False
        return True

    def _put_single(
        self, key: str, body: bytes, content_type: str, *, replace: bool
    ) -> StoredObject:
        digest = hashlib.sha256(body)
        condition = {} if replace else {"IfNoneMatch": "*"}
        with translated("upload", self.primary_bucket, key):
            self.client.put_object(
                Bucket=self.primary_bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
                **condition,  # type: ignore[arg-type]
                **self.encryption(self.primary_bucket),  # type: ignore[arg-type]
            )
        return StoredObject(key=key, size=len(body), sha256=digest.hexdigest())

    def copy_to_backup(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        metadata: Mapping[str, str],
        locked_until: datetime | None = None,
    ) -> str | None:
        """Copy `key` from the primary to the backup bucket inside S3 (no bytes through the app).

        `metadata` is stored on the backup copy so a file can be identified from the backup
        bucket alone. With a lock mode the new version is locked until `locked_until`. Returns
        the version written (None in an unversioned bucket). Raises `StorageError` (already
        logged with bucket and key) on failure; a copy made but not locked counts as failed.
        """
        version_id = server_side_copy(
            self.client,
            {"Bucket": self.primary_bucket, "Key": key},
            self.backup_bucket,
            key,
            size=size,
            arguments=self._copy_arguments(self.backup_bucket, content_type, metadata),
            action="back up",
        )
        self._lock_copy(key, version_id, locked_until)
        return version_id

    def copy_from_backup(
        self, key: str, *, size: int, content_type: str, version_id: str | None = None
    ) -> None:
        """Put the backup copy of `key` (or one version of it) back in the primary bucket."""
        source = {"Bucket": self.backup_bucket, "Key": key}
        if version_id is not None:
            source["VersionId"] = version_id
        arguments = self._copy_arguments(self.primary_bucket, content_type, {})
        server_side_copy(
            self.client, source, self.primary_bucket, key, size=size, arguments=arguments,
            action="restore",
        )  # fmt: skip

    def copy_within(
        self,
        bucket: str,
        source_key: str,
        key: str,
        *,
        size: int,
        content_type: str,
        metadata: Mapping[str, str],
        version_id: str | None = None,
        locked_until: datetime | None = None,
    ) -> str | None:
        """Copy `source_key` (or one version of it) to `key` in the same bucket, inside S3.

        For moves and versions. In the backup bucket with a lock mode the copy is locked until
        `locked_until`, as `copy_to_backup` does. Returns the version written.
        """
        source = {"Bucket": bucket, "Key": source_key}
        if version_id is not None:
            source["VersionId"] = version_id
        written = server_side_copy(
            self.client, source, bucket, key, size=size,
            arguments=self._copy_arguments(bucket, content_type, metadata), action="copy",
        )  # fmt: skip
        if bucket == self.backup_bucket:
            self._lock_copy(key, written, locked_until)
        return written

    def _copy_arguments(
        self, bucket: str, content_type: str, metadata: Mapping[str, str]
    ) -> dict[str, Any]:
        return {
            "MetadataDirective": "REPLACE",
            # No tags travel (a purged copy's tag must not follow a restore), so no tag rights.
            "TaggingDirective": "REPLACE",
            "ContentType": content_type,
            "Metadata": dict(metadata),
            **self.encryption(bucket),
        }

    def _lock_copy(self, key: str, version_id: str | None, until: datetime | None) -> None:
        """Lock a backup copy just written until `until`, in a lock mode (a copy that cannot
        be locked counts as failed)."""
        if self.lock_mode is None or until is None:
            return
        if version_id is None:
            raise StorageError(detail=f"s3://{self.backup_bucket}/{key}: no version to lock")
        self.extend_lock(key, version_id, until)

    def extend_lock(self, key: str, version_id: str, until: datetime) -> None:
        """Lock one version of a backup copy until `until` (S3 never lets a lock shorten)."""
        assert self.lock_mode is not None  # noqa: S101 -- callers check the mode first
        locks.lock(self.client, self.backup_bucket, key, version_id, self.lock_mode, until)

    def mark_purged(self, key: str) -> None:
        """Tag the current backup version of `key` for the lifecycle rule that expires it."""
        locks.mark_purged(self.client, self.backup_bucket, key)

    def backup_versions(self, key: str) -> list[ObjectVersion]:
        """Every version and delete marker of `key` in the backup bucket, newest first."""
        return [v for v in self.list_versions(self.backup_bucket, prefix=key) if v.key == key]

    def list_versions(self, bucket: str, *, prefix: str = "") -> Iterator[ObjectVersion]:
        """Yield every version and delete marker of `bucket` under `prefix`, by key."""
        return locks.versions(self.client, bucket, prefix)

    def open(
        self,
        key: str,
        *,
        bucket: str | None = None,
        span: tuple[int, int] | None = None,
        version_id: str | None = None,
    ) -> ObjectStream:
        """Start reading an object (or one version), or the bytes `[start, stop)` of it.

        Raises `NotFoundError` when it does not exist.
        """
        bucket = bucket or self.primary_bucket
        extra = {"Range": f"bytes={span[0]}-{span[1] - 1}"} if span else {}
        if version_id is not None:
            extra["VersionId"] = version_id
        with translated("download", bucket, key):
            answer = self.client.get_object(Bucket=bucket, Key=key, **extra)  # type: ignore[arg-type]
        body = answer["Body"]
        return ObjectStream(
            size=answer["ContentLength"],
            content_type=answer.get("ContentType") or "application/octet-stream",
            chunks=body.iter_chunks(DOWNLOAD_CHUNK_BYTES),
        )

    def download_url(
        self, key: str, *, content_disposition: str, content_type: str, expires_in: int
    ) -> str:
        """Sign a short-lived GET URL of `key` that answers with the given headers.

        The URL is a bearer credential until it expires: never log it.
        """
        with translated("sign download", self.primary_bucket, key):
            return self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.primary_bucket,
                    "Key": key,
                    "ResponseContentDisposition": content_disposition,
                    "ResponseContentType": content_type,
                },
                ExpiresIn=expires_in,
            )

    def sha256(self, key: str, *, bucket: str, version_id: str | None = None) -> str:
        """Read an object (or one version) through and return the SHA-256 (hex) of its bytes."""
        digest = hashlib.sha256()
        for chunk in self.open(key, bucket=bucket, version_id=version_id).chunks:
            digest.update(chunk)
        return digest.hexdigest()

    def head(self, key: str, *, bucket: str, version_id: str | None = None) -> ObjectInfo:
        """Describe an object (or one version); raises `NotFoundError` when it does not exist."""
        extra: dict[str, Any] = {"VersionId": version_id} if version_id is not None else {}
        with translated("inspect", bucket, key):
            answer = self.client.head_object(
                Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra
            )
        return object_info(answer)

    def list_objects(self, bucket: str, *, prefix: str = "") -> Iterator[ListedObject]:
        """Yield every object of `bucket` under `prefix`, a page of 1000 keys at a time."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        with translated("list", bucket, prefix + "*"):
            for page in pages:
                for item in page.get("Contents", []):
                    yield ListedObject(item["Key"], item["Size"], item["LastModified"])

    def delete(self, key: str, *, bucket: str | None = None) -> None:
        """Delete `key` from a bucket (the primary by default); deleting nothing is no error."""
        bucket = bucket or self.primary_bucket
        with translated("delete", bucket, key):
            self.client.delete_object(Bucket=bucket, Key=key)

    def health(self) -> list[BucketHealth]:
        """Check that both buckets exist and answer, and that the backup bucket can lock."""
        return buckets_health(self.client, self.primary_bucket, self.backup_bucket, self.lock_mode)


def _encryption(sse: str, kms_key_id: str | None) -> dict[str, str]:
    arguments = {"ServerSideEncryption": sse}
    if sse == "aws:kms" and kms_key_id:
        arguments["SSEKMSKeyId"] = kms_key_id
    return arguments
