"""Reorganize a user's tree: rename and move files and folders, delete and restore folders.

Each function is what one view calls. A file changes key through `files.moves` (journaled,
in both buckets); a folder change updates the folder rows in one transaction and then moves
the files below it one at a time, so the tree's rows are right at once and the keys follow.
A crash part-way leaves misplaced files that `backup sync` moves (`moves.settle_misplaced`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, delete, exists, func, literal, select, update

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.errors import (
    BackupDamagedError,
    BackupNotReadyError,
    InvalidMoveError,
    NameTakenError,
    NotFoundError,
    QuotaExceededError,
    StorageError,
    ValidationError,
    raises,
)
from securestore.extensions import db
from securestore.files import folders, lifecycle, moves
from securestore.files.folders import in_subtree, path_of
from securestore.files.models import Folder, StoredFile
from securestore.files.naming import clean_filename, join_path, object_key
from securestore.files.service import get_file
from securestore.quotas import service as quotas

# "Leave it where it is", for the optional target folder of a move (None means the root).
UNCHANGED = -1


@dataclass(frozen=True)
class DeletedEntry:
    """One line of Recently deleted: a file, or a folder standing for its whole tree."""

    file: StoredFile | None
    folder: Folder | None
    deleted_at: datetime


@raises(NotFoundError, NameTakenError, ValidationError, StorageError)
def change_file(
    user: User,
    file_id: int,
    *,
    name: str | None = None,
    folder_id: int | None = UNCHANGED,
    address: str | None,
) -> StoredFile:
    """Rename the file and/or move it to `folder_id` (None: the root); done in both buckets."""
    record = get_file(user, file_id)
    target = record.folder if folder_id == UNCHANGED else folders.folder_or_root(user, folder_id)
    new_name = record.name if name is None else clean_filename(name)
    if (new_name, path_of(target)) == (record.name, path_of(record.folder)):
        return record
    folders.require_free(user, target, new_name)
    before = record.path
    moves.move(record, new_name, target)
    audit.record("move", user=user, address=address, detail=f"{record.audit_label} (was {before})")
    return record


@raises(NotFoundError, NameTakenError, InvalidMoveError, ValidationError, StorageError)
def change_folder(
    user: User,
    folder_id: int,
    *,
    name: str | None = None,
    parent_id: int | None = UNCHANGED,
    address: str | None,
) -> Folder:
    """Rename the folder and/or move it under `parent_id` (None: the root), with its tree.

    The rows change in one commit (the new paths of the folder and every subfolder); then
    each file below moves to its new key in both buckets. A folder cannot go into itself or
    below itself (`InvalidMoveError`).
    """
    folder = folders.get_folder(user, folder_id)
    parent = (
        folders.folder_or_root(user, folder.parent_id)
        if parent_id == UNCHANGED
        else folders.folder_or_root(user, parent_id)
    )
    if parent is not None and (parent.id == folder.id or parent.path.startswith(folder.path + "/")):
        raise InvalidMoveError(f"{folder.path!r} cannot move into {parent.path!r}, inside itself.")
    new_name = folder.name if name is None else clean_filename(name)
    new_path = join_path(path_of(parent), new_name)
    if new_path == folder.path:
        return folder
    folders.require_free(user, parent, new_name)
    object_key(user.username, new_name, path_of(parent))  # checks the path length
    old_path = folder.path
    _repath(folder, new_path)
    folder.name, folder.parent_id = new_name, None if parent is None else parent.id
    db.session.commit()
    moves.settle_misplaced(folder)
    detail = f"{folder.audit_label} (was {old_path})"
    audit.record("folder_move", user=user, address=address, detail=detail)
    return folder


def _repath(folder: Folder, new_path: str) -> None:
    """Give the folder and every folder below it their paths under `new_path` (no commit)."""
    old = folder.path
    db.session.execute(
        update(Folder)
        .where(in_subtree(folder))
        .values(
            path=literal(new_path, String())
            + func.substr(Folder.path, len(old) + 1, type_=String())
        )  # fmt: skip
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()


@raises(NotFoundError, BackupNotReadyError, StorageError)
def delete_folder(user: User, folder_id: int, *, address: str | None) -> Folder:
    """Delete the folder with everything inside: Recently deleted lists it as one entry.

    Its files are deleted one by one (each keeps its backup copy, as a deleted file does);
    the folders are marked last, all with one time, which is how a restore finds the tree.
    A file that cannot be deleted yet (its backup is still pending) stops the delete there:
    the folder stays, and the files deleted so far are in Recently deleted.
    """
    folder = folders.get_folder(user, folder_id)
    subtree = select(Folder.id).where(in_subtree(folder), Folder.deleted_at.is_(None))
    live = select(StoredFile).where(StoredFile.folder_id.in_(subtree), StoredFile.live())
    now = utcnow()
    for record in db.session.scalars(live).all():
        lifecycle.soft_delete(record)
    db.session.execute(
        update(Folder)
        .where(Folder.id.in_(subtree))
        .values(deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(folder)
    audit.record("folder_delete", user=user, address=address, detail=folder.audit_label)
    return folder


@raises(NotFoundError, BackupDamagedError, QuotaExceededError, StorageError)
def restore_folder(user: User, folder_id: int, *, address: str | None) -> Folder:
    """Bring a deleted folder back with its tree: the folders first, then each file."""
    folder = db.session.get(Folder, folder_id) if folder_id > 0 else None
    if folder is None or folder.owner_id != user.id or folder.deleted_at is None:
        raise NotFoundError()
    if folder.parent_id is not None:
        folders.get_folder(user, folder.parent_id)  # a deleted parent is restored instead
    subtree = select(Folder.id).where(in_subtree(folder))
    deleted = select(StoredFile).where(
        StoredFile.folder_id.in_(subtree), StoredFile.deleted_at.is_not(None)
    )
    records = db.session.scalars(deleted).all()
    reservation = quotas.reserve(user, sum(record.size for record in records))
    try:
        db.session.execute(
            update(Folder)
            .where(Folder.id.in_(subtree))
            .values(deleted_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        for record in records:
            lifecycle.restore(record)
    finally:
        quotas.release(reservation)
    db.session.refresh(folder)
    audit.record("folder_restore", user=user, address=address, detail=folder.audit_label)
    return folder


def list_deleted(user: User) -> list[DeletedEntry]:
    """Recently deleted: files and folders whose own folder is live, newest first.

    What was deleted inside a deleted folder is part of that folder's entry.
    """
    live_parent = select(Folder.id).where(Folder.owner_id == user.id, Folder.deleted_at.is_(None))
    files = db.session.scalars(
        select(StoredFile).where(
            StoredFile.owner_id == user.id,
            StoredFile.deleted_at.is_not(None),
            StoredFile.folder_id.is_(None) | StoredFile.folder_id.in_(live_parent),
        )
    )
    deleted_folders = db.session.scalars(
        select(Folder).where(
            Folder.owner_id == user.id,
            Folder.deleted_at.is_not(None),
            Folder.parent_id.is_(None) | Folder.parent_id.in_(live_parent),
        )
    )
    entries = [DeletedEntry(record, None, record.deleted_at) for record in files]  # type: ignore[arg-type]
    entries += [DeletedEntry(None, f, f.deleted_at) for f in deleted_folders]  # type: ignore[arg-type]
    return sorted(entries, key=lambda entry: entry.deleted_at, reverse=True)


def purge_deleted_folders(now: datetime) -> int:
    """Forget deleted folders past the retention once nothing is left in them; return how
    many. Runs after `lifecycle.purge_expired` in `backup sync`; a tree goes leaves first."""
    cutoff = now - timedelta(days=current_app.config["BACKUP_RETENTION_DAYS"])
    child = Folder.__table__.alias("child")
    purged = 0
    while True:
        result = db.session.execute(
            delete(Folder).where(
                Folder.deleted_at <= cutoff,
                ~exists().where(StoredFile.folder_id == Folder.id),
                ~exists().where(child.c.parent_id == Folder.id),
            )
        )
        db.session.commit()
        if not result.rowcount:  # type: ignore[attr-defined]
            return purged
        purged += result.rowcount  # type: ignore[attr-defined]
