"""The file tree's rows: folders, files (live or deleted within the retention), versions, and
the journal of moves in progress.

A file's object key is always its current path, `<username>/<folder path>/<name>`, in both
buckets, so either bucket alone is a readable copy of every user's tree. Older contents of a
file live outside every user's prefix (`VERSION_PREFIX`), keyed by file and not by path: a
listing of a user's prefix (what `backup restore` reads) sees current contents only, and a
move never has to carry the versions along.
"""

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


# Older contents of files: `.versions/<username>/<file id>/<random>`. A username never starts
# with a dot, so no user's prefix can hold these keys.
VERSION_PREFIX = ".versions/"
# `<username>/` plus a path of at most `naming.MAX_PATH_BYTES`.
KEY_LENGTH = 1100


class Folder(db.Model):  # type: ignore[name-defined,misc]
    """A folder of a user's tree: a row only (S3 has no folders; empty ones need no object).

    `path` is the folder's full path below the user's root (`docs/2026`), kept with the row so
    a file's key is one string join away, and unique per owner among live and deleted folders
    alike: a deleted folder's tree still holds its keys until it is purged or restored.
    """

    __tablename__ = "folders"
    __table_args__ = (
        UniqueConstraint("owner_id", "path", name="uq_folders_owner_path"),
        Index("ix_folders_owner_parent_name", "owner_id", "parent_id", "name"),
        Index("ix_folders_deleted_at", "deleted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(KEY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def audit_label(self) -> str:
        """How audit events name this folder."""
        return f"folder {self.id}: {self.path}"

    def __repr__(self) -> str:
        return f"<Folder {self.owner_id}:{self.path}>"


class StoredFile(db.Model):  # type: ignore[name-defined,misc]
    """A user's file. The row is written only after its object exists in the primary bucket.

    A deleted file keeps its row (`deleted_at` set) until `backup sync` purges it after the
    retention period: its backup copy can be restored, and its name and key stay reserved so
    no new upload can overwrite that copy.
    """

    __tablename__ = "stored_files"
    __table_args__ = (
        # Names are unique per folder through `key` (the path), which is unique.
        Index("ix_stored_files_folder_name", "owner_id", "folder_id", "name"),
        Index("ix_stored_files_folder_created", "owner_id", "folder_id", "created_at", "id"),
        Index("ix_stored_files_folder_size", "owner_id", "folder_id", "size", "id"),
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
    # NULL: the user's root.
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    # The SHA-256 (hex) of the file's bytes, computed as they stream through the app. NULL
    # for a direct upload, whose bytes the app never sees: `checksum` stands in for it.
    sha256: Mapped[str | None] = mapped_column(String(64))
    # S3's checksum of a direct upload's object, `SHA256:<base64>-<parts>` (see
    # `storage.direct`); `backup verify` compares it with what S3 reports. NULL otherwise.
    checksum: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the current content was uploaded, once a replacing upload or a version restore
    # gave the file a new one; NULL: at `created_at`.
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
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
    folder: Mapped[Folder | None] = relationship()

    @property
    def content_at(self) -> datetime:
        """When the current content was uploaded."""
        return self.modified_at or self.created_at

    @property
    def path(self) -> str:
        """The file's path below its owner's root (`docs/2026/report.pdf`): its key's tail."""
        return self.key.split("/", 1)[1]

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


class FileVersion(db.Model):  # type: ignore[name-defined,misc]
    """An earlier content of a file, kept (with its backup copy) when a newer one replaced it.

    Its object sits under `VERSION_PREFIX` in both buckets; `backed_up_at` is NULL until the
    backup copy exists (`backup sync` retries it). Versions count in their owner's usage.
    """

    __tablename__ = "file_versions"
    __table_args__ = (Index("ix_file_versions_file_created", "file_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    # As on `StoredFile`: a direct upload's content has S3's `checksum` instead of a SHA-256.
    sha256: Mapped[str | None] = mapped_column(String(64))
    checksum: Mapped[str | None] = mapped_column(String(100))
    # When this content was uploaded (it became a version later).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    backed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PendingMove(db.Model):  # type: ignore[name-defined,misc]
    """A file being moved from one key to another: written before the first copy, deleted
    after the old key is gone, so a crash in between is finished or undone (`files.moves`)."""

    __tablename__ = "pending_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("stored_files.id", ondelete="CASCADE"), unique=True
    )
    from_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    to_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# list_page's case-insensitive name orders walk this index, in either direction; an expression
# index needs the mapped columns, so it is declared after the class.
Index(
    "ix_stored_files_owner_lower_name",
    StoredFile.owner_id,
    func.lower(StoredFile.name),
    StoredFile.id,
)
# ... and these, within one folder.
Index(
    "ix_stored_files_folder_lower_name",
    StoredFile.owner_id,
    StoredFile.folder_id,
    func.lower(StoredFile.name),
    StoredFile.id,
)
Index(
    "ix_folders_owner_parent_lower_name",
    Folder.owner_id,
    Folder.parent_id,
    func.lower(Folder.name),
    Folder.id,
)
# Name filters have a trigram index too, a different one per database and outside the models
# (neither can be declared here): see securestore/files/search.py.
