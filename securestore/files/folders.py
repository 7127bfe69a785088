"""Folders as users see them: find, create, list, and the names a folder's contents hold.

A folder is a database row (S3 has no folders, and an empty one needs no object); its files'
keys carry its path. Renaming, moving, deleting and restoring folders change keys, which is
`files.organize`'s job; this module only reads the tree and adds to it.

One name, one thing, as in a file system: a name in a folder belongs to one file or one
folder, live or in Recently deleted (whose keys stay reserved until restored or purged).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, tuple_, union_all
from sqlalchemy.exc import IntegrityError

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.db_types import MAX_ID
from securestore.errors import NameTakenError, NotFoundError, ValidationError, raises
from securestore.extensions import db
from securestore.files import listing
from securestore.files.models import Folder, StoredFile
from securestore.files.naming import clean_filename, join_path, object_key
from securestore.files.search import like_escaped


@dataclass(frozen=True)
class FolderPage:
    """One page of a folder's subfolders, by name, and the cursor of the next page."""

    items: list[Folder]
    next_cursor: str | None


@raises(NotFoundError)
def get_folder(user: User, folder_id: int) -> Folder:
    """Return the user's live folder; another user's id is indistinguishable from a missing one."""
    folder = db.session.get(Folder, folder_id) if 0 < folder_id <= MAX_ID else None
    if folder is None or folder.owner_id != user.id or folder.deleted_at is not None:
        raise NotFoundError()
    return folder


@raises(NotFoundError)
def folder_or_root(user: User, folder_id: int | None) -> Folder | None:
    """The user's folder with that id, or None (the root) when no id is given."""
    return None if folder_id is None else get_folder(user, folder_id)


def path_of(folder: Folder | None) -> str | None:
    """The folder's path below the root (None for the root itself)."""
    return None if folder is None else folder.path


@raises(NameTakenError, ValidationError)
def require_free(user: User, parent: Folder | None, name: str) -> None:
    """Refuse a name that a file or folder in `parent` already holds (`NameTakenError`)."""
    if name_taken(user, parent, name):
        raise NameTakenError(f"{name!r} is already taken in this folder by a file or folder.")


def name_taken(user: User, parent: Folder | None, name: str) -> bool:
    """Whether a file or folder (live or in Recently deleted) holds `name` in `parent`.

    One query: an upload asks this for every name it tries.
    """
    key = object_key(user.username, name, path_of(parent))
    path = join_path(path_of(parent), name)
    holders = union_all(
        select(StoredFile.id).where(StoredFile.key == key),
        select(Folder.id).where(Folder.owner_id == user.id, Folder.path == path),
    )
    return db.session.execute(holders.limit(1)).first() is not None


@raises(NotFoundError, NameTakenError, ValidationError)
def create_folder(
    user: User, raw_name: str, parent_id: int | None, *, address: str | None
) -> Folder:
    """Create an empty folder named `raw_name` (cleaned like file names) in `parent_id`."""
    parent = folder_or_root(user, parent_id)
    folder = _add_folder(user, parent, clean_filename(raw_name))
    audit.record("folder_create", user=user, address=address, detail=folder.audit_label)
    return folder


@raises(NotFoundError, NameTakenError, ValidationError)
def ensure_path(user: User, base: Folder | None, names: list[str]) -> Folder | None:
    """The folder at `names` below `base`, creating the missing ones (a folder upload's tree).

    A segment held by a file is refused (`NameTakenError`): one name, one thing.
    """
    folder = base
    for name in names:
        path = join_path(path_of(folder), name)
        existing = _folder_at(user, path)
        if existing is None:
            try:
                existing = _add_folder(user, folder, name)
            except NameTakenError:
                # A parallel upload of the same tree may have just created it: use that one.
                existing = _folder_at(user, path)
                if existing is None:
                    raise
        if existing.deleted_at is not None:
            raise NameTakenError(f"{path!r} is a deleted folder: restore it or pick another name.")
        folder = existing
    return folder


def _folder_at(user: User, path: str) -> Folder | None:
    return db.session.scalar(select(Folder).where(Folder.owner_id == user.id, Folder.path == path))


def _add_folder(user: User, parent: Folder | None, name: str) -> Folder:
    """Insert a folder; the unique path settles a race between two creators of one name."""
    require_free(user, parent, name)
    object_key(user.username, name, path_of(parent))  # checks the path length
    folder = Folder(
        owner_id=user.id,
        parent_id=None if parent is None else parent.id,
        name=name,
        path=join_path(path_of(parent), name),
    )
    db.session.add(folder)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise NameTakenError(f"{name!r} is already taken in this folder.") from None
    return folder


@raises(ValidationError)
def list_page(
    user: User, parent: Folder | None, *, cursor: str | None = None, limit: int = 200
) -> FolderPage:
    """One page of the live subfolders of `parent` (None: the root), by name, any case."""
    key = func.lower(Folder.name)
    query = select(Folder, key).where(_children_of(user, parent))
    if cursor:
        query = query.where(tuple_(key, Folder.id) > listing.decode_cursor(cursor, "name"))
    rows = db.session.execute(query.order_by(key, Folder.id).limit(limit + 1)).all()
    items = [folder for folder, _ in rows[:limit]]
    if len(rows) <= limit:
        return FolderPage(items, None)
    last, last_key = rows[limit - 1]
    return FolderPage(items, listing.encode_cursor("name", last_key, last.id))


def all_folders(user: User) -> list[Folder]:
    """Every live folder of the user, by path: the choices of the folder picker."""
    query = select(Folder).where(Folder.owner_id == user.id, Folder.deleted_at.is_(None))
    return list(db.session.scalars(query.order_by(Folder.path)))


def ancestors(folder: Folder | None) -> list[Folder]:
    """The folders from the root down to `folder` itself: the breadcrumb."""
    chain: list[Folder] = []
    while folder is not None:
        chain.append(folder)
        folder = db.session.get(Folder, folder.parent_id) if folder.parent_id else None
    return chain[::-1]


def in_subtree(folder: Folder) -> ColumnElement[bool]:
    """The condition on `Folder` rows of `folder` and everything below it."""
    below = like_escaped(folder.path) + "/%"
    return (Folder.owner_id == folder.owner_id) & or_(
        Folder.id == folder.id, Folder.path.like(below, escape="\\")
    )


def _children_of(user: User, parent: Folder | None) -> ColumnElement[bool]:
    level = Folder.parent_id.is_(None) if parent is None else Folder.parent_id == parent.id
    return (Folder.owner_id == user.id) & Folder.deleted_at.is_(None) & level
