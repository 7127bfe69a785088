"""One page of a user's files: order, name filter, keyset cursor, and the bounded total.

Keyset pagination: the cursor holds the last row's sort key and id, so every page costs the
same however many files come before it. A name filter is an `ILIKE '%text%'`, helped by the
trigram indexes of `files.search`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_

from securestore.auth.models import User
from securestore.db_types import MAX_ID
from securestore.errors import ValidationError, raises
from securestore.extensions import db
from securestore.files import search
from securestore.files.models import Folder, StoredFile


@dataclass(frozen=True)
class FilePage:
    """One page of a user's files and the opaque cursor of the next page (`None`: last page)."""

    items: list[StoredFile]
    next_cursor: str | None


# order name -> (sort key, descending). The id breaks ties, so every row has one place.
ORDERS: dict[str, tuple[Any, bool]] = {
    "newest": (StoredFile.created_at, True),
    "oldest": (StoredFile.created_at, False),
    "name": (func.lower(StoredFile.name), False),
    "name_desc": (func.lower(StoredFile.name), True),
    "largest": (StoredFile.size, True),
    "smallest": (StoredFile.size, False),
}
MAX_PAGE_SIZE = 200


@raises(ValidationError)
def list_page(
    user: User,
    *,
    cursor: str | None = None,
    limit: int = 50,
    name_filter: str | None = None,
    order: str = "newest",
    folder: Folder | None = None,
    recursive: bool = False,
) -> FilePage:
    """Return one page of the files directly in `folder` (None: the root), or with `recursive`
    of every folder, in `order`, optionally only names containing a text.

    Keyset pagination: the cursor holds the last row's sort key and id, so every page costs
    the same however many files come before it.
    """
    if order not in ORDERS:
        raise ValidationError(f"Unknown order {order!r}; use one of: {', '.join(ORDERS)}.")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError(f"A page holds 1 to {MAX_PAGE_SIZE} files.")
    key, descending = ORDERS[order]
    # The sort key is selected too: the cursor then holds the database's own value of it
    # (SQLite's lower() folds only ASCII, Python's folds all of Unicode).
    query = select(StoredFile, key).where(_selected(user, name_filter, folder, recursive))
    if cursor:
        position = tuple_(key, StoredFile.id)
        after = decode_cursor(cursor, order)
        query = query.where(position < after if descending else position > after)
    directions = (key.desc(), StoredFile.id.desc()) if descending else (key, StoredFile.id)
    rows = db.session.execute(query.order_by(*directions).limit(limit + 1)).all()
    items = [record for record, _ in rows[:limit]]
    if len(rows) <= limit:
        return FilePage(items, None)
    last_record, last_key = rows[limit - 1]
    return FilePage(items, encode_cursor(order, last_key, last_record.id))


@raises(ValidationError)
def count_files(
    user: User,
    name_filter: str | None = None,
    *,
    up_to: int,
    folder: Folder | None = None,
    recursive: bool = False,
) -> int:
    """Count the files `list_page` would list (those whose name contains `name_filter`).

    Counting stops after `up_to` + 1 files, so its cost is bounded however many files the
    user has: a result above `up_to` means "more than `up_to`". A rare name filter would still
    read every name, so the trigram index picks the candidates (see `files.search`).
    """
    query = select(StoredFile.id).where(_selected(user, name_filter, folder, recursive))
    matching = search.prefiltered(query, name_filter).limit(up_to + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(matching)) or 0


def _selected(
    user: User, name_filter: str | None, folder: Folder | None, recursive: bool
) -> ColumnElement[bool]:
    condition = (StoredFile.owner_id == user.id) & StoredFile.live()
    if not recursive:
        condition = condition & (
            StoredFile.folder_id.is_(None) if folder is None else StoredFile.folder_id == folder.id
        )
    if name_filter:
        if "\x00" in name_filter:
            # No stored name holds one (names are cleaned of control characters), and
            # PostgreSQL refuses it in a query: say so instead of failing.
            raise ValidationError("A name filter cannot contain a NUL character.")
        pattern = "%" + search.like_escaped(name_filter) + "%"
        condition = condition & StoredFile.name.ilike(pattern, escape="\\")
    return condition


def encode_cursor(order: str, key: Any, last_id: int) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([order, value, last_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple[Any, int]:
    stale = ValidationError("This page link is out of date; go back to the first page.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_order, value, last_id = json.loads(raw)
        if cursor_order in ("newest", "oldest"):
            value = datetime.fromisoformat(value)
    except (binascii.Error, ValueError, TypeError) as error:
        raise stale from error
    if cursor_order != order or not (_fits(value, order) and _fits(last_id, "id")):
        raise stale
    return value, last_id


def _fits(value: Any, order: str) -> bool:
    """Tell whether a decoded cursor part is safe to compare with its column in SQL.

    A hand-made cursor could otherwise send a naive time, a string for a size, or an int
    too large for the database, and turn a bad link into a server error.
    """
    if order in ("newest", "oldest"):
        return isinstance(value, datetime) and value.tzinfo is not None
    if order in ("name", "name_desc"):
        return isinstance(value, str)
    return type(value) is int and 0 <= value <= MAX_ID
