"""The `User` model and the Flask-Login user loader."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from securestore.db_types import UTCDateTime, utcnow
from securestore.extensions import db, login_manager


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """An account. `username` is stored lowercased; it is also the user's S3 key prefix."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the session's user; an id that is not a number is simply not logged in."""
    if not user_id.isdigit():
        return None
    return db.session.get(User, int(user_id))
