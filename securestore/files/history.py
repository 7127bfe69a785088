"""A file's versions as users see them: download one, or make one current again; audited.

The steps themselves (keep, restore, prune) are `files.versions`'s; this module is what the
views call, as `files.service` is for the current content.
"""

from __future__ import annotations

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.errors import DatabaseError, NotFoundError, StorageError, raises
from securestore.files import versions
from securestore.files.models import FileVersion, StoredFile
from securestore.files.service import get_file
from securestore.storage.types import ObjectStream


@raises(StorageError)
def open_version_download(
    record: StoredFile, version: FileVersion, span: tuple[int, int] | None, *, address: str | None
) -> ObjectStream:
    """Stream one earlier content of the file for a download; audited."""
    stream = versions.open_version(version, span)
    detail = f"{record.audit_label} (version {version.id})"
    audit.record("download", user=record.owner, address=address, detail=detail)
    return stream


@raises(NotFoundError, StorageError, DatabaseError)
def restore_version(
    user: User, file_id: int, version_id: int, *, address: str | None
) -> StoredFile:
    """Make an earlier content current again; the one it replaces becomes a version.

    Usage does not change (both contents were counted before and still are), so no room
    is reserved.
    """
    record = get_file(user, file_id)
    version = versions.get_version(record, version_id)
    versions.make_current(record, version)
    versions.prune(record)
    detail = f"{record.audit_label} (version {version_id})"
    audit.record("version_restore", user=user, address=address, detail=detail)
    return record
