"""Accounts: throttled login, password changes and session revocation (registration:
`auth.registration`).

Every outcome that matters to security is audited here, so views only parse and render.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update

from securestore.audit import service as audit
from securestore.auth import attempts
from securestore.auth.models import User
from securestore.auth.passwords import (
    check_password,
    hash_password,
    needs_rehash,
    validate_password,
)
from securestore.db_types import utcnow
from securestore.errors import (
    AccountDisabledError,
    AuthenticationError,
    ThrottledError,
    ValidationError,
    raises,
)
from securestore.extensions import db
from securestore.tokens.models import PersonalAccessToken

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


def authenticate(username: str, password: str) -> User | None:
    """Return the user when the password matches; `None` for any wrong credential.

    Not throttled: interactive logins go through `log_in`.
    """
    user = find_user(username)
    return user if _password_matches(user, password) else None


@raises(ThrottledError, AuthenticationError, AccountDisabledError)
def log_in(username: str, password: str, address: str | None) -> User:
    """Check a login under the throttle and return the user (whose second factor may follow).

    The attempt is counted first (`auth.attempts`): when refused, `ThrottledError` comes
    before the password is even looked at, so a right password then tells nothing. One
    message for an unknown user and a wrong password alike (`AuthenticationError`); a deleted
    account is unknown, and only the right password learns that an account is disabled
    (`AccountDisabledError`). While the account is under attack from many addresses, a right
    password leads on only to a second factor: an account without one is refused
    (`ThrottledError`) until the window ends.
    """
    name = normalise_username(username)
    attempt = attempts.begin(
        attempts.password_limits(name, address),
        "login",
        lambda: find_user(name),
        address,
        account=name,
    )
    user = find_user(name)
    if user is not None and user.deleted_at is not None:
        user = None
    # An unknown user goes through _password_matches too: it spends the same hashing time.
    if not _password_matches(user, password) or user is None:
        audit.record("login", user=user, address=address, outcome="failed")
        raise AuthenticationError()
    attempt.succeeded()
    if user.disabled_at is not None:
        audit.record("login", user=user, address=address, outcome="refused", detail="disabled")
        raise AccountDisabledError()
    if attempt.account_under_attack and not user.two_factor_enabled:
        audit.record(
            "login", user=user, address=address, outcome="throttled", detail="account under attack"
        )
        raise ThrottledError(attempt.account_retry_after)
    if not user.two_factor_enabled:
        logged_in(user, address=address)
    return user


def logged_in(user: User, *, address: str | None, detail: str | None = None) -> None:
    """Note a completed login (password, and second factor when on) for the admin page."""
    user.last_login_at = utcnow()
    db.session.commit()
    audit.record("login", user=user, address=address, detail=detail)


@raises(ThrottledError, AuthenticationError)
def confirm_password(
    user: User, password: str, address: str | None, *, event: str, wrong: str
) -> None:
    """Ask for the password again before a sensitive change, throttled like a login.

    A wrong password counts against the same limits as a failed login and is audited as a
    failed `event`; `AuthenticationError` carries the message `wrong`.
    """
    attempt = attempts.begin(
        attempts.password_limits(user.username, address), event, lambda: user, address
    )
    if not check_password(user.password_hash, password):
        audit.record(event, user=user, address=address, outcome="failed", detail="wrong password")
        raise AuthenticationError(wrong)
    attempt.succeeded()


@raises(ThrottledError, AuthenticationError, ValidationError)
def change_password(
    user: User, current: str, new: str, address: str | None, *, revoke_tokens: bool
) -> int:
    """Replace the password after checking the current one; every other session ends.

    With `revoke_tokens`, every live access token of the user is revoked in the same
    transaction; returns how many were.
    """
    confirm_password(
        user,
        current,
        address,
        event="password_change",
        wrong="Your current password is not right.",
    )
    revoked = revoke_tokens_of(user) if revoke_tokens else 0
    _replace_password(user, new)
    audit.record("password_change", user=user, address=address)
    if revoked:
        detail = f"{revoked} token(s) revoked with the password change"
        audit.record("token_revoke", user=user, address=address, detail=detail)
    return revoked


def revoke_tokens_of(user: User) -> int:
    """Mark every live token of the user revoked, not committed: the caller's change commits
    it (a password change, a disabled or deleted account); return how many."""
    result = db.session.execute(
        update(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == user.id, PersonalAccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


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
