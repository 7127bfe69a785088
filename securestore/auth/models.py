"""The `User` and `RecoveryCode` models and the Flask-Login user loader."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy import false as sa_false
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
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A disabled account cannot log in and its sessions and tokens stop working.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A deleted account keeps this row, its name reserved, until `backup sync` has purged
    # every backup copy under its prefix (`accounts.deletion`).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Quota: None uses DEFAULT_QUOTA_BYTES, unless `quota_unlimited`; the largest single
    # upload: None uses MAX_UPLOAD_BYTES (see `quotas.service`).
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    quota_unlimited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    max_upload_bytes: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None

    @property
    def is_active(self) -> bool:
        """Neither disabled nor deleted: may log in and use its tokens (Flask-Login's name)."""
        return self.disabled_at is None and self.deleted_at is None

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


class Invitation(db.Model):  # type: ignore[name-defined,misc]
    """A one-time registration link: only the SHA-256 of its random token is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Who made it (NULL: the CLI); who used it, and when; revoked by an admin.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def user_from_session_id(session_id: str) -> User | None:
    """Return the user a `<id>:<version>` id names, if that version is still current."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or not user.is_active:
        return None  # a disabled or deleted account's sessions end at their next request
    return user


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the session's user; an outdated or malformed id is simply not logged in."""
    return user_from_session_id(session_id)
