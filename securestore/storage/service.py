"""The one door to S3: upload to the primary bucket, copy server-side to the backup bucket.

`S3Storage` owns the app's single boto3 client, built in `init_app` from boto3's default
credential chain (no keys are ever passed). Every botocore error is translated here, once,
into the domain exception tree; callers never see `ClientError`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, current_app

from securestore.errors import (
    NotFoundError,
    ObjectExistsError,
    StorageError,
    TooLargeError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

EXTENSION_KEY = "securestore.storage"
# CopyObject copies at most 5 GiB; larger objects need a multipart (UploadPartCopy) copy.
COPY_OBJECT_LIMIT = 5 * 1024**3
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
READ_STEP_BYTES = 1024 * 1024
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_TAKEN_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict"}


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


@dataclass(frozen=True)
class ListedObject:
    """One key of a bucket listing, with its size and when it was written."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class BucketHealth:
    """Whether a bucket answered, and the reason when it did not."""

    bucket: str
    ok: bool
    error: str | None = None


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
        filled = _fill(stream, buffer)
        if filled > max_bytes:
            raise TooLargeError()
        if filled < len(buffer):
            return self._put_single(key, bytes(memoryview(buffer)[:filled]), content_type)
        return self._put_multipart(key, buffer, stream, content_type, max_bytes)

    def exists(self, key: str) -> bool:
        """Tell whether `key` is taken in the primary bucket (an orphan object, for instance)."""
        try:
            with _translated("check", self.primary_bucket, key):
                self.client.head_object(Bucket=self.primary_bucket, Key=key)
        except NotFoundError:
            return False
        return True

    def _put_single(self, key: str, body: bytes, content_type: str) -> StoredObject:
        digest = hashlib.sha256(body)
        with _translated("upload", self.primary_bucket, key):
            self.client.put_object(
                Bucket=self.primary_bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
                IfNoneMatch="*",
            )
        return StoredObject(key=key, size=len(body), sha256=digest.hexdigest())

    def _put_multipart(
        self, key: str, first: bytearray, stream: IO[bytes], content_type: str, max_bytes: int
    ) -> StoredObject:
        bucket = self.primary_bucket
        with _translated("start upload", bucket, key):
            upload_id = self.client.create_multipart_upload(
                Bucket=bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="CRC32"
            )["UploadId"]
        sender = _PartSender(self.client, bucket, key, upload_id, self._settings.concurrency)
        digest = hashlib.sha256()
        size = 0
        try:
            buffer, filled = first, len(first)
            while filled:
                size += filled
                if size > max_bytes:
                    raise TooLargeError()
                # The whole-file SHA-256 is computed once, here; S3 checks each part against
                # its CRC32 (a multipart object's checksum covers its parts, so a SHA-256 per
                # part would not give the file's hash anyway). hashlib releases the GIL on
                # large buffers: hashing overlaps the parts in flight.
                digest.update(memoryview(buffer)[:filled])
                sender.send(buffer, filled)
                sender.wait_for_room()
                buffer = sender.free_buffer(len(first))
                filled = _fill(stream, buffer)
            parts = sender.finish()
            with _translated("finish upload", bucket, key):
                self.client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                    IfNoneMatch="*",
                )
        except BaseException:
            sender.cancel()
            self._abort_multipart(key, upload_id)
            raise
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def _abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(
                Bucket=self.primary_bucket, Key=key, UploadId=upload_id
            )
        except (BotoCoreError, ClientError):
            # The original error matters more; S3 lifecycle rules reap what is left.
            log.exception(
                "could not abort multipart upload %s of s3://%s/%s",
                upload_id,
                self.primary_bucket,
                key,
            )

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
        with _translated(action, bucket, key):
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
        with _translated("download", bucket, key):
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
        with _translated("sign download", self.primary_bucket, key):
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
        with _translated("inspect", bucket, key):
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
        with _translated("list", bucket, prefix + "*"):
            for page in pages:
                for item in page.get("Contents", []):
                    yield ListedObject(item["Key"], item["Size"], item["LastModified"])

    def delete(self, key: str, *, bucket: str | None = None) -> None:
        """Delete `key` from a bucket (the primary by default); deleting nothing is no error."""
        bucket = bucket or self.primary_bucket
        with _translated("delete", bucket, key):
            self.client.delete_object(Bucket=bucket, Key=key)

    def health(self) -> list[BucketHealth]:
        """Check that both buckets exist and answer with the app's credentials."""
        return [self._bucket_health(self.primary_bucket), self._bucket_health(self.backup_bucket)]

    def _bucket_health(self, bucket: str) -> BucketHealth:
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as error:
            return BucketHealth(bucket, False, _error_code(error))
        except BotoCoreError as error:
            return BucketHealth(bucket, False, type(error).__name__)
        return BucketHealth(bucket, True)


class _PartSender:
    """Upload the parts of one multipart upload on a few threads, at most `limit` at a time.

    The caller hands over parts in order and waits for room before filling the next buffer,
    so at most `limit` + 1 buffers exist: one per part in flight and the one being filled.
    A buffer goes back to the caller only once its part is done (botocore may resend it on
    a retry until then). The first failure is raised to the caller at its next call, which
    stops the upload early instead of sending parts in vain.
    """

    def __init__(self, client: S3Client, bucket: str, key: str, upload_id: str, limit: int):
        self.client = client
        self._bucket = bucket
        self._key = key
        self._upload_id = upload_id
        self._limit = limit
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="s3-part")
        self._futures: list[Future[dict[str, Any]]] = []
        self._held: list[tuple[Future[dict[str, Any]], bytearray]] = []
        self._spare: list[bytearray] = []

    def send(self, buffer: bytearray, filled: int) -> None:
        """Start uploading the first `filled` bytes of `buffer` as the next part."""
        number = len(self._futures) + 1
        # A full buffer is sent as it is (botocore passes a bytearray to the socket uncopied);
        # only a short last part is copied out, so that its buffer can be reused at once.
        body = buffer if filled == len(buffer) else bytearray(memoryview(buffer)[:filled])
        future = self._pool.submit(self._upload_part, number, body)
        self._futures.append(future)
        if body is buffer:
            self._held.append((future, buffer))
        else:
            self._spare.append(buffer)

    def free_buffer(self, size: int) -> bytearray:
        """Return a buffer of `size` bytes that no part in flight uses."""
        sending = []
        for future, buffer in self._held:
            if future.done():
                self._spare.append(buffer)
            else:
                sending.append((future, buffer))
        self._held = sending
        return self._spare.pop() if self._spare else bytearray(size)

    def wait_for_room(self) -> None:
        """Block until fewer than `limit` parts are in flight; raise the first failure."""
        while True:
            pending = [future for future in self._futures if not future.done()]
            self._raise_first_failure()
            if len(pending) < self._limit:
                return
            wait(pending, return_when=FIRST_COMPLETED)

    def finish(self) -> list[dict[str, Any]]:
        """Wait for every part and return them as CompleteMultipartUpload wants them."""
        wait(self._futures)
        self._raise_first_failure()
        self._pool.shutdown()
        return [future.result() for future in self._futures]

    def cancel(self) -> None:
        """Drop the parts not started and wait for the running ones, so an abort is final."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _raise_first_failure(self) -> None:
        for future in self._futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                future.result()

    def _upload_part(self, number: int, body: bytearray) -> dict[str, Any]:
        # The CRC32 is computed here, on the part's own thread (zlib releases the GIL), and
        # sent as a header: botocore then neither computes it again nor, over HTTPS, wraps
        # the body in aws-chunked encoding (which would copy it).
        checksum = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode("ascii")
        with _translated("upload part", self._bucket, self._key):
            answer = self.client.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                # botocore takes a bytearray (its validator does; the stubs omit it).
                Body=body,  # type: ignore[arg-type]
                ChecksumCRC32=checksum,
            )
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": checksum}


@contextmanager
def _translated(action: str, bucket: str, key: str) -> Iterator[None]:
    """Turn botocore errors raised inside the block into the domain exception tree."""
    try:
        yield
    except ClientError as error:
        code = _error_code(error)
        if code in _TAKEN_CODES:
            raise ObjectExistsError() from error
        if code in _MISSING_CODES:
            raise NotFoundError() from error
        log.error("S3 %s failed for s3://%s/%s: %s", action, bucket, key, code)
        raise StorageError(detail=f"{code} on s3://{bucket}/{key}") from error
    except BotoCoreError as error:
        log.error("S3 %s failed for s3://%s/%s: %s", action, bucket, key, error)
        raise StorageError(detail=f"{type(error).__name__} on s3://{bucket}/{key}") from error


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _fill(stream: IO[bytes], buffer: bytearray) -> int:
    """Read into `buffer` until it is full or the stream ends; return how many bytes came.

    Loops because a stream may return short reads long before its end; asks for at most
    `READ_STEP_BYTES` at a time so a stream that buffers what it is asked for stays small.
    """
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        chunk = stream.read(min(len(buffer) - filled, READ_STEP_BYTES))
        if not chunk:
            break
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    return filled
