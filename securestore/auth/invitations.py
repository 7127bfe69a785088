"""Invitations: one-time registration links for `REGISTRATION=invite`.

The link carries 32 random bytes; only their SHA-256 is stored. An invitation is used with
one conditional UPDATE in the transaction that creates the account, so however many people
open the same link at once, exactly one account comes of it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from securestore.audit import service as audit
from securestore.auth.models import Invitation, User
from securestore.db_types import utcnow
from securestore.errors import GoneError, NotFoundError, ValidationError, raises
from securestore.extensions import db
from securestore.routing import absolute_url

MAX_DAYS = 365
MAX_NOTE = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@raises(ValidationError)
def create(
    days: int, note: str | None, *, created_by: User | None, address: str | None
) -> tuple[Invitation, str]:
    """Make an invitation valid for `days` (1 to 365); return it and its link (shown once).

    The link is built first, so an invitation nobody can be given is never stored. Audited
    on the administrator's account (`created_by`; None: the CLI)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"An invitation lasts 1 to {MAX_DAYS} days.")
    note = " ".join((note or "").split())[:MAX_NOTE] or None
    token = secrets.token_urlsafe(32)
    url = link(token)
    record = Invitation(
        token_hash=_hash(token),
        note=note,
        expires_at=utcnow() + timedelta(days=days),
        created_by_id=created_by.id if created_by else None,
    )
    db.session.add(record)
    db.session.commit()
    detail = f"invitation {record.id} created, valid {days} day(s), {audit.made_by(created_by)}"
    audit.record("invitation", user=created_by, address=address, detail=detail)
    return record, url


def link(token: str) -> str:
    """The invitation's absolute URL (see `routing.absolute_url`; `ValidationError`)."""
    return absolute_url("auth.invitation", token=token)


@raises(NotFoundError, GoneError)
def usable(token: str) -> Invitation:
    """The invitation a token names, if it can still register an account.

    Unknown: `NotFoundError` (404); used, expired or revoked: `GoneError` (410).
    """
    record = db.session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if record is None:
        raise NotFoundError("There is no such invitation.")
    if record.used_at is not None:
        raise GoneError("This invitation has already been used.")
    if record.revoked_at is not None:
        raise GoneError("This invitation was withdrawn.")
    if record.expires_at <= utcnow():
        raise GoneError("This invitation has expired. Ask for a new one.")
    return record


@raises(NotFoundError, GoneError)
def consume(token: str, user: User) -> None:
    """Mark the invitation used by `user`, in the caller's transaction; exactly one wins."""
    record = usable(token)
    now = utcnow()
    won = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == record.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now, used_by_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        db.session.rollback()
        raise GoneError("This invitation has already been used.")


def pending() -> list[Invitation]:
    """Invitations that can still be used, newest first."""
    query = (
        select(Invitation)
        .where(
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )
    return list(db.session.scalars(query))


@raises(NotFoundError)
def revoke(invitation_id: int, *, actor: User | None, address: str | None) -> Invitation:
    """Withdraw an invitation; its link answers 410 from now on. Audited like `create`."""
    record = db.session.get(Invitation, invitation_id)
    if record is None:
        raise NotFoundError("There is no such invitation.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.commit()
        detail = f"invitation {record.id} revoked {audit.made_by(actor)}"
        audit.record("invitation", user=actor, address=address, detail=detail)
    return record
