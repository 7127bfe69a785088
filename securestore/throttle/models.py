"""The `ThrottleCounter` table: the database backend's failed-attempt counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from securestore.db_types import UTCDateTime
from securestore.extensions import db


class ThrottleCounter(db.Model):  # type: ignore[name-defined,misc]
    """Failures counted under one key (a hashed account or address) until the window ends."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
