"""Accounts: the username and password rules, registration and credential checks."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from securestore.auth.models import User
from securestore.errors import ConflictError, ValidationError
from securestore.extensions import db

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME_RULES = (
    "Usernames are 3 to 32 characters: lowercase letters, digits, '.', '_' and '-', "
    "starting with a letter or digit."
)
# Checked when the username is unknown, so a miss costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password, only here for timing")


def normalise_username(raw: str) -> str:
    """Usernames are case-insensitive: `Alice` and `alice` are the same account."""
    return raw.strip().lower()


def validate_username(raw: str) -> str:
    """Return the normalised username or raise `ValidationError` saying what is allowed."""
    username = normalise_username(raw)
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationError(USERNAME_RULES)
    return username


def validate_password(password: str) -> None:
    """Raise `ValidationError` when a password is too short or too long."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"Passwords can have at most {MAX_PASSWORD_LENGTH} characters.")


def find_user(username: str) -> User | None:
    """Return the account with that (case-insensitive) username, if any."""
    return db.session.scalar(select(User).where(User.username == normalise_username(username)))


def register(username: str, password: str) -> User:
    """Create an account; raises `ValidationError` or `ConflictError` (name taken)."""
    username = validate_username(username)
    validate_password(password)
    if find_user(username) is not None:
        raise ConflictError("That username is taken; choose another.")
    user = User(username=username, password_hash=generate_password_hash(password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Another registration took the name between the check and the commit.
        db.session.rollback()
        raise ConflictError("That username is taken; choose another.") from None
    return user


def authenticate(username: str, password: str) -> User | None:
    """Return the user when the password matches; `None` for any wrong credential."""
    user = find_user(username)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password (validated) and commit."""
    validate_password(password)
    user.password_hash = generate_password_hash(password)
    db.session.commit()
