"""Direct uploads, as a client drives them: start, get part URLs, look, complete, cancel.

The app authorizes and records; S3 receives the bytes (`storage.direct`). Starting checks the
declared size against the account's limit (413) and quota (507, reserving the room), picks a
free name as a streamed upload does, and holds it with a `PendingUpload` row. Completing
checks that the parts S3 holds make exactly the declared file, then registers it through the
file lifecycle, exactly like a streamed upload. Anything else ends the upload for good: the
multipart upload is aborted, the row deleted, the reservation released.

Why `StoredFile.sha256` stays empty for these files: the app never sees their bytes, and
reading the object back to hash it would cost the app about as much CPU per GiB as
streaming it did. S3 keeps a SHA-256 of every part instead (signed into each part's URL, so
S3 verified it on arrival) and a composite checksum of the object, which the row keeps in
`checksum` and `backup verify` compares.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.db_types import MAX_ID, utcnow
from securestore.errors import (
    DatabaseError,
    NamesExhaustedError,
    NotFoundError,
    ObjectExistsError,
    QuotaExceededError,
    StorageError,
    TooLargeError,
    UploadMismatchError,
    ValidationError,
    raises,
)
from securestore.extensions import db, storage
from securestore.files import folders, lifecycle
from securestore.files.models import BackupState, Folder, StoredFile
from securestore.files.naming import clean_filename, object_key
from securestore.files.service import free_name, refuse_too_large
from securestore.formatting import media_type
from securestore.quotas import service as quotas
from securestore.storage.types import ReceivedPart
from securestore.uploads.models import PendingUpload

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# S3's limits: at most 10,000 parts, each but the last at least 5 MiB.
MAX_PARTS = 10_000
MIN_PART_BYTES = 5 * MIB
# See `part_size_for`.
SPREAD_PARTS = 32
MAX_SPREAD_PART_BYTES = 64 * MIB
# A reservation outlives its upload's expiry a little, so `backup sync` releases it first.
RESERVATION_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class UploadRequest:
    """What a client declares before sending a byte."""

    name: str
    size: int
    content_type: str | None = None
    folder_id: int | None = None


@raises(ValidationError, NotFoundError, TooLargeError, QuotaExceededError, NamesExhaustedError,
        StorageError)  # fmt: skip
def start_upload(user: User, wanted: UploadRequest) -> PendingUpload:
    """Hold a free name and the quota room for a file the client will send straight to S3.

    The size limit is checked first (413), then the quota (507), before anything exists in
    S3. The multipart upload itself starts with the first part URLs (`sign_parts`).
    """
    name = clean_filename(wanted.name)
    folder = folders.folder_or_root(user, wanted.folder_id)
    refuse_too_large(user, wanted.size)
    expiry = timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"])
    reservation = quotas.reserve(user, wanted.size, lasting=expiry + RESERVATION_SLACK)
    try:
        return _hold_name(user, folder, name, wanted, expiry, reservation)
    except BaseException:
        quotas.release(reservation)
        raise


@raises(NotFoundError, ValidationError, StorageError)
def sign_parts(
    user: User, upload_id: int, numbers: list[int], checksums: dict[str, str]
) -> dict[str, str]:
    """Sign a `PUT` URL for each part number, bound to its SHA-256 (base64) when given.

    The first batch decides whether the upload's parts carry checksums (all of them, or
    none: S3 accepts no mix) and starts the multipart upload accordingly.
    """
    upload = _owned(user, upload_id)
    wanted = sorted(set(numbers))
    if not wanted or not all(1 <= number <= upload.part_count for number in wanted):
        raise ValidationError(f"Part numbers go from 1 to {upload.part_count}.")
    checksums = _checked_checksums(checksums, wanted)
    checksummed = bool(checksums)
    if upload.upload_id is None:
        _start_once(upload, checksummed)
    if checksummed != upload.checksummed:
        state = "carry" if upload.checksummed else "carry no"
        raise ValidationError(f"This upload's parts {state} checksums; keep sending them so.")
    s3_upload = upload.upload_id or ""  # set by `_start_once` at the latest
    urls = storage.direct.part_urls(
        upload.key, s3_upload, {number: checksums.get(str(number)) for number in wanted}
    )
    if checksums:
        _remember(upload, checksums)
    return {str(number): url for number, url in urls.items()}


def _start_once(upload: PendingUpload, checksummed: bool) -> None:
    """Start the S3 multipart upload, once however many part requests race to do it.

    Whoever records its upload id first (a conditional UPDATE) wins; the others abort the
    S3 upload they started and use the winner's.
    """
    started = storage.direct.start(
        upload.key, content_type=upload.content_type, checksummed=checksummed
    )
    won = db.session.execute(
        update(PendingUpload)
        .where(PendingUpload.id == upload.id, PendingUpload.upload_id.is_(None))
        .values(upload_id=started, checksummed=checksummed)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if won.rowcount != 1:  # type: ignore[attr-defined]
        storage.direct.abort(upload.key, started)
    db.session.refresh(upload)


def _remember(upload: PendingUpload, checksums: dict[str, str]) -> None:
    """Add the checksums just signed to the row's, under its write lock, so that parallel
    part requests never overwrite each other's (completing needs every one)."""
    db.session.execute(
        update(PendingUpload)
        .where(PendingUpload.id == upload.id)
        .values(id=PendingUpload.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(upload)  # read again now that the row is ours until the commit
    upload.remember_checksums(checksums)
    db.session.commit()


@raises(NotFoundError, StorageError)
def describe(user: User, upload_id: int) -> tuple[PendingUpload, list[ReceivedPart]]:
    """The user's upload and the parts S3 has received of it (to resume it)."""
    upload = _owned(user, upload_id)
    if upload.upload_id is None:
        return upload, []
    return upload, storage.direct.received_parts(upload.key, upload.upload_id)


@raises(NotFoundError, UploadMismatchError, ObjectExistsError, StorageError, DatabaseError)
def complete(user: User, upload_id: int, *, address: str | None) -> StoredFile:
    """Finish the upload and record the file, or abandon it when its parts do not make it.

    Every part must be there with the size the declared size implies (S3 checked each
    part's checksum on arrival). A mismatch, or S3 refusing the parts, aborts the upload and
    deletes its row (`UploadMismatchError`); a passing S3 failure keeps it for a retry.
    """
    upload = _owned(user, upload_id)
    try:
        parts = _complete_parts(upload)
        checksum = storage.direct.finish(upload.key, upload.upload_id or "", parts)
    except (UploadMismatchError, ObjectExistsError, NotFoundError) as error:
        _abandon(upload)
        if isinstance(error, NotFoundError):
            raise UploadMismatchError(detail="the multipart upload is gone") from error
        raise
    db.session.delete(upload)  # committed by register, with the file's row
    record = lifecycle.register(
        StoredFile(
            owner_id=user.id,
            folder_id=upload.folder_id,
            name=upload.name,
            key=upload.key,
            size=upload.size,
            content_type=upload.content_type,
            sha256=None,
            checksum=checksum,
            backup_state=BackupState.PENDING,
        )
    )
    quotas.release(upload.reservation_id)
    audit.record("upload", user=user, address=address, detail=record.audit_label + " (direct)")
    return record


@raises(NotFoundError)
def cancel(user: User, upload_id: int) -> None:
    """Abort the user's upload: S3 drops its parts, the name and the quota room are free."""
    _abandon(_owned(user, upload_id))


def expire(now: datetime | None = None) -> int:
    """Abort direct uploads older than `UPLOAD_EXPIRY_HOURS`; return how many (`backup sync`).

    Rows past their expiry go with their multipart uploads and reservations; so do multipart
    uploads no row knows that are as old (a row lost to a crash; streamed uploads in flight
    are far younger).
    """
    now = now or utcnow()
    expired = db.session.scalars(
        select(PendingUpload).where(PendingUpload.expires_at <= now).order_by(PendingUpload.id)
    ).all()
    for upload in expired:
        _abandon(upload)
    cutoff = now - timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"])
    known = set(db.session.scalars(select(PendingUpload.upload_id)))
    strays = [
        found
        for found in storage.direct.open_uploads()
        if found.initiated <= cutoff and found.upload_id not in known
    ]
    for found in strays:
        storage.direct.abort(found.key, found.upload_id)
    return len(expired) + len(strays)


def part_size_for(size: int) -> int:
    """The part size of a `size`-byte file: `S3_PART_BYTES`, or larger (whole MiB) so that a
    large file goes in about `SPREAD_PARTS` parts of at most `MAX_SPREAD_PART_BYTES`, and
    always in S3's 10,000.

    Fewer parts are fewer URL requests to the app (a 1 GiB file: three batches), fewer part
    entries for it to list and complete, and fewer preflights and PUTs for the browser; the
    cap bounds what a cut part sends again and what the page hashes at once.
    """
    floor = max(current_app.config["S3_PART_BYTES"], MIN_PART_BYTES)
    spread = min(_whole_mib(-(-size // SPREAD_PARTS)), MAX_SPREAD_PART_BYTES)
    return max(floor, spread, _whole_mib(-(-size // MAX_PARTS)))


def _whole_mib(size: int) -> int:
    return -(-size // MIB) * MIB


def _hold_name(
    user: User,
    folder: Folder | None,
    name: str,
    wanted: UploadRequest,
    expiry: timedelta,
    reservation: int | None,
) -> PendingUpload:
    """Insert the row under the first name in `folder` that neither a file or folder, an
    upload nor an orphan holds."""
    in_folder = (
        PendingUpload.folder_id.is_(None)
        if folder is None
        else PendingUpload.folder_id == folder.id
    )
    taken = set(
        db.session.scalars(
            select(PendingUpload.name).where(PendingUpload.owner_id == user.id, in_folder)
        )
    )
    while True:
        candidate = free_name(user, folder, name, taken)
        key = object_key(user.username, candidate, folders.path_of(folder))
        if storage.exists(key):
            taken.add(candidate)  # an orphan object holds the key
            continue
        now = utcnow()
        upload = PendingUpload(
            owner_id=user.id,
            folder_id=None if folder is None else folder.id,
            key=key,
            name=candidate,
            size=wanted.size,
            content_type=media_type(wanted.content_type),
            part_size=part_size_for(wanted.size),
            reservation_id=reservation,
            created_at=now,
            expires_at=now + expiry,
        )
        db.session.add(upload)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # a concurrent upload took the name first
            taken.add(candidate)
            continue
        return upload


@raises(NotFoundError)
def get_upload(user: User, upload_id: int) -> PendingUpload:
    """The user's live upload; another user's, or an expired one, is a missing one."""
    return _owned(user, upload_id)


def _owned(user: User, upload_id: int) -> PendingUpload:
    """The user's live upload; another user's, or an expired one, is a missing one."""
    upload = db.session.get(PendingUpload, upload_id) if 0 < upload_id <= MAX_ID else None
    if upload is None or upload.owner_id != user.id or upload.expires_at <= utcnow():
        raise NotFoundError("No such upload.")
    return upload


def _complete_parts(upload: PendingUpload) -> list[ReceivedPart]:
    """The parts to complete with, each with its checksum; `UploadMismatchError` if short."""
    if upload.upload_id is None:
        raise UploadMismatchError(detail="no part was ever sent")
    parts = storage.direct.received_parts(upload.key, upload.upload_id)
    count = upload.part_count
    expected = [upload.part_size] * (count - 1) + [upload.size - upload.part_size * (count - 1)]
    if [part.number for part in parts] != list(range(1, count + 1)) or [
        part.size for part in parts
    ] != expected:
        raise UploadMismatchError(
            detail=f"{len(parts)} part(s) of {sum(p.size for p in parts)} bytes,"
            f" {count} of {upload.size} declared"
        )
    if not upload.checksummed:
        return parts
    signed = upload.signed_checksums
    return [
        ReceivedPart(
            part.number, part.size, part.etag, part.checksum or signed.get(str(part.number))
        )
        for part in parts
    ]


def _abandon(upload: PendingUpload) -> None:
    """End an upload for good: abort it in S3, delete its row, release its reservation."""
    if upload.upload_id is not None:
        storage.direct.abort(upload.key, upload.upload_id)
    db.session.execute(delete(PendingUpload).where(PendingUpload.id == upload.id))
    db.session.commit()
    quotas.release(upload.reservation_id)


def _checked_checksums(checksums: dict[str, str], numbers: list[int]) -> dict[str, str]:
    """Base64 SHA-256 digests for every one of `numbers`, or none at all."""
    if not checksums:
        return {}
    if set(checksums) != {str(number) for number in numbers}:
        raise ValidationError("Give a checksum for every part asked for, or for none.")
    for number, value in checksums.items():
        try:
            digest = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != 32:
            raise ValidationError(f"The checksum of part {number} is not a base64 SHA-256.")
    return checksums
