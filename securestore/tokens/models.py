"""The `PersonalAccessToken` model: a hashed API credential owned by one user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from securestore.auth.models import User
from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db


class PersonalAccessToken(db.Model):  # type: ignore[name-defined,misc]
    """A token's public selector and the SHA-256 of its secret part; the secret is never stored.

    A token reads `sst_<selector>_<secret>`: the selector finds the row, the secret's hash is
    compared in constant time, so neither a lookup nor a comparison leaks the secret.
    """

    __tablename__ = "personal_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    selector: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Space-separated, from `tokens.service.SCOPES`.
    scopes: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    @property
    def scope_list(self) -> list[str]:
        """The token's scopes as a list, in their canonical order."""
        return self.scopes.split()

    def is_expired(self, now: datetime) -> bool:
        """Tell whether the token's expiry date has passed at `now`."""
        return self.expires_at is not None and self.expires_at <= now

    def __repr__(self) -> str:
        return f"<PersonalAccessToken {self.selector} of user {self.user_id}>"
