"""Running the store for other people: roles, disabled accounts, quotas and limits, summaries.

Every change is audited on the account it touches, naming who made it (an administrator,
or the CLI when `actor` is None), so the owner sees it in their own Recent activity.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from securestore.audit import service as audit
from securestore.auth import registration
from securestore.auth import service as auth
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.errors import ConflictError, NotFoundError, StorageError, ValidationError, raises
from securestore.extensions import db
from securestore.files.models import BackupState, StoredFile
from securestore.formatting import human_size
from securestore.quotas import service as quotas


@dataclass(frozen=True)
class AccountSummary:
    """One account as operators see it: counts and sizes, never a file's name."""

    user: User
    files: int
    usage_bytes: int
    quota_bytes: int | None
    backups_pending: int
    backups_failed: int

    @property
    def state(self) -> str:
        if self.user.deleted_at is not None:
            return "deleted"
        return "disabled" if self.user.disabled_at is not None else "active"


@raises(NotFoundError)
def account(username: str) -> User:
    """The account of that name (deleted ones included, for operators)."""
    user = auth.find_user(username)
    if user is None:
        raise NotFoundError(f"No user named {username!r}.")
    return user


def summaries() -> list[AccountSummary]:
    """Every account with its file count, usage and backup states, in two queries."""
    live = StoredFile.live()
    files = func.count(StoredFile.id).filter(live)
    pending = func.count(StoredFile.id).filter(live, StoredFile.backup_state == BackupState.PENDING)
    failed = func.count(StoredFile.id).filter(live, StoredFile.backup_state == BackupState.FAILED)
    rows = db.session.execute(
        select(User, files, pending, failed)
        .outerjoin(StoredFile, StoredFile.owner_id == User.id)
        .group_by(User.id)
        .order_by(User.username)
    ).all()
    usage = quotas.usage_by_owner([user.id for user, *_ in rows])
    return [
        AccountSummary(user, count, usage.get(user.id, 0), quotas.quota_of(user), waiting, lost)
        for user, count, waiting, lost in rows
    ]


@raises(ValidationError, ConflictError, StorageError)
def create_account(
    username: str, password: str, *, admin: bool, actor: User | None, address: str | None
) -> User:
    """Create an account whatever `REGISTRATION` says (the CLI, an administrator)."""
    user = registration.create_user(username, password)
    if admin:
        user.is_admin = True
        db.session.commit()
    detail = f"account created {audit.made_by(actor)}" + (" as an administrator" if admin else "")
    audit.record("admin_action", user=user, address=address, detail=detail)
    return user


@raises(ConflictError)
def set_admin(user: User, admin: bool, *, actor: User | None, address: str | None) -> None:
    """Promote or demote; the last administrator cannot be demoted (`ConflictError`)."""
    if not admin:
        refuse_last_admin(user, "demoting it")
    user.is_admin = admin
    db.session.commit()
    change = "promoted to administrator" if admin else "no longer an administrator"
    audit.record(
        "admin_action", user=user, address=address, detail=f"{change} {audit.made_by(actor)}"
    )


@raises(ConflictError)
def set_disabled(user: User, disabled: bool, *, actor: User | None, address: str | None) -> None:
    """Disable or enable again. Disabled, the account cannot log in, its sessions end for good
    and its tokens answer 401 until it is enabled (they are refused, not revoked)."""
    if disabled:
        refuse_last_admin(user, "disabling it")
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        user.session_version += 1
    elif not disabled:
        user.disabled_at = None
    db.session.commit()
    change = "disabled" if disabled else "enabled again"
    detail = f"account {change} {audit.made_by(actor)}"
    audit.record("admin_action", user=user, address=address, detail=detail)


def set_quota(
    user: User, quota: int | None, *, unlimited: bool, actor: User | None, address: str | None
) -> None:
    """Give the account its own quota (bytes), make it unlimited, or (both unset) the default."""
    user.quota_bytes = None if unlimited else quota
    user.quota_unlimited = unlimited
    db.session.commit()
    detail = f"quota set to {quota_text(user)} {audit.made_by(actor)}"
    audit.record("admin_action", user=user, address=address, detail=detail)


def set_max_upload(
    user: User, limit: int | None, *, actor: User | None, address: str | None
) -> None:
    """Give the account its own largest upload (bytes), or None for `MAX_UPLOAD_BYTES`."""
    user.max_upload_bytes = limit
    db.session.commit()
    detail = f"largest upload set to {upload_limit_text(user)} {audit.made_by(actor)}"
    audit.record("admin_action", user=user, address=address, detail=detail)


def quota_text(user: User) -> str:
    """The account's quota for people: `10 GiB`, `10 GiB (the default)` or `unlimited`."""
    quota = quotas.quota_of(user)
    if quota is None:
        return "unlimited"
    return human_size(quota) + ("" if user.quota_bytes is not None else " (the default)")


def upload_limit_text(user: User) -> str:
    """The account's largest upload for people, saying when it is the server's limit."""
    limit = human_size(quotas.upload_limit_of(user))
    return limit if user.max_upload_bytes else f"{limit} (the server's limit)"


def refuse_last_admin(user: User, doing: str) -> None:
    """Raise `ConflictError` if `user` is the only administrator who can still act."""
    if not user.is_admin:
        return
    others = select(func.count(User.id)).where(
        User.is_admin.is_(True),
        User.id != user.id,
        User.deleted_at.is_(None),
        User.disabled_at.is_(None),
    )
    if not db.session.scalar(others):
        raise ConflictError(f"This is the last administrator: promote someone else before {doing}.")
