"""The owner's side of share links: create, list and revoke them, and sweep dead ones.

A link's token is 32 random bytes (256 bits) in URL-safe base64; only its SHA-256 is stored,
like an access token's, so it is shown once, at creation, and the database opens no link.
What a visitor may do with a link is `shares.access`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, exists, select

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.auth.passwords import hash_password, validate_password
from securestore.db_types import utcnow
from securestore.errors import NotFoundError, ValidationError, raises
from securestore.extensions import db
from securestore.files import folders
from securestore.files import service as files
from securestore.files.models import Folder, StoredFile
from securestore.routing import absolute_url
from securestore.shares.models import ShareLink

DEFAULT_DAYS = 7
MAX_DOWNLOADS = 1_000_000
TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedShare:
    """A new link's record and its absolute URL, which exists only in this object."""

    record: ShareLink
    url: str


@dataclass(frozen=True)
class ShareRequest:
    """What the owner asked for: a file or a folder (exactly one); `None` fields take the
    defaults."""

    file_id: int | None = None
    folder_id: int | None = None
    expires_in_days: int | None = None
    password: str | None = None
    max_downloads: int | None = None


def token_hash(token: str) -> str:
    """The stored form of a link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


@raises(NotFoundError, ValidationError)
def create_share(user: User, wanted: ShareRequest, *, address: str | None) -> IssuedShare:
    """Create a link to one of the user's files; another user's file is reported as missing.

    Limits are checked, not capped: an expiry past `SHARE_MAX_DAYS` or a missing password
    under `SHARE_REQUIRE_PASSWORD` is refused with a message saying what is allowed.
    """
    _require_enabled()
    if (wanted.file_id is None) == (wanted.folder_id is None):
        raise ValidationError("Share one file (`file_id`) or one folder (`folder_id`).")
    record = None if wanted.file_id is None else files.get_file(user, wanted.file_id)
    folder = None if wanted.folder_id is None else folders.get_folder(user, wanted.folder_id)
    days = _expiry_days(wanted.expires_in_days)
    password_hash = _password_hash(wanted.password)
    if wanted.max_downloads is not None and not 1 <= wanted.max_downloads <= MAX_DOWNLOADS:
        raise ValidationError(f"A download limit is 1 to {MAX_DOWNLOADS:,}, or none.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    link = ShareLink(
        owner_id=user.id,
        file_id=None if record is None else record.id,
        folder_id=None if folder is None else folder.id,
        token_hash=token_hash(token),
        password_hash=password_hash,
        created_at=now,
        expires_at=now + timedelta(days=days),
        max_downloads=wanted.max_downloads,
        downloads=0,
    )
    db.session.add(link)
    db.session.commit()
    audit.record("share_create", user=user, address=address, detail=describe(link))
    return IssuedShare(link, absolute_url("public_shares.page", token=token))


@raises(NotFoundError)
def list_shares(user: User) -> list[ShareLink]:
    """The user's links that are not revoked, newest first (expired and used-up ones too)."""
    _require_enabled()
    query = (
        select(ShareLink)
        .where(ShareLink.owner_id == user.id, ShareLink.revoked_at.is_(None))
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
    )
    return list(db.session.scalars(query))


@raises(NotFoundError)
def revoke_share(user: User, share_id: int, *, address: str | None) -> ShareLink:
    """Revoke one of the user's links: its next request answers 404. Another user's link,
    or one revoked already, is reported as missing."""
    _require_enabled()
    link = db.session.get(ShareLink, share_id)
    if link is None or link.owner_id != user.id or link.revoked_at is not None:
        raise NotFoundError("No such share link.")
    link.revoked_at = utcnow()
    db.session.commit()
    audit.record("share_revoke", user=user, address=address, detail=describe(link))
    return link


def forget_orphans() -> int:
    """Delete links whose file or folder row is gone (purged); return how many.

    PostgreSQL cascades the purge itself; SQLite does not enforce foreign keys, so `backup
    sync` sweeps them. Until then such a link is dead anyway (`shares.access`).
    """
    no_file = ShareLink.file_id.is_not(None) & ~exists().where(StoredFile.id == ShareLink.file_id)
    no_folder = ShareLink.folder_id.is_not(None) & ~exists().where(Folder.id == ShareLink.folder_id)
    result = db.session.execute(delete(ShareLink).where(no_file | no_folder))
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def describe(link: ShareLink) -> str:
    """How audit events name a link: its id and what it shares, never its token."""
    return f"share link {link.id} to {link.target_label}"


def _require_enabled() -> None:
    if not current_app.config["SHARES_ENABLED"]:
        raise NotFoundError("Share links are turned off on this server.")


def _expiry_days(wanted: int | None) -> int:
    longest: int = current_app.config["SHARE_MAX_DAYS"]
    days = min(DEFAULT_DAYS, longest) if wanted is None else wanted
    if not 1 <= days <= longest:
        raise ValidationError(f"A share link lasts 1 to {longest} days.")
    return days


def _password_hash(password: str | None) -> str | None:
    if not password:
        if current_app.config["SHARE_REQUIRE_PASSWORD"]:
            raise ValidationError("This server requires a password on every share link.")
        return None
    validate_password(password)
    return hash_password(password)
