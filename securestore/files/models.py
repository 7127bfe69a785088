"""The `StoredFile` model: one row per file, live or deleted within the backup retention."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from securestore.auth.models import User
from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db


class BackupState(enum.StrEnum):
    """Where the file's second copy stands."""

    DONE = "done"
    PENDING = "pending"
    FAILED = "failed"


class StoredFile(db.Model):  # type: ignore[name-defined,misc]
    """A user's file. The row is written only after its object exists in the primary bucket.

    A deleted file keeps its row (`deleted_at` set) until `backup sync` purges it after the
    retention period: its backup copy can be restored, and its name and key stay reserved so
    no new upload can overwrite that copy.
    """

    __tablename__ = "stored_files"
    __table_args__ = (
        UniqueConstraint("owner_id", "name", name="uq_stored_files_owner_name"),
        # Pages walk this index in either direction (keyset on created_at, id); carrying the
        # name lets a name filter be checked in the index without reading each row.
        Index("ix_stored_files_owner_created_name", "owner_id", "created_at", "id", "name"),
        # list_page's size orders (its name orders: ix_stored_files_owner_lower_name below).
        Index("ix_stored_files_owner_size", "owner_id", "size", "id"),
        Index("ix_stored_files_backup_state", "backup_state"),
        Index("ix_stored_files_deleted_at", "deleted_at"),
        Index("ix_stored_files_backup_locked_until", "backup_locked_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    # The SHA-256 (hex) of the file's bytes, computed as they stream through the app. NULL
    # for a direct upload, whose bytes the app never sees: `checksum` stands in for it.
    sha256: Mapped[str | None] = mapped_column(String(64))
    # S3's checksum of a direct upload's object, `SHA256:<base64>-<parts>` (see
    # `storage.direct`); `backup verify` compares it with what S3 reports. NULL otherwise.
    checksum: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    backup_state: Mapped[BackupState] = mapped_column(
        Enum(
            BackupState,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=BackupState.PENDING,
    )
    backup_error: Mapped[str | None] = mapped_column(Text)
    backup_attempts: Mapped[int] = mapped_column(Integer, default=0)
    backed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When `backup sync` may try again (bounded backoff); NULL means now.
    backup_next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Until when a copier (a sync run, a delete) holds the file's backup copy; taken with a
    # conditional UPDATE so two copiers never copy the same file (`lifecycle.claim`).
    backup_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Until when the backup copy is under S3 Object Lock (BACKUP_LOCK_MODE); NULL: not locked.
    # `backup sync` extends it before it falls below BACKUP_LOCK_DAYS from now.
    backup_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by `backup verify` when both copies checked out; cleared when a check fails.
    backup_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Downloads served from the backup because the primary object was missing or unreachable.
    backup_reads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User] = relationship()

    @classmethod
    def live(cls) -> ColumnElement[bool]:
        """The condition that keeps deleted files out of listings and lookups."""
        return cls.deleted_at.is_(None)

    @property
    def content_tag(self) -> str:
        """A strong validator of the file's bytes (an ETag): their SHA-256, else S3's checksum,
        else the row's id, since a stored file's bytes never change."""
        return self.sha256 or self.checksum or f"file-{self.id}"

    @property
    def audit_label(self) -> str:
        """How audit events name this file (never its bytes or a URL)."""
        return f"file {self.id}: {self.name}"

    def __repr__(self) -> str:
        return f"<StoredFile {self.key}>"


# list_page's case-insensitive name orders walk this index, in either direction; an expression
# index needs the mapped columns, so it is declared after the class.
Index(
    "ix_stored_files_owner_lower_name",
    StoredFile.owner_id,
    func.lower(StoredFile.name),
    StoredFile.id,
)
# Name filters have a trigram index too, a different one per database and outside the models
# (neither can be declared here): see securestore/files/search.py.
