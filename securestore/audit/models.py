"""The `AuditEvent` model: one row per security-relevant event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """Who did what, from where, when, and whether it worked.

    `user_id` survives as NULL when the account is deleted, so the trail is not lost with it.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_address: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.event} {self.outcome}>"
