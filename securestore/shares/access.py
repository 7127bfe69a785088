"""The visitor's side of share links: open one, unlock it with its password, download.

A link is dead (404, saying nothing of what it was) when it is unknown, expired, revoked,
used up, when its file or folder is deleted, or when its owner is disabled or deleted. A
folder link gives each live file below the folder, one at a time or all in one ZIP; each of
those downloads counts once. The download
limit is enforced by one conditional UPDATE (`_count`), never by read-then-write, so of any
number of concurrent downloads at most `max_downloads` are ever counted and served.

What a browser was granted lives in its signed session cookie: a password grant per link for
`GRANT_SECONDS`, and the links whose download it started, so a `Range` request resuming one
is not counted again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from flask import current_app, session
from sqlalchemy import or_, select, update

from securestore.audit import service as audit
from securestore.auth import attempts
from securestore.auth.passwords import check_password
from securestore.db_types import utcnow
from securestore.errors import (
    AuthenticationError,
    ForbiddenError,
    NotFoundError,
    StorageError,
    ThrottledError,
    raises,
)
from securestore.extensions import db
from securestore.files import folders
from securestore.files import service as files
from securestore.files.export import Export, zip_of
from securestore.files.models import Folder, StoredFile
from securestore.shares.models import ShareLink
from securestore.shares.service import describe, token_hash
from securestore.storage.types import ObjectStream
from securestore.throttle.service import Limit

DEAD = "This link does not exist, or it has expired or been turned off."
GRANT_SECONDS = 30 * 60
GRANTS = "share_grants"
STARTED = "share_downloads"
# `secrets.token_urlsafe(32)`: 43 characters of the URL-safe base64 alphabet.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@raises(NotFoundError)
def open_link(token: str, *, used_up_ok: bool = False) -> ShareLink:
    """The live link `token` names, or `NotFoundError`; with `used_up_ok`, one whose downloads
    are used up too (a download resuming may still finish; `start_download` decides)."""
    if not current_app.config["SHARES_ENABLED"] or TOKEN.fullmatch(token) is None:
        raise NotFoundError(DEAD)
    link = db.session.scalar(select(ShareLink).where(ShareLink.token_hash == token_hash(token)))
    if link is None or not _alive(link, used_up_ok):
        raise NotFoundError(DEAD)
    return link


@raises(NotFoundError)
def visit(token: str, *, address: str | None) -> ShareLink:
    """Open the link's page: the live link, the visit audited for its owner."""
    link = open_link(token)
    audit.record("share_open", user=link.owner, address=address, detail=describe(link))
    return link


@raises(AuthenticationError, ThrottledError)
def unlock(link: ShareLink, password: str, *, address: str | None) -> None:
    """Grant this browser the link for `GRANT_SECONDS` if `password` is right.

    Every attempt is counted before the password is checked, per link and per client
    address (twice the limit: one visitor may try a few links), in counters of their own,
    so guessing a link's password can neither lock its owner out of logging in nor be
    outrun by parallel requests.
    """
    config = current_app.config
    limit, window = config["SHARE_PASSWORD_LIMIT"], config["LOGIN_WINDOW_SECONDS"]
    limits = [
        Limit("share", str(link.id), limit, window),
        Limit("share-address", address or "unknown", 2 * limit, window),
    ]
    attempt = attempts.begin(limits, "share_unlock", lambda: link.owner, address, reset_first=False)
    if not check_password(link.password_hash, password):
        detail = describe(link)
        audit.record(
            "share_unlock", user=link.owner, address=address, outcome="failed", detail=detail
        )
        raise AuthenticationError("That is not this link's password.")
    attempt.succeeded()
    grants = {k: v for k, v in session.get(GRANTS, {}).items() if v > time.time()}
    grants[str(link.id)] = int(time.time()) + GRANT_SECONDS
    session[GRANTS] = grants
    audit.record("share_unlock", user=link.owner, address=address, detail=describe(link))


def _require_unlocked(link: ShareLink) -> None:
    if not unlocked(link):
        raise ForbiddenError("Enter this link's password first.")


def unlocked(link: ShareLink) -> bool:
    """Whether this browser may download through the link (no password, or a live grant)."""
    if link.password_hash is None:
        return True
    expiry = session.get(GRANTS, {}).get(str(link.id))
    return isinstance(expiry, int) and expiry > time.time()


def shared_files(link: ShareLink) -> list[tuple[StoredFile, str]]:
    """What a link gives: its file, or every live file below its folder, each with its path
    as the visitor sees it (below the shared folder, which names nothing above it)."""
    if link.file is not None:
        return [(link.file, link.file.name)]
    assert link.folder is not None  # noqa: S101 -- one of the two, by the check constraint
    below = select(Folder.id).where(folders.in_subtree(link.folder))
    query = select(StoredFile).where(StoredFile.folder_id.in_(below), StoredFile.live())
    cut = len(link.folder.path) + 1
    return [
        (record, record.path[cut:]) for record in db.session.scalars(query.order_by(StoredFile.key))
    ]


@raises(NotFoundError)
def shared_file(link: ShareLink, file_id: int | None) -> StoredFile:
    """The file of a file link (`file_id` None), or one file below a folder link's folder."""
    if file_id is None:
        if link.file is None:
            raise NotFoundError(DEAD)
        return link.file
    for record, _ in shared_files(link) if link.folder is not None else []:
        if record.id == file_id:
            return record
    raise NotFoundError(DEAD)


@raises(ForbiddenError, NotFoundError, StorageError)
def start_download(
    link: ShareLink, record: StoredFile, span: tuple[int, int] | None, *, address: str | None
) -> ObjectStream:
    """Open a shared file's bytes for a visitor and count the download once they start
    (`admit_download`); a file S3 cannot open uses up nothing."""
    _require_unlocked(link)
    stream = files.read_object(record, span)
    try:
        admit_download(link, record, span, address=address)
    except NotFoundError:
        _close(stream.chunks)
        raise
    return stream


@raises(ForbiddenError, NotFoundError)
def admit_download(
    link: ShareLink, record: StoredFile, span: tuple[int, int] | None, *, address: str | None
) -> None:
    """Count a visitor's download of a shared file, whoever then sends its bytes (the app, or
    nginx with `DOWNLOAD_MODE=accel`).

    A `Range` from past the first byte, in a browser that started this file's download
    through this link before, resumes that download and is not counted again; anything else
    is counted, and refused (404) once the limit is reached.
    """
    _require_unlocked(link)
    started = session.get(STARTED, [])
    mark = f"{link.id}:{record.id}"
    resuming = span is not None and span[0] > 0 and mark in started
    if not resuming:
        if not _count(link):
            raise NotFoundError(DEAD)
        session[STARTED] = [*started, mark][-50:]
    detail = f"{describe(link)}: {record.audit_label}" + (" (resumed)" if resuming else "")
    audit.record("share_download", user=link.owner, address=address, detail=detail)


@raises(ForbiddenError, NotFoundError)
def start_zip(link: ShareLink, *, address: str | None) -> Export:
    """Count one download of a folder link and build its ZIP (each file opened only when the
    archive reaches it)."""
    if link.folder is None:
        raise NotFoundError(DEAD)
    _require_unlocked(link)
    if not _count(link):
        raise NotFoundError(DEAD)
    audit.record(
        "share_download", user=link.owner, address=address, detail=describe(link) + " (ZIP)"
    )
    return zip_of(shared_files(link), f"{link.folder.name}.zip")


def _alive(link: ShareLink, used_up_ok: bool) -> bool:
    state = link.state(utcnow())
    if state != "active" and not (used_up_ok and state == "exhausted"):
        return False
    target = link.file or link.folder
    # A purged file's id may be taken again on SQLite (no foreign keys enforced there):
    # the file or folder must be the owner's, and older than the link.
    return (
        target is not None
        and target.deleted_at is None
        and target.owner_id == link.owner_id
        and target.created_at <= link.created_at
        and link.owner.is_active
    )


def _count(link: ShareLink) -> bool:
    """Add one download if the link still allows it; the database decides, atomically."""
    result = db.session.execute(
        update(ShareLink)
        .where(
            ShareLink.id == link.id,
            ShareLink.revoked_at.is_(None),
            ShareLink.expires_at > utcnow(),
            or_(ShareLink.max_downloads.is_(None), ShareLink.downloads < ShareLink.max_downloads),
        )
        .values(downloads=ShareLink.downloads + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
