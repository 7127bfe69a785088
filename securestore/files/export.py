"""Export: every live file of an account as one streamed ZIP with a manifest.

The archive is built while it is sent (zipstream-ng): entries are stored, not deflated
(the bytes leave exactly as they were uploaded, and most files people keep are compressed
already), ZIP64 records appear once the archive passes 4 GiB, and each file's object is
opened only when the archive reaches it. Files are stored under their paths (`docs/2026/a.pdf`),
so the archive unpacks into the user's tree; a shared folder's ZIP (`zip_of`) is built the
same way, with paths below that folder. Memory stays at one read buffer per download and
nothing touches the disk, whatever the total. Every size is known up front, so the response
has a Content-Length and the browser shows real progress.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from zipstream import ZIP_STORED, ZipStream

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.extensions import db
from securestore.files import service
from securestore.files.models import StoredFile
from securestore.formatting import human_size

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Export:
    """A ZIP being streamed: its file name, exact length and bytes."""

    filename: str
    size: int
    chunks: Iterator[bytes]


def export_files(user: User, *, address: str | None) -> Export:
    """Build the user's export: each live file under its path, then `manifest.json`."""
    query = (
        select(StoredFile)
        .where(StoredFile.owner_id == user.id, StoredFile.live())
        .order_by(StoredFile.key, StoredFile.id)
    )
    records = list(db.session.scalars(query))
    total = sum(record.size for record in records)
    detail = f"{len(records)} file(s), {human_size(total)}"
    audit.record("export", user=user, address=address, detail=detail)
    stamp = utcnow().strftime("%Y-%m-%d")
    return zip_of(
        [(record, record.path) for record in records], f"securestore-{user.username}-{stamp}.zip"
    )


def zip_of(entries: list[tuple[StoredFile, str]], filename: str) -> Export:
    """A streamed ZIP of `entries` (each file under the name given with it) and a manifest.

    The manifest lists each file's name, size and SHA-256 as recorded at upload, so whoever
    unpacks the archive can check every file against it.
    """
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    manifest = []
    for record, name in entries:
        archive.add(_bytes_of(record), name, size=record.size)
        manifest.append({"name": name, "size": record.size, "sha256": record.sha256})
    archive.add(json.dumps({"files": manifest}, indent=2, ensure_ascii=False) + "\n", MANIFEST)
    return Export(filename, len(archive), iter(archive))


def _bytes_of(record: StoredFile) -> Iterator[bytes]:
    """The file's bytes, from the moment the archive gets to it (not before)."""
    yield from service.read_object(record).chunks
