"""The `ShareLink` model: one link to one file or one folder, with its limits and its use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from securestore.auth.models import User
from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db
from securestore.files.models import Folder, StoredFile


class ShareLink(db.Model):  # type: ignore[name-defined,misc]
    """A link that lets anyone holding it download one file, or a folder's files.

    Exactly one of `file_id` and `folder_id` is set (a check constraint says so).
    Only the SHA-256 of the link's random token is kept (like an access token's), so the
    database alone opens no link. `downloads` only ever grows by a conditional UPDATE that
    also checks `max_downloads` (`shares.access`), so no burst of requests passes the limit.
    """

    __tablename__ = "share_links"
    __table_args__ = (
        Index("ix_share_links_owner_created", "owner_id", "created_at"),
        # Purging a file (or a backup sync sweep) finds its links by it.
        Index("ix_share_links_file", "file_id"),
        Index("ix_share_links_folder", "folder_id"),
        CheckConstraint(
            "(file_id IS NULL) <> (folder_id IS NULL)", name="ck_share_links_one_target"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="CASCADE"))
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Hashed like account passwords; NULL: no password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # NULL: no limit.
    max_downloads: Mapped[int | None] = mapped_column(Integer)
    downloads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User] = relationship()
    file: Mapped[StoredFile | None] = relationship()
    folder: Mapped[Folder | None] = relationship()

    @property
    def target_label(self) -> str:
        """What the link shares, for its owner and the audit log: a file's or folder's label."""
        target = self.file or self.folder
        return target.audit_label if target is not None else "a purged file or folder"

    @property
    def target_name(self) -> str:
        """The shared file's or folder's name."""
        target = self.file or self.folder
        return target.name if target is not None else ""

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def state(self, now: datetime) -> str:
        """`active`, `expired`, `exhausted` (its downloads used up) or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.max_downloads is not None and self.downloads >= self.max_downloads:
            return "exhausted"
        return "active"

    def __repr__(self) -> str:
        return f"<ShareLink {self.id} of file {self.file_id} / folder {self.folder_id}>"
