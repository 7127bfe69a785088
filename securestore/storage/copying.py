"""Server-side copies between the buckets: CopyObject up to 5 GiB, a multipart copy above."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from securestore.storage.translate import translated

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# CopyObject copies at most 5 GiB; larger objects need a multipart (UploadPartCopy) copy.
COPY_OBJECT_LIMIT = 5 * 1024**3


def server_side_copy(
    client: S3Client,
    source: dict[str, str],
    bucket: str,
    key: str,
    *,
    size: int,
    arguments: dict[str, Any],
    action: str,
) -> str | None:
    """Copy `source` (bucket, key, maybe a version) to `bucket`/`key` inside S3.

    Returns the version written, or None in an unversioned bucket. S3 computes a SHA-256 of
    the copy it writes, which `head` lets verify compare to the recorded hash without reading
    the bytes.
    """
    arguments = {**arguments, "ChecksumAlgorithm": "SHA256"}
    with translated(action, bucket, key):
        if size <= COPY_OBJECT_LIMIT:
            answer = client.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource=source,  # type: ignore[arg-type]
                **arguments,
            )
            return answer.get("VersionId")
        client.copy(source, bucket, key, ExtraArgs=arguments)  # type: ignore[arg-type]
        # The managed (multipart) copy does not say which version it wrote.
        return client.head_object(Bucket=bucket, Key=key).get("VersionId")
