"""New accounts: self-service registration under `REGISTRATION`, and operators' accounts.

`open` lets anyone register, `invite` only the holder of an unused invitation (consumed in
the same transaction as the account, so one invitation makes exactly one account), `closed`
nobody: then only the CLI and administrators create accounts (`create_user`). A name stays
taken while any object remains under its prefix in either bucket, so a new account can never
inherit a deleted one's files or backups.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy.exc import IntegrityError

from securestore.audit import service as audit
from securestore.auth import attempts, invitations
from securestore.auth.models import User
from securestore.auth.passwords import hash_password, validate_password
from securestore.auth.service import find_user, validate_username
from securestore.errors import (
    ConflictError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    StorageError,
    ThrottledError,
    ValidationError,
    raises,
)
from securestore.extensions import db, storage

TAKEN = "That username is taken; choose another."


class RegistrationClosedError(ForbiddenError):
    """This server does not let people register themselves (`REGISTRATION`)."""

    code = "registration_closed"
    message = "Registration is closed on this server. Ask an administrator for an account."


class InvitationRequiredError(ForbiddenError):
    """Registration on this server needs an invitation link."""

    code = "invitation_required"
    message = "Registration is by invitation only. Open the link you were sent."


def mode() -> str:
    """`open`, `invite` or `closed`."""
    value: str = current_app.config["REGISTRATION"]
    return value


def closed_error() -> RegistrationClosedError | InvitationRequiredError | None:
    """Why people cannot register themselves here without an invitation (None: they can)."""
    if mode() == "closed":
        return RegistrationClosedError()
    if mode() == "invite":
        return InvitationRequiredError()
    return None


@raises(
    ValidationError,
    ConflictError,
    ThrottledError,
    RegistrationClosedError,
    InvitationRequiredError,
    NotFoundError,
    GoneError,
    StorageError,
)
def register(
    username: str, password: str, *, address: str | None, invitation: str | None = None
) -> User:
    """Create an account from the registration form (or an invitation's); log the attempt.

    This is the one place that tells whether a username exists: it has to, so every attempt
    from a client address counts, taken name or not, and `REGISTER_ADDRESS_LIMIT` of them
    per `REGISTER_WINDOW_SECONDS` is all an address gets (`ThrottledError`).
    """
    if invitation is None:
        closed = closed_error()
        if closed is not None:
            raise closed
    else:
        invitations.usable(invitation)
    username = validate_username(username)
    validate_password(password, username)
    if address is not None:
        limits = [attempts.registration_limit(address)]
        attempts.begin(limits, "register", lambda: None, address, reset_first=False)
    user = _new_user(username, password)
    if invitation is not None:
        invitations.consume(invitation, user)
    _commit(user)
    detail = "with an invitation" if invitation else None
    audit.record("register", user=user, address=address, detail=detail)
    return user


@raises(ValidationError, ConflictError, StorageError)
def create_user(username: str, password: str) -> User:
    """Create an account whatever `REGISTRATION` says: the CLI, an administrator, a restore."""
    username = validate_username(username)
    validate_password(password, username)
    user = _new_user(username, password)
    _commit(user)
    return user


def name_in_use(username: str) -> bool:
    """Whether an account holds the name (a deleted one's row included) or objects remain
    under its prefix in either bucket."""
    return find_user(username) is not None or objects_remain(username)


@raises(StorageError)
def objects_remain(username: str) -> bool:
    """Whether any object is left under `username/` in either bucket.

    The backup bucket is looked at version by version under Object Lock: a locked version of
    a deleted account's file must not become a new account's.
    """
    prefix = f"{username}/"
    backup = (
        storage.list_versions(storage.backup_bucket, prefix=prefix)
        if storage.lock_mode is not None
        else storage.list_objects(storage.backup_bucket, prefix=prefix)
    )
    primary = storage.list_objects(storage.primary_bucket, prefix=prefix)
    return next(iter(primary), None) is not None or next(iter(backup), None) is not None


def _new_user(username: str, password: str) -> User:
    if name_in_use(username):
        raise ConflictError(TAKEN)
    user = User(username=username, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    return user


def _commit(user: User) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        # Another registration took the name between the check and the commit.
        db.session.rollback()
        raise ConflictError(TAKEN) from None
