"""The one door to S3: upload to the primary bucket, copy server-side to the backup bucket.

`S3Storage` owns the app's single boto3 client, built in `init_app` from boto3's default
credential chain (no keys are ever passed). Every botocore error is translated once, by
`storage.translate`, into the domain exception tree; callers never see `ClientError`. Large
uploads go through the multipart engine (`storage.multipart`); what comes back is a plain
value (`storage.types`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, current_app

from securestore.errors import NotFoundError, TooLargeError
from securestore.storage.multipart import fill, put_multipart
from securestore.storage.translate import error_code, translated
from securestore.storage.types import (
    BucketHealth,
    ListedObject,
    ObjectInfo,
    ObjectStream,
    StoredObject,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

EXTENSION_KEY = "securestore.storage"
# CopyObject copies at most 5 GiB; larger objects need a multipart (UploadPartCopy) copy.
COPY_OBJECT_LIMIT = 5 * 1024**3
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Settings:
    client: S3Client
    primary: str
    backup: str
    part_bytes: int
    concurrency: int


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
        client_config = BotoConfig(
            retries={"mode": "standard", "max_attempts": 3},
            # Presigned download URLs are SigV4 (SigV2 is deprecated and has no expiry cap).
            signature_version="s3v4",
            # One connection per thread that may talk to S3 at once: gunicorn threads times
            # the parts each upload keeps in flight (see S3_MAX_POOL_CONNECTIONS).
            max_pool_connections=settings["max_pool_connections"],
            s3={
                # Path-style keys for a custom endpoint (a local S3 has no bucket subdomains).
                "addressing_style": "path" if settings["endpoint_url"] else "auto",
                # Every upload carries a checksum header that S3 verifies (the SHA-256 of a
                # single PUT, the CRC32 of each part). Over HTTPS botocore then skips SigV4's
                # payload hash by itself; over plain HTTP (a local S3) it would hash every byte
                # once more, the upload's largest CPU cost, so it is off for both.
                "payload_signing_enabled": False,
            },
        )
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings["endpoint_url"],
            region_name=settings["region"],
            config=client_config,
        )
        app.extensions[EXTENSION_KEY] = _Settings(
            client=client,
            primary=settings["primary_bucket"],
            backup=settings["backup_bucket"],
            part_bytes=settings["part_bytes"],
            concurrency=settings["upload_concurrency"],
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

    def upload(
        self, key: str, stream: IO[bytes], *, content_type: str, max_bytes: int
    ) -> StoredObject:
        """Write `stream` to the primary bucket under `key`, never replacing an existing object.

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
            return self._put_single(key, bytes(memoryview(buffer)[:filled]), content_type)
        return put_multipart(
            self.client,
            self.primary_bucket,
            key,
            buffer,
            stream,
            content_type=content_type,
            max_bytes=max_bytes,
            concurrency=self._settings.concurrency,
        )

    def exists(self, key: str) -> bool:
        """Tell whether `key` is taken in the primary bucket (an orphan object, for instance)."""
        try:
            with translated("check", self.primary_bucket, key):
                self.client.head_object(Bucket=self.primary_bucket, Key=key)
        except NotFoundError:
            return False
        return True

    def _put_single(self, key: str, body: bytes, content_type: str) -> StoredObject:
        digest = hashlib.sha256(body)
        with translated("upload", self.primary_bucket, key):
            self.client.put_object(
                Bucket=self.primary_bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
                IfNoneMatch="*",
            )
        return StoredObject(key=key, size=len(body), sha256=digest.hexdigest())

    def copy_to_backup(
        self, key: str, *, size: int, content_type: str, metadata: Mapping[str, str]
    ) -> None:
        """Copy `key` from the primary to the backup bucket inside S3 (no bytes through the app).

        `metadata` is stored on the backup copy so a file can be identified from the backup
        bucket alone. Raises `StorageError` (already logged with bucket and key) on failure.
        """
        self._copy(
            self.primary_bucket, self.backup_bucket, key, size, content_type, metadata, "back up"
        )

    def copy_from_backup(self, key: str, *, size: int, content_type: str) -> None:
        """Put the backup copy of `key` back in the primary bucket, replacing what is there."""
        self._copy(self.backup_bucket, self.primary_bucket, key, size, content_type, {}, "restore")

    def _copy(
        self,
        source_bucket: str,
        bucket: str,
        key: str,
        size: int,
        content_type: str,
        metadata: Mapping[str, str],
        action: str,
    ) -> None:
        # S3 computes a SHA-256 of the copy it writes, which `head` lets verify compare to the
        # recorded hash without reading the bytes.
        source = {"Bucket": source_bucket, "Key": key}
        arguments = {
            "MetadataDirective": "REPLACE",
            "ContentType": content_type,
            "Metadata": dict(metadata),
            "ChecksumAlgorithm": "SHA256",
        }
        with translated(action, bucket, key):
            if size <= COPY_OBJECT_LIMIT:
                self.client.copy_object(
                    Bucket=bucket,
                    Key=key,
                    CopySource=source,  # type: ignore[arg-type]
                    **arguments,  # type: ignore[arg-type]
                )
            else:
                self.client.copy(source, bucket, key, ExtraArgs=arguments)  # type: ignore[arg-type]

    def open(
        self, key: str, *, bucket: str | None = None, span: tuple[int, int] | None = None
    ) -> ObjectStream:
        """Start reading an object, or the bytes `[start, stop)` of it with a ranged GET.

        Raises `NotFoundError` when it does not exist.
        """
        bucket = bucket or self.primary_bucket
        extra = {"Range": f"bytes={span[0]}-{span[1] - 1}"} if span else {}
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

    def sha256(self, key: str, *, bucket: str) -> str:
        """Read an object through and return the SHA-256 (hex) of its bytes."""
        digest = hashlib.sha256()
        for chunk in self.open(key, bucket=bucket).chunks:
            digest.update(chunk)
        return digest.hexdigest()

    def head(self, key: str, *, bucket: str) -> ObjectInfo:
        """Describe an object; raises `NotFoundError` when it does not exist."""
        with translated("inspect", bucket, key):
            answer = self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        checksum = answer.get("ChecksumSHA256")
        full_object = checksum is not None and "-" not in checksum
        return ObjectInfo(
            size=answer["ContentLength"],
            content_type=answer.get("ContentType") or "application/octet-stream",
            metadata=dict(answer.get("Metadata") or {}),
            sha256=base64.b64decode(checksum).hex() if full_object and checksum else None,
        )

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
        """Check that both buckets exist and answer with the app's credentials."""
        return [self._bucket_health(self.primary_bucket), self._bucket_health(self.backup_bucket)]

    def _bucket_health(self, bucket: str) -> BucketHealth:
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as error:
            return BucketHealth(bucket, False, error_code(error))
        except BotoCoreError as error:
            return BucketHealth(bucket, False, type(error).__name__)
        return BucketHealth(bucket, True)
