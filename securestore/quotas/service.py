"""What an account may store: its quota, its largest upload, its usage, and reservations.

Usage is computed from the database (every live file's size and its versions' sizes), never
by listing buckets. An
upload takes its room *before* its first byte (`reserve`): one transaction locks the
account's row, adds usage and the other uploads' reservations, and records its own only if
everything fits. Concurrent uploads of one account therefore queue on that row lock and
cannot jointly overshoot, on SQLite (one writer at a time) and PostgreSQL (a row lock)
alike. A reservation ends with its upload (`release`); a crashed upload's stops counting at
its expiry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, select, union_all, update

from securestore import formatting
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.errors import QuotaExceededError, ValidationError
from securestore.extensions import db
from securestore.files.models import FileVersion, StoredFile
from securestore.formatting import human_size
from securestore.quotas.models import UploadReservation

# Long enough for the slowest upload; a reservation left by a crash stops counting after it.
RESERVATION_TIME = timedelta(hours=24)


def parse_size(text: str) -> int:
    """Bytes from `1234`, `500MB` (10^6) or `10GiB` (2^30); `ValidationError` otherwise."""
    try:
        return formatting.parse_size(text)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def quota_of(user: User) -> int | None:
    """The account's quota in bytes, None for unlimited (`DEFAULT_QUOTA_BYTES` by default)."""
    if user.quota_unlimited:
        return None
    if user.quota_bytes is not None:
        return user.quota_bytes
    default: int | None = current_app.config["DEFAULT_QUOTA_BYTES"]
    return default


def upload_limit_of(user: User) -> int:
    """The largest single upload the account may make: its own limit within the global one."""
    limit: int = current_app.config["MAX_UPLOAD_BYTES"]
    return min(limit, user.max_upload_bytes) if user.max_upload_bytes else limit


def usage_of(user: User) -> int:
    """Bytes the account is charged for: its live files and their versions (Recently deleted
    ones are free)."""
    return usage_by_owner([user.id]).get(user.id, 0)


def usage_by_owner(owner_ids: list[int]) -> dict[int, int]:
    """The usage (as `usage_of` counts it) of each of these accounts, in one query."""
    charged = _charged(StoredFile.owner_id.in_(owner_ids))
    query = select(charged.c.owner_id, func.sum(charged.c.size)).group_by(charged.c.owner_id)
    return {owner: int(used) for owner, used in db.session.execute(query)}


def _charged(owners: Any) -> Any:
    """The sizes of the live files of `owners` and of those files' versions, with owners."""
    files = select(StoredFile.owner_id, StoredFile.size).where(owners, StoredFile.live())
    kept = (
        select(StoredFile.owner_id, FileVersion.size)
        .join(StoredFile, FileVersion.file_id == StoredFile.id)
        .where(owners, StoredFile.live())
    )
    return union_all(files, kept).subquery()


def room_of(user: User) -> int | None:
    """How many more bytes the account may store now (None: unlimited)."""
    quota = quota_of(user)
    if quota is None:
        return None
    return max(0, quota - usage_of(user) - _reserved(user.id))


def reserve(user: User, size: int, *, lasting: timedelta = RESERVATION_TIME) -> int | None:
    """Take `size` bytes of the account's room for an upload; return the reservation's id.

    The room stops counting after `lasting` even if nobody releases it (a crashed upload).

    None when the account is unlimited (nothing to reserve). Raises `QuotaExceededError`
    when the bytes do not fit, before anything is stored. Commits its own transaction.
    """
    quota = quota_of(user)
    if quota is None:
        return None
    users = User.__table__
    now = utcnow()
    with db.engine.begin() as connection:
        # Writing the row takes the account's lock until this transaction ends.
        connection.execute(update(users).where(users.c.id == user.id).values(id=users.c.id))
        charged = _charged(StoredFile.owner_id == user.id)
        used = connection.scalar(select(func.coalesce(func.sum(charged.c.size), 0)))
        held = connection.scalar(_reserved_query(user.id, now))
        if int(used or 0) + int(held or 0) + size > quota:
            raise QuotaExceededError(
                f"This upload ({human_size(size)}) does not fit: you use "
                f"{human_size(int(used or 0))} of your {human_size(quota)}."
            )
        reservation_id: int = connection.execute(
            insert(UploadReservation)
            .values(user_id=user.id, bytes=size, created_at=now, expires_at=now + lasting)
            .returning(UploadReservation.id)
        ).scalar_one()
    return reservation_id


def release(reservation_id: int | None) -> None:
    """Give a reservation's room back (its upload ended, stored or not)."""
    if reservation_id is None:
        return
    with db.engine.begin() as connection:
        connection.execute(delete(UploadReservation).where(UploadReservation.id == reservation_id))


def expire_reservations() -> int:
    """Forget reservations past their expiry (crashed uploads); return how many."""
    with db.engine.begin() as connection:
        result = connection.execute(
            delete(UploadReservation).where(UploadReservation.expires_at <= utcnow())
        )
    return int(result.rowcount)


def _reserved(user_id: int) -> int:
    return int(db.session.scalar(_reserved_query(user_id, utcnow())) or 0)


def _reserved_query(user_id: int, now: datetime) -> Any:
    return select(func.coalesce(func.sum(UploadReservation.bytes), 0)).where(
        UploadReservation.user_id == user_id, UploadReservation.expires_at > now
    )
