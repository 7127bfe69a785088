"""Deleting an account, and forgetting it once nothing of it is left in either bucket.

Deletion happens in two steps. At once: the account is marked deleted (so it can no longer
log in and its sessions end), its tokens are revoked, and every live file goes the way of a
deleted file (`lifecycle.soft_delete`: out of the primary bucket, its backup copy kept for
`BACKUP_RETENTION_DAYS`). A file whose backup copy is not made yet cannot go without losing
its only copy; `backup sync` retries its backup and then finishes the deletion
(`finish_deletions`). Later, once the retention purge has taken every file and no object is
left under the prefix in either bucket, `backup sync` forgets the account row itself
(`forget_deleted`): until then the name stays taken, so a new account of that name can never
inherit the old one's backups.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from securestore.accounts.service import refuse_last_admin
from securestore.audit import service as audit
from securestore.audit.models import AuditEvent
from securestore.auth import registration, two_factor
from securestore.auth import service as auth
from securestore.auth.models import Invitation, RecoveryCode, User
from securestore.db_types import utcnow
from securestore.errors import (
    AuthenticationError,
    BackupNotReadyError,
    ConflictError,
    StorageError,
    ThrottledError,
    raises,
)
from securestore.extensions import db
from securestore.files import lifecycle
from securestore.files.models import Folder, StoredFile
from securestore.quotas.models import UploadReservation
from securestore.shares.models import ShareLink
from securestore.tokens.models import PersonalAccessToken

log = logging.getLogger(__name__)


@raises(ThrottledError, AuthenticationError, ConflictError)
def delete_own_account(user: User, password: str, code: str | None, *, address: str | None) -> int:
    """Self-service deletion: the password again, and a current code when 2FA is on."""
    auth.confirm_password(
        user, password, address, event="account_delete", wrong="Your password is not right."
    )
    if user.two_factor_enabled:
        two_factor.check_code(user, code or "", address, event="account_delete")
    return delete_account(user, actor=user, address=address)


@raises(ConflictError)
def delete_account(user: User, *, actor: User | None, address: str | None) -> int:
    """Delete the account now; return how many files wait for their backup before they go.

    The last administrator who can still act cannot be deleted (`ConflictError`).
    """
    refuse_last_admin(user, "deleting it")
    user.deleted_at = user.deleted_at or utcnow()
    user.session_version += 1
    tokens = auth.revoke_tokens_of(user)
    db.session.commit()
    who = "by its owner" if actor is user else audit.made_by(actor)
    detail = f"account deleted {who}; {tokens} token(s) revoked"
    audit.record("account_delete", user=user, address=address, detail=detail)
    return _delete_files(user)


def finish_deletions() -> int:
    """Delete the files deleted accounts still had (their backups were not ready); `backup
    sync` runs this after the backup retries. Return how many files still wait."""
    owners = db.session.scalars(select(User).where(User.deleted_at.is_not(None)))
    return sum(_delete_files(user) for user in list(owners))


def forget_deleted() -> int:
    """Remove the rows of deleted accounts nothing is left of; return how many went.

    Left means a file row (Recently deleted until the retention purge) or any object, any
    version, under the prefix in either bucket. The rows that point at the account go with
    it explicitly, since SQLite does not enforce `ON DELETE` without a pragma; its audit
    events stay, without the account.
    """
    forgotten = 0
    for user in list(db.session.scalars(select(User).where(User.deleted_at.is_not(None)))):
        has_files = db.session.scalar(
            select(StoredFile.id).where(StoredFile.owner_id == user.id).limit(1)
        )
        try:
            if has_files is not None or registration.objects_remain(user.username):
                continue
        except StorageError as error:
            log.warning("cannot tell whether %s/ is empty: %s", user.username, error.detail)
            continue
        _forget(user)
        forgotten += 1
        log.info("forgot deleted account %s: nothing of it is left", user.username)
    return forgotten


def _delete_files(user: User) -> int:
    """Soft-delete every live file of `user`; return how many had to stay for now."""
    waiting = 0
    live = select(StoredFile).where(StoredFile.owner_id == user.id, StoredFile.live())
    for record in list(db.session.scalars(live)):
        try:
            lifecycle.soft_delete(record)
        except (BackupNotReadyError, StorageError) as error:
            db.session.rollback()
            log.warning("file %s of deleted account waits: %s", record.key, error.message)
            waiting += 1
    return waiting


def _forget(user: User) -> None:
    for model in (PersonalAccessToken, RecoveryCode, UploadReservation):
        db.session.execute(delete(model).where(model.user_id == user.id))
    db.session.execute(delete(ShareLink).where(ShareLink.owner_id == user.id))
    db.session.execute(delete(Folder).where(Folder.owner_id == user.id))
    db.session.execute(update(AuditEvent).where(AuditEvent.user_id == user.id).values(user_id=None))
    for column in (Invitation.created_by_id, Invitation.used_by_id):
        db.session.execute(update(Invitation).where(column == user.id).values({column: None}))
    db.session.delete(user)
    db.session.commit()
