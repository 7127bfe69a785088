"""The `User` and `RecoveryCode` models and the Flask-Login user loader."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db, login_manager


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """An account. `username` is stored lowercased; it is also the user's S3 key prefix.

    `session_version` is part of every session's user id: raising it (logout, password
    change) makes every session cookie issued before worthless, even a copied one.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Base32 TOTP secret once two-factor login is on; the last time step used, so a code
    # cannot be replayed within its 30-second window.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # The secret shown during 2FA setup, kept here (not in the signed but readable session
    # cookie) until a code proves the app has it or the setup expires.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None

    def get_id(self) -> str:
        """The session's user id: `<id>:<session_version>` (see the class docstring)."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """A single-use code that stands in for a TOTP code; only a salted SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(100))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def user_from_session_id(session_id: str) -> User | None:
    """Return the user a `<id>:<version>` id names, if that version is still current."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the session's user; an outdated or malformed id is simply not logged in."""
    return user_from_session_id(session_id)
