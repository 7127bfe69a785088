"""The `StoredFile` model: one row per object in the primary bucket."""

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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from securestore.auth.models import User
from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db


class BackupState(enum.StrEnum):
    """Where the file's second copy stands."""

    DONE = "done"
    PENDING = "pending"
    FAILED = "failed"


class StoredFile(db.Model):  # type: ignore[name-defined,misc]
    """A user's file. The row is written only after its object exists in the primary bucket."""

    __tablename__ = "stored_files"
    __table_args__ = (
        UniqueConstraint("owner_id", "name", name="uq_stored_files_owner_name"),
        # Pages walk this index in either direction (keyset on created_at, id); carrying the
        # name lets a name filter be checked in the index without reading each row.
        Index("ix_stored_files_owner_created_name", "owner_id", "created_at", "id", "name"),
        # list_page's size orders. (Its case-insensitive name orders would need an index on
        # lower(name), which Alembic cannot compare on SQLite: see the README's Performance.)
        Index("ix_stored_files_owner_size", "owner_id", "size", "id"),
        Index("ix_stored_files_backup_state", "backup_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
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

    owner: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<StoredFile {self.key}>"
