"""The `PendingUpload` model: a direct upload between its start and its completion."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db
from securestore.files.models import KEY_LENGTH


class PendingUpload(db.Model):  # type: ignore[name-defined,misc]
    """A direct upload in progress: its name and key are held, its quota room reserved.

    The S3 multipart upload is started with the first batch of part URLs (`upload_id` is
    NULL until then), because only then is it known whether the parts carry checksums.
    The row goes when the upload completes (the file's row replaces it), is cancelled, fails
    its checks, or expires (`backup sync`).
    """

    __tablename__ = "pending_uploads"
    # Two uploads never aim at one key (`key` is unique), so never at one name in one folder.
    # An ended upload's id stays unused (404, as the API promises), never another's: SQLite
    # would otherwise hand the highest one out again; PostgreSQL's sequence never does.
    __table_args__ = (
        Index("ix_pending_uploads_expires_at", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    upload_id: Mapped[str | None] = mapped_column(String(1024))
    # The folder the file will be in (NULL: the top level).
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    part_size: Mapped[int] = mapped_column(BigInteger)
    # Whether the parts carry SHA-256 checksums; decided by the first batch of part URLs.
    checksummed: Mapped[bool | None] = mapped_column()
    # The checksum signed into each part's URL, as JSON `{"1": "<base64>"}`: S3's listing of
    # parts omits them on some servers (SeaweedFS), and completing needs them.
    part_checksums: Mapped[str | None] = mapped_column(Text)
    # The quota reservation held for the upload (NULL: the account is unlimited).
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def part_count(self) -> int:
        """How many parts make the file: every one `part_size` long but the last."""
        return -(-self.size // self.part_size)

    @property
    def signed_checksums(self) -> dict[str, str]:
        """The checksum signed into each part's URL, by part number (as a string)."""
        found: dict[str, str] = json.loads(self.part_checksums or "{}")
        return found

    def remember_checksums(self, checksums: dict[str, str]) -> None:
        """Keep the checksums just signed, the latest one for a part signed twice."""
        self.part_checksums = json.dumps({**self.signed_checksums, **checksums})

    def __repr__(self) -> str:
        return f"<PendingUpload {self.id} of {self.key}>"
