"""The multipart engine: a stream goes to S3 in parts, a few at a time, in reused buffers.

Parts are read into `concurrency` + 1 reused `bytearray`s and sent on a few threads, each
checked by S3 against the CRC32 computed here; the whole file's SHA-256 is computed once, on
the way. Memory is therefore bounded whatever the file size, and a failure anywhere aborts
the upload so that nothing is left behind.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import zlib
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from securestore.errors import TooLargeError
from securestore.storage.translate import translated
from securestore.storage.types import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

READ_STEP_BYTES = 1024 * 1024


def put_multipart(
    client: S3Client,
    bucket: str,
    key: str,
    first: bytearray,
    stream: IO[bytes],
    *,
    content_type: str,
    max_bytes: int,
    concurrency: int,
    encryption: dict[str, str],
    replace: bool = False,
) -> StoredObject:
    """Upload `first` (a full part already read) and the rest of `stream` as one object.

    Completes with `If-None-Match: *` unless `replace`, so an object that appeared at `key`
    meanwhile is never replaced (`ObjectExistsError`); more than `max_bytes` raises
    `TooLargeError` at once.
    `encryption` holds the `ServerSideEncryption` arguments, given once for the whole object.
    """
    with translated("start upload", bucket, key):
        upload_id = client.create_multipart_upload(
            Bucket=bucket,
            Key=key,
            ContentType=content_type,
            ChecksumAlgorithm="CRC32",
            **encryption,  # type: ignore[arg-type]
        )["UploadId"]
    sender = PartSender(client, bucket, key, upload_id, concurrency)
    digest = hashlib.sha256()
    size = 0
    try:
        buffer, filled = first, len(first)
        while filled:
            size += filled
            if size > max_bytes:
                raise TooLargeError()
            # A multipart object's checksum covers its parts, never the file, so the file's
            # own SHA-256 is computed here, once. hashlib releases the GIL on large buffers:
            # hashing overlaps the parts in flight.
            digest.update(memoryview(buffer)[:filled])
            sender.send(buffer, filled)
            sender.wait_for_room()
            buffer = sender.free_buffer(len(first))
            filled = fill(stream, buffer)
        parts = sender.finish()
        condition = {} if replace else {"IfNoneMatch": "*"}
        with translated("finish upload", bucket, key):
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                **condition,  # type: ignore[arg-type]
            )
    except BaseException:
        sender.cancel()
        abort(client, bucket, key, upload_id)
        raise
    return StoredObject(key=key, size=size, sha256=digest.hexdigest())


def abort(client: S3Client, bucket: str, key: str, upload_id: str) -> None:
    """Abort a multipart upload, logging (not raising) a failure: the cause matters more."""
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except (BotoCoreError, ClientError):
        # S3 lifecycle rules reap what is left.
        log.exception("could not abort multipart upload %s of s3://%s/%s", upload_id, bucket, key)


class PartSender:
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
        with translated("upload part", self._bucket, self._key):
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


def fill(stream: IO[bytes], buffer: bytearray) -> int:
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
