"""Files as users see them: store, find, download, delete and restore their own files.

Each function is what one view calls. What happens to a stored object after its bytes are
written (its row, backup copy, deletion, restore) is `files.lifecycle`'s, step by step; this
module cleans names, writes the bytes, and audits what the user did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from flask import current_app
from sqlalchemy import or_, select, update

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.db_types import MAX_ID
from securestore.errors import (
    BackupDamagedError,
    BackupNotReadyError,
    DatabaseError,
    NamesExhaustedError,
    NotFoundError,
    ObjectExistsError,
    QuotaExceededError,
    SecureStoreError,
    StorageError,
    TooLargeError,
    ValidationError,
    raises,
)
from securestore.extensions import db, storage
from securestore.files import folders, lifecycle, versions
from securestore.files.copies import backup_copy
from securestore.files.models import BackupState, Folder, StoredFile
from securestore.files.naming import clean_filename, numbered_name, object_key, split_extension
from securestore.files.search import like_escaped
from securestore.formatting import content_disposition, human_size, media_type
from securestore.quotas import service as quotas
from securestore.storage.types import ObjectStream, StoredObject

log = logging.getLogger(__name__)

# How many "name (N)" alternatives are tried before giving up on a crowded name.
MAX_NAME_ATTEMPTS = 1000


@dataclass(frozen=True)
class Incoming:
    """One file of an upload request as it arrives: its bytes are read once, in order.

    `declared_size` is what the request says the file holds at most (its Content-Length,
    or what a multipart body leaves for it); None when the request says nothing.
    """

    filename: str
    stream: IO[bytes]
    content_type: str | None
    declared_size: int | None


@dataclass(frozen=True)
class Target:
    """Where an upload goes: a folder (None: the root), and whether it may replace a file of
    the same name there (keeping the old content as a version) instead of taking `name (N)`."""

    folder: Folder | None = None
    replace: bool = False


ROOT = Target()

UPLOAD_ERRORS = (
    ValidationError,
    QuotaExceededError,
    NamesExhaustedError,
    ObjectExistsError,
    TooLargeError,
    StorageError,
    DatabaseError,
)


@raises(NotFoundError)
def get_file(user: User, file_id: int) -> StoredFile:
    """Return the user's file; another user's id is indistinguishable from a missing one."""
    if not 0 < file_id <= MAX_ID:
        raise NotFoundError()
    record = db.session.get(StoredFile, file_id)
    if record is None or record.owner_id != user.id or record.deleted_at is not None:
        raise NotFoundError()
    return record


@raises(*UPLOAD_ERRORS)
def store_upload(
    user: User, incoming: Incoming, target: Target = ROOT, *, address: str | None
) -> StoredFile:
    """Store one uploaded file in the target folder, then back it up.

    Clean the name, take the room it needs in the quota, write the object, register it. A
    taken name gets the next free `name (N)`; existing files are never overwritten, except
    for a `replace` target: a live file of that name then gets the new content, and its old
    one is kept as a version (`files.versions`). A file
    over the account's upload limit (413) or its quota (507) is refused before a byte is
    stored when its size is declared, else as soon as it passes the limit. The upload
    succeeds even when the backup copy fails: the file is then `pending` until `backup
    sync` copies it.
    """
    name = clean_filename(incoming.filename)
    content_type = media_type(incoming.content_type)
    limit = refuse_too_large(user, incoming.declared_size)
    room = quotas.room_of(user)
    size = incoming.declared_size if incoming.declared_size is not None else room
    reservation = quotas.reserve(user, size) if size is not None else None
    max_bytes = limit if room is None else min(limit, room)
    folder = target.folder
    current = _live_file(user, folder, name) if target.replace else None
    try:
        if current is not None:
            versions.replace_content(current, incoming.stream, content_type, max_bytes)
            audit.record("replace", user=user, address=address, detail=current.audit_label)
            return current
        name, stored = _write_object(user, folder, name, incoming.stream, content_type, max_bytes)
        record = lifecycle.register(
            StoredFile(
                owner_id=user.id,
                folder_id=None if folder is None else folder.id,
                name=name,
                key=stored.key,
                size=stored.size,
                content_type=content_type,
                sha256=stored.sha256,
                backup_state=BackupState.PENDING,
            )
        )
    except TooLargeError:
        if max_bytes < limit:
            raise QuotaExceededError() from None  # it passed the room left, not the limit
        raise
    finally:
        quotas.release(reservation)
    audit.record("upload", user=user, address=address, detail=record.audit_label)
    return record


@raises(TooLargeError)
def refuse_too_large(user: User, size: int | None) -> int:
    """Refuse a declared size over the account's upload limit (413); return that limit.

    Checked before anything else, quota included, so the answer names the limit that binds.
    """
    limit = quotas.upload_limit_of(user)
    if size is not None and size > limit:
        raise TooLargeError(f"This file is larger than the {human_size(limit)} you may upload.")
    return limit


@raises(*UPLOAD_ERRORS)
def store_single_upload(
    user: User, files: Iterator[Incoming], target: Target = ROOT, *, address: str | None
) -> StoredFile:
    """Store the one file of a request that must hold exactly one (the API's upload).

    Files arrive in body order, so a second one is seen only once the first is stored: the
    first is then discarded for real (both copies and its row) and the request refused. A
    replacing upload is not undone that way, which would delete the file: it is kept and said.
    """
    first = next(files, None)
    if first is None:
        raise ValidationError("Send the file in the multipart field `file`.")
    record = store_upload(user, first, target, address=address)
    if next(files, None) is not None:
        if target.replace:
            raise ValidationError("Send one file per request; only the first one was stored.")
        lifecycle.discard(record)
        raise ValidationError("Send one file per request; none of these was kept.")
    return record


@raises(StorageError)
def open_download(
    record: StoredFile, span: tuple[int, int] | None = None, *, address: str | None
) -> ObjectStream:
    """Stream the file's bytes (all of them, or `[start, stop)`) for a download; audited."""
    stream = read_object(record, span)
    audit.record("download", user=record.owner, address=address, detail=record.audit_label)
    return stream


@raises(StorageError)
def read_object(record: StoredFile, span: tuple[int, int] | None = None) -> ObjectStream:
    """The file's bytes from the primary bucket, or from the backup copy when the primary
    object is missing or the primary bucket does not answer."""
    try:
        return storage.open(record.key, span=span)
    except (NotFoundError, StorageError) as error:
        return _open_from_backup(record, error, span)


@raises(StorageError)
def download_url(record: StoredFile, *, address: str | None) -> str:
    """Sign a short-lived S3 URL that serves the file as an attachment under its name; the
    owner's download, audited."""
    url = signed_url(record)
    detail = record.audit_label + " (signed URL)"
    audit.record("download", user=record.owner, address=address, detail=detail)
    return url


@raises(StorageError)
def signed_url(record: StoredFile) -> str:
    """The presigned GET behind `download_url`, for callers that audit the download
    themselves (a share link's visitor)."""
    return storage.download_url(
        record.key,
        content_disposition=content_disposition(record.name),
        content_type=media_type(record.content_type),
        expires_in=current_app.config["DOWNLOAD_URL_SECONDS"],
    )


@raises(NotFoundError, BackupNotReadyError, StorageError)
def delete_file(user: User, file_id: int, *, address: str | None) -> StoredFile:
    """Delete the user's file; it stays under "Recently deleted" until the retention ends."""
    record = get_file(user, file_id)
    lifecycle.soft_delete(record)
    audit.record("delete", user=user, address=address, detail=record.audit_label)
    return record


def retention() -> timedelta:
    """How long a deleted file stays restorable (`BACKUP_RETENTION_DAYS`)."""
    return timedelta(days=current_app.config["BACKUP_RETENTION_DAYS"])


@raises(NotFoundError, BackupDamagedError, QuotaExceededError, StorageError)
def restore_file(user: User, file_id: int, *, address: str | None) -> StoredFile:
    """Bring one of the user's deleted files back from its backup copy, if it still fits."""
    record = db.session.get(StoredFile, file_id) if 0 < file_id <= MAX_ID else None
    if record is None or record.owner_id != user.id or record.deleted_at is None:
        raise NotFoundError()
    reservation = quotas.reserve(user, record.size)
    try:
        lifecycle.restore(record)
    finally:
        quotas.release(reservation)
    audit.record("restore", user=user, address=address, detail=record.audit_label)
    return record


def _live_file(user: User, folder: Folder | None, name: str) -> StoredFile | None:
    key = object_key(user.username, name, folders.path_of(folder))
    return db.session.scalar(select(StoredFile).where(StoredFile.key == key, StoredFile.live()))


def _write_object(
    user: User,
    folder: Folder | None,
    name: str,
    stream: IO[bytes],
    content_type: str,
    max_bytes: int,
) -> tuple[str, StoredObject]:
    """Write the bytes under the first free `name (N)`; return that name and what was stored.

    A concurrent upload taking the chosen key makes the conditional write fail; a seekable
    stream then tries the next name, an unseekable one (a streamed body) gives up.
    """
    taken: set[str] = set()
    while True:
        candidate = free_name(user, folder, name, taken)
        key = object_key(user.username, candidate, folders.path_of(folder))
        if storage.exists(key):
            # An object with no row (an orphan) holds the key: skip it before reading a byte,
            # which keeps a streamed (unseekable) upload able to take the next name.
            taken.add(candidate)
            continue
        try:
            stored = storage.upload(key, stream, content_type=content_type, max_bytes=max_bytes)
            return candidate, stored
        except ObjectExistsError:
            if not stream.seekable():
                raise
            stream.seek(0)
            taken.add(candidate)


@raises(NamesExhaustedError)
def free_name(user: User, folder: Folder | None, name: str, taken: set[str]) -> str:
    """The first of `name`, `name (2)`, `name (3)` ... that no file or folder in `folder` holds.

    `taken` names more that may not be picked (held by an orphan object, or an upload).

    One query reads every name of that family, so crowded names cost the same as fresh ones;
    a numbered name shortened to fit 255 bytes falls outside the family's pattern, so the
    pick is confirmed by an exact lookup (the conditional write still has the last word).
    """
    stem, extension = split_extension(name)
    family = like_escaped(stem) + " (%)" + like_escaped(extension)
    in_folder = (
        StoredFile.folder_id.is_(None) if folder is None else StoredFile.folder_id == folder.id
    )
    held = set(
        db.session.scalars(
            select(StoredFile.name).where(
                StoredFile.owner_id == user.id,
                in_folder,
                or_(StoredFile.name == name, StoredFile.name.like(family, escape="\\")),
            )
        )
    )
    for number in range(1, MAX_NAME_ATTEMPTS + 1):
        candidate = name if number == 1 else numbered_name(name, number)
        if candidate in taken or candidate in held:
            continue
        if not folders.name_taken(user, folder, candidate):
            return candidate
        held.add(candidate)
    raise NamesExhaustedError(f"You have too many files named {name!r}; rename this one.")


def _open_from_backup(
    record: StoredFile, cause: SecureStoreError, span: tuple[int, int] | None
) -> ObjectStream:
    """Serve a file from its backup copy because the primary failed; logged and counted."""
    log.warning(
        "primary s3://%s/%s unavailable (%s); serving the backup copy",
        storage.primary_bucket,
        record.key,
        cause.detail,
    )
    db.session.execute(
        update(StoredFile)
        .where(StoredFile.id == record.id)
        .values(backup_reads=StoredFile.backup_reads + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    try:
        # The newest backup version holding the bytes, past any delete marker.
        version_id = backup_copy(record).version_id
        return storage.open(
            record.key, bucket=storage.backup_bucket, span=span, version_id=version_id
        )
    except SecureStoreError as error:
        log.error(
            "no readable copy of %s (owner %s) in either bucket: %s",
            record.key,
            record.owner_id,
            error.detail,
        )
        raise StorageError(detail=f"both copies of {record.key} unreadable") from error
