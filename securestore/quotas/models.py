"""The `UploadReservation` model: bytes an upload in flight may still add to its owner's usage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db


class UploadReservation(db.Model):  # type: ignore[name-defined,misc]
    """Room taken from a quota before an upload's first byte, given back when it ends.

    A reservation of a crashed upload simply stops counting at `expires_at`.
    """

    __tablename__ = "upload_reservations"
    __table_args__ = (Index("ix_upload_reservations_user_expires", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
