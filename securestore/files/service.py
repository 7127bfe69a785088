"""Files as users see them: a database row per object, kept in step with the buckets.

Order of writes is what keeps data safe: the object is written first and the row only after,
so no row ever points to a missing object; a row that cannot be committed takes its object
away again (or leaves an orphan that `backup verify` reports). Deleted files keep their row
until the backup retention ends (see `files.trash`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from flask import current_app
from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.backups import service as backups
from securestore.backups.retry import retrier
from securestore.errors import (
    NotFoundError,
    ObjectExistsError,
    SecureStoreError,
    StorageError,
    ValidationError,
)
from securestore.extensions import db, storage
from securestore.files import search, trash
from securestore.files.models import BackupState, StoredFile
from securestore.files.naming import clean_filename, numbered_name, object_key
from securestore.formatting import content_disposition
from securestore.storage.service import ObjectStream

log = logging.getLogger(__name__)

# How many "name (N)" alternatives are tried before giving up on a crowded name.
MAX_NAME_ATTEMPTS = 1000
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
# Ids are 64-bit at most; a larger one can only be a miss (and would overflow SQLite).
MAX_FILE_ID = 2**63 - 1


class SaveError(SecureStoreError):
    """The object was stored but its record could not be saved; the upload is undone."""

    status = 503
    code = "database_error"
    message = "The file could not be recorded. Nothing was kept; please try again."


@dataclass(frozen=True)
class FilePage:
    """One page of a user's files and the opaque cursor of the next page (`None`: last page)."""

    items: list[StoredFile]
    next_cursor: str | None


# order name -> (sort key, descending). The id breaks ties, so every row has one place.
ORDERS: dict[str, tuple[Any, bool]] = {
    "newest": (StoredFile.created_at, True),
    "oldest": (StoredFile.created_at, False),
    "name": (func.lower(StoredFile.name), False),
    "name_desc": (func.lower(StoredFile.name), True),
    "largest": (StoredFile.size, True),
    "smallest": (StoredFile.size, False),
}
MAX_PAGE_SIZE = 200


def list_page(
    user: User,
    *,
    cursor: str | None = None,
    limit: int = 50,
    name_filter: str | None = None,
    order: str = "newest",
) -> FilePage:
    """Return one page of the user's files in `order`, optionally only names containing a text.

    Keyset pagination: the cursor holds the last row's sort key and id, so every page costs
    the same however many files come before it.
    """
    if order not in ORDERS:
        raise ValidationError(f"Unknown order {order!r}; use one of: {', '.join(ORDERS)}.")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError(f"A page holds 1 to {MAX_PAGE_SIZE} files.")
    key, descending = ORDERS[order]
    # The sort key is selected too: the cursor then holds the database's own value of it
    # (SQLite's lower() folds only ASCII, Python's folds all of Unicode).
    query = select(StoredFile, key).where(_owned_and_named(user, name_filter))
    if cursor:
        position = tuple_(key, StoredFile.id)
        after = _decode_cursor(cursor, order)
        query = query.where(position < after if descending else position > after)
    directions = (key.desc(), StoredFile.id.desc()) if descending else (key, StoredFile.id)
    rows = db.session.execute(query.order_by(*directions).limit(limit + 1)).all()
    items = [record for record, _ in rows[:limit]]
    if len(rows) <= limit:
        return FilePage(items, None)
    last_record, last_key = rows[limit - 1]
    return FilePage(items, _encode_cursor(order, last_key, last_record.id))


def count_files(user: User, name_filter: str | None = None, *, up_to: int) -> int:
    """Count the user's files (those whose name contains `name_filter`, when given).

    Counting stops after `up_to` + 1 files, so its cost is bounded however many files the
    user has: a result above `up_to` means "more than `up_to`". A rare name filter would still
    read every name, so the trigram index picks the candidates (see `files.search`).
    """
    query = select(StoredFile.id).where(_owned_and_named(user, name_filter))
    matching = search.prefiltered(query, name_filter).limit(up_to + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(matching)) or 0


def get_file(user: User, file_id: int) -> StoredFile:
    """Return the user's file; another user's id is indistinguishable from a missing one."""
    if not 0 < file_id <= MAX_FILE_ID:
        raise NotFoundError()
    record = db.session.get(StoredFile, file_id)
    if record is None or record.owner_id != user.id or record.deleted_at is not None:
        raise NotFoundError()
    return record


def store_upload(
    user: User, filename: str, stream: IO[bytes], content_type: str | None
) -> StoredFile:
    """Store one uploaded file under a name the user does not have yet, then back it up.

    A taken name gets the next free `name (N)`; existing files are never overwritten. The
    upload succeeds even when the backup copy fails: the file is then `pending`, and is
    retried in the background soon after (and by `backup sync`).
    """
    name = clean_filename(filename)
    content_type = _content_type(content_type)
    max_bytes = current_app.config["MAX_UPLOAD_BYTES"]
    taken: set[str] = set()
    while True:
        candidate = _free_name(user, name, taken)
        key = object_key(user.username, candidate)
        if storage.exists(key):
            # An object with no row (an orphan) holds the key: skip it before reading a byte,
            # which keeps a streamed (unseekable) upload able to take the next name.
            taken.add(candidate)
            continue
        try:
            stored = storage.upload(key, stream, content_type=content_type, max_bytes=max_bytes)
            break
        except ObjectExistsError:
            # A concurrent upload took the key while this one was being written.
            if not stream.seekable():
                raise
            stream.seek(0)
            taken.add(candidate)
    record = StoredFile(
        owner_id=user.id,
        name=candidate,
        key=key,
        size=stored.size,
        content_type=content_type,
        sha256=stored.sha256,
        backup_state=BackupState.PENDING,
    )
    backups.lease_for_upload(record)
    _commit_new_record(record)
    if not backups.back_up(record):
        retrier().schedule(record.id)
    audit.record("upload", user=user, detail=record.audit_label)
    return record


def open_download(record: StoredFile, span: tuple[int, int] | None = None) -> ObjectStream:
    """Stream the file's bytes (all of them, or `[start, stop)`) from the primary bucket.

    When the primary object is missing or the primary bucket does not answer, the bytes come
    from the backup copy instead.
    """
    try:
        stream = storage.open(record.key, span=span)
    except (NotFoundError, StorageError) as error:
        stream = backups.open_from_backup(record, error, span=span)
    audit.record("download", user=record.owner, detail=record.audit_label)
    return stream


def download_url(record: StoredFile) -> str:
    """Sign a short-lived S3 URL that serves the file as an attachment under its name."""
    url = storage.download_url(
        record.key,
        content_disposition=content_disposition(record.name),
        content_type=record.content_type,
        expires_in=current_app.config["DOWNLOAD_URL_SECONDS"],
    )
    audit.record("download", user=record.owner, detail=record.audit_label + " (signed URL)")
    return url


def delete_file(user: User, file_id: int) -> StoredFile:
    """Delete the user's file; it stays under "Recently deleted" until the retention ends.

    The object goes first: if S3 refuses, the file stays listed and nothing changed.
    """
    record = get_file(user, file_id)
    trash.move_to_trash(record)
    audit.record("delete", user=user, detail=record.audit_label)
    return record


def _owned_and_named(user: User, name_filter: str | None) -> ColumnElement[bool]:
    condition = (StoredFile.owner_id == user.id) & StoredFile.live()
    if name_filter:
        if "\x00" in name_filter:
            # No stored name holds one (names are cleaned of control characters), and
            # PostgreSQL refuses it in a query: say so instead of failing.
            raise ValidationError("A name filter cannot contain a NUL character.")
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", name_filter) + "%"
        condition = condition & StoredFile.name.ilike(pattern, escape="\\")
    return condition


def _encode_cursor(order: str, key: Any, last_id: int) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([order, value, last_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> tuple[Any, int]:
    stale = ValidationError("This page link is out of date; go back to the first page.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_order, value, last_id = json.loads(raw)
        if cursor_order in ("newest", "oldest"):
            value = datetime.fromisoformat(value)
    except (binascii.Error, ValueError, TypeError) as error:
        raise stale from error
    if cursor_order != order or not (_fits(value, order) and _fits(last_id, "id")):
        raise stale
    return value, last_id


def _fits(value: Any, order: str) -> bool:
    """Tell whether a decoded cursor part is safe to compare with its column in SQL.

    A hand-made cursor could otherwise send a naive time, a string for a size, or an int
    too large for the database, and turn a bad link into a server error.
    """
    if order in ("newest", "oldest"):
        return isinstance(value, datetime) and value.tzinfo is not None
    if order in ("name", "name_desc"):
        return isinstance(value, str)
    return type(value) is int and 0 <= value <= MAX_FILE_ID


def _free_name(user: User, name: str, taken: set[str]) -> str:
    for number in range(1, MAX_NAME_ATTEMPTS + 1):
        candidate = name if number == 1 else numbered_name(name, number)
        if candidate in taken:
            continue
        exists = db.session.scalar(
            select(StoredFile.id).where(
                StoredFile.owner_id == user.id, StoredFile.name == candidate
            )
        )
        if exists is None:
            return candidate
    raise ObjectExistsError(f"You have too many files named {name!r}; rename this one.")


def _commit_new_record(record: StoredFile) -> None:
    db.session.add(record)
    try:
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("could not record s3://%s/%s: %s", storage.primary_bucket, record.key, error)
        try:
            storage.delete(record.key)
        except StorageError:
            log.error(
                "orphan left at s3://%s/%s (no database row); backup verify reports it",
                storage.primary_bucket,
                record.key,
            )
        raise SaveError() from error


def _content_type(raw: str | None) -> str:
    value = (raw or "").split(";", 1)[0].strip().lower()
    return value if _CONTENT_TYPE.fullmatch(value) else DEFAULT_CONTENT_TYPE
