"""The one translator of botocore errors into the domain exception tree.

Every S3 call of the app runs inside `translated`, so callers see `NotFoundError`,
`ObjectExistsError` or `StorageError` (logged with bucket and key), never `ClientError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from securestore.errors import NotFoundError, ObjectExistsError, StorageError, UploadMismatchError

log = logging.getLogger(__name__)

_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_TAKEN_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict"}


@contextmanager
def translated(
    action: str,
    bucket: str,
    key: str,
    *,
    missing: frozenset[str] | set[str] = frozenset(),
    refused: frozenset[str] | set[str] = frozenset(),
) -> Iterator[None]:
    """Turn botocore errors raised inside the block into the domain exception tree.

    `missing` names more error codes that mean "no such object" for this one call, `refused`
    codes that mean S3 will not accept what the client sent (`UploadMismatchError`).
    """
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        if code in _TAKEN_CODES:
            raise ObjectExistsError() from error
        if code in _MISSING_CODES or code in missing:
            raise NotFoundError() from error
        if code in refused:
            log.warning("S3 %s refused for s3://%s/%s: %s", action, bucket, key, code)
            raise UploadMismatchError(detail=f"{code} on s3://{bucket}/{key}") from error
        log.error("S3 %s failed for s3://%s/%s: %s", action, bucket, key, code)
        raise StorageError(detail=f"{code} on s3://{bucket}/{key}") from error
    except BotoCoreError as error:
        log.error("S3 %s failed for s3://%s/%s: %s", action, bucket, key, error)
        raise StorageError(detail=f"{type(error).__name__} on s3://{bucket}/{key}") from error


def error_code(error: ClientError) -> str:
    """The S3 error code of a `ClientError` (`NoSuchKey`, `AccessDenied`, ...)."""
    return str(error.response.get("Error", {}).get("Code", "Unknown"))
