"""Accounts: registration, throttled login, password changes and session revocation.

Every outcome that matters to security is audited here, so views only parse and render.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.auth.passwords import (
    check_password,
    hash_password,
    needs_rehash,
    validate_password,
)
from securestore.errors import (
    AuthenticationError,
    ConflictError,
    ThrottledError,
    ValidationError,
    raises,
)
from securestore.extensions import db
from securestore.throttle.service import Limit, throttle

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
USERNAME_RULES = (
    "Usernames are 3 to 32 characters: lowercase letters, digits, '.', '_' and '-', "
    "starting with a letter or digit."
)


def normalise_username(raw: str) -> str:
    """Usernames are case-insensitive: `Alice` and `alice` are the same account."""
    return raw.strip().lower()


def validate_username(raw: str) -> str:
    """Return the normalised username or raise `ValidationError` saying what is allowed."""
    username = normalise_username(raw)
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationError(USERNAME_RULES)
    return username


def find_user(username: str) -> User | None:
    """Return the account with that (case-insensitive) username, if any."""
    return db.session.scalar(select(User).where(User.username == normalise_username(username)))


@raises(ValidationError, ConflictError)
def register(username: str, password: str, *, address: str | None) -> User:
    """Create an account; raises `ValidationError` or `ConflictError` (name taken).

    This is the one place that tells whether a username exists: it has to.
    """
    username = validate_username(username)
    validate_password(password, username)
    if find_user(username) is not None:
        raise ConflictError("That username is taken; choose another.")
    user = User(username=username, password_hash=hash_password(password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Another registration took the name between the check and the commit.
        db.session.rollback()
        raise ConflictError("That username is taken; choose another.") from None
    audit.record("register", user=user, address=address)
    return user


def authenticate(username: str, password: str) -> User | None:
    """Return the user when the password matches; `None` for any wrong credential.

    Not throttled: interactive logins go through `log_in`.
    """
    user = find_user(username)
    return user if _password_matches(user, password) else None


def account_limit(scope: str, subject: str) -> Limit:
    """The throttle on one account's failures of one kind (password, second factor)."""
    config = current_app.config
    return Limit(scope, subject, config["LOGIN_ACCOUNT_LIMIT"], config["LOGIN_WINDOW_SECONDS"])


def address_limit(address: str | None) -> Limit:
    """The throttle on every failure from one client address, whatever the account."""
    config = current_app.config
    subject = address or "unknown"
    return Limit("address", subject, config["LOGIN_ADDRESS_LIMIT"], config["LOGIN_WINDOW_SECONDS"])


def login_limits(username: str, address: str | None) -> list[Limit]:
    """The throttles a login attempt counts against: its account and its client address."""
    return [account_limit("login", normalise_username(username)), address_limit(address)]


@raises(ThrottledError, AuthenticationError)
def log_in(username: str, password: str, address: str | None) -> User:
    """Check a login under the throttle and return the user (whose second factor may follow).

    Raises `ThrottledError` before the password is even looked at, so a right password
    during a lockout tells nothing; raises `AuthenticationError` with one message for an
    unknown user and a wrong password alike. A success resets the account's count.
    """
    limits = login_limits(username, address)
    ensure_not_throttled(limits, "login", lambda: find_user(username), address)
    user = find_user(username)
    # An unknown user goes through _password_matches too: it spends the same hashing time.
    if not _password_matches(user, password) or user is None:
        throttle.hit(limits)
        audit.record("login", user=user, address=address, outcome="failed")
        raise AuthenticationError()
    throttle.reset(limits[0])
    if not user.two_factor_enabled:
        audit.record("login", user=user, address=address)
    return user


def ensure_not_throttled(
    limits: Sequence[Limit], event: str, who: Callable[[], User | None], address: str | None
) -> None:
    """Raise `ThrottledError` (and audit it) when any of `limits` is used up.

    `who` returns the user to audit the refusal for; it is called only when throttled.
    """
    verdict = throttle.check(limits)
    if verdict.blocked:
        audit.record(event, user=who(), address=address, outcome="throttled")
        raise ThrottledError(verdict.retry_after)


@raises(ThrottledError, AuthenticationError, ValidationError)
def change_password(user: User, current: str, new: str, address: str | None) -> None:
    """Replace the password after checking the current one; every other session ends.

    A wrong current password counts against the login throttle like a failed login.
    """
    limits = login_limits(user.username, address)
    ensure_not_throttled(limits, "password_change", lambda: user, address)
    if not check_password(user.password_hash, current):
        throttle.hit(limits)
        audit.record("password_change", user=user, address=address, outcome="failed")
        raise AuthenticationError("Your current password is not right.")
    _replace_password(user, new)
    audit.record("password_change", user=user, address=address)


@raises(ValidationError)
def set_password(user: User, password: str) -> None:
    """Replace a user's password (the admin command) and end all their sessions."""
    _replace_password(user, password)
    audit.record("password_change", user=user, detail="set by an administrator")


def end_sessions(user: User) -> None:
    """Make every session of the user invalid, this one included (ASVS 3.3.1, 3.3.4)."""
    user.session_version += 1
    db.session.commit()


def log_out(user: User, *, address: str | None) -> None:
    """End the user's sessions everywhere and audit it."""
    end_sessions(user)
    audit.record("logout", user=user, address=address)


def _replace_password(user: User, password: str) -> None:
    validate_password(password, user.username)
    user.password_hash = hash_password(password)
    end_sessions(user)


def _password_matches(user: User | None, password: str) -> bool:
    if user is None:
        return check_password(None, password)  # always False, after the same work
    if not check_password(user.password_hash, password):
        return False
    if needs_rehash(user.password_hash):
        # Upgrade hashes made with older parameters now that the password is known.
        user.password_hash = hash_password(password)
        db.session.commit()
    return True
