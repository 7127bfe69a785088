"""Create, list, revoke and check personal access tokens.

A token is shown once, at creation; only the SHA-256 of its secret part is stored. The secret
is 32 random bytes, so a plain (unsalted, fast) hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from securestore.audit import service as audit
from securestore.auth import attempts
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.errors import (
    NotFoundError,
    ScopeError,
    ThrottledError,
    TokenError,
    ValidationError,
    raises,
)
from securestore.extensions import db
from securestore.tokens.models import PersonalAccessToken

PREFIX = "sst_"
SCOPES = ("read", "write")
MAX_NAME_LENGTH = 100
MAX_EXPIRY_DAYS = 3650
# Writing `last_used_at` on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_SELECTOR_BYTES = 8
# `secrets.token_urlsafe(32)` is 43 characters of the URL-safe base64 alphabet.
_TOKEN = re.compile(
    rf"{PREFIX}(?P<selector>[0-9a-f]{{{_SELECTOR_BYTES * 2}}})_(?P<secret>[A-Za-z0-9_-]{{43}})"
)


@dataclass(frozen=True)
class IssuedToken:
    """A new token's record and its secret, which exists only in this object."""

    record: PersonalAccessToken
    secret: str


@raises(ValidationError)
def create_token(
    user: User,
    name: str,
    *,
    scopes: Iterable[str],
    expires_in_days: int | None,
    address: str | None,
) -> IssuedToken:
    """Create a token for `user`; `expires_in_days=None` means it never expires, or, under a
    `TOKEN_MAX_DAYS`, that it lives as long as allowed."""
    name = _clean_name(name)
    scope_text = " ".join(_clean_scopes(scopes))
    now = utcnow()
    longest = current_app.config["TOKEN_MAX_DAYS"] or MAX_EXPIRY_DAYS
    if expires_in_days is None and current_app.config["TOKEN_MAX_DAYS"]:
        expires_in_days = longest  # this server allows no token that never expires
    expires_at = None
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= longest:
            raise ValidationError(f"Expiry must be 1 to {longest} days.")
        expires_at = now + timedelta(days=expires_in_days)
    selector = secrets.token_hex(_SELECTOR_BYTES)
    secret = secrets.token_urlsafe(32)
    record = PersonalAccessToken(
        user_id=user.id,
        name=name,
        selector=selector,
        secret_hash=_hash(secret),
        scopes=scope_text,
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(record)
    db.session.commit()
    detail = f"token {record.id}: {name} ({scope_text})"
    audit.record("token_create", user=user, address=address, detail=detail)
    return IssuedToken(record=record, secret=f"{PREFIX}{selector}_{secret}")


def list_tokens(user: User) -> list[PersonalAccessToken]:
    """Return the user's tokens, revoked ones included, newest first."""
    query = (
        select(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == user.id)
        .order_by(PersonalAccessToken.created_at.desc(), PersonalAccessToken.id.desc())
    )
    return list(db.session.scalars(query))


@raises(NotFoundError)
def revoke_token(user: User, token_id: int, *, address: str | None) -> PersonalAccessToken:
    """Revoke one of the user's tokens; another user's token is reported as missing."""
    record = db.session.get(PersonalAccessToken, token_id)
    if record is None or record.user_id != user.id:
        raise NotFoundError("No such token.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.commit()
        detail = f"token {record.id}: {record.name}"
        audit.record("token_revoke", user=user, address=address, detail=detail)
    return record


@raises(TokenError, ThrottledError)
def authenticate_request(token: str, address: str | None) -> PersonalAccessToken:
    """Authenticate an API request under the login throttle of its client address.

    Guessing tokens is guessing passwords: every wrong token counts against the same
    per-address limit as failed logins, and is audited; past the limit even a valid token
    is refused with 429 until the window ends. A right token costs the throttle one read
    (`attempts.check_unguessable`: a token's secret is 256 random bits).
    """
    limit = attempts.address_limit(address)
    attempts.check_unguessable(limit, "api_auth", address)
    try:
        return authenticate(token)
    except TokenError as error:
        attempts.count_failure(limit)
        audit.record("api_auth", address=address, outcome="failed", detail=error.message)
        raise


def authenticate(token: str) -> PersonalAccessToken:
    """Return the live token record `token` names, or raise `TokenError` saying why not."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise TokenError()
    record = db.session.scalar(
        select(PersonalAccessToken).where(PersonalAccessToken.selector == match["selector"])
    )
    if record is None or not hmac.compare_digest(record.secret_hash, _hash(match["secret"])):
        raise TokenError()
    now = utcnow()
    if record.revoked_at is not None:
        raise TokenError("This token was revoked.")
    if record.is_expired(now):
        raise TokenError("This token has expired.")
    if not record.user.is_active:
        raise TokenError("This account is disabled.")
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
        record.last_used_at = now
        db.session.commit()
    return record


@raises(ScopeError)
def require_scope(record: PersonalAccessToken, scope: str) -> None:
    """Raise `ScopeError` unless the token carries `scope`."""
    if scope not in record.scope_list:
        raise ScopeError(f"This token lacks the '{scope}' scope.")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise ValidationError("Give the token a name, e.g. the script or machine that uses it.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"Token names have at most {MAX_NAME_LENGTH} characters.")
    return name


def _clean_scopes(raw: Iterable[str]) -> list[str]:
    wanted = set(raw)
    unknown = wanted.difference(SCOPES)
    if unknown:
        raise ValidationError(f"Unknown scope {sorted(unknown)[0]!r}; use {' or '.join(SCOPES)}.")
    if not wanted:
        raise ValidationError("Choose at least one scope: read, write or both.")
    return [scope for scope in SCOPES if scope in wanted]
