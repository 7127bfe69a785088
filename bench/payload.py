"""Upload bodies for the benchmarks, made while they are sent instead of read from disk.

`make bench` uploads random bytes repeated (`GeneratedFile`); `make loadtest` gives the form
its own content (bench/load/content.py), which every load user can check on the way back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

MIB = 1024 * 1024
# Random bytes (incompressible), repeated: generating them is not what is measured.
_BLOCK = os.urandom(MIB)


class GeneratedFile:
    """`size` bytes produced while read, so even 8 x 256 MiB never sit in the client's memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._left = size

    def read(self, limit: int = -1) -> bytes:
        """Return exactly `limit` bytes until the end (boto3 takes a short read as a part)."""
        count = self._left if limit is None or limit < 0 else min(limit, self._left)
        self._left -= count
        if count <= len(_BLOCK):
            return _BLOCK[:count]
        whole, rest = divmod(count, len(_BLOCK))
        return _BLOCK * whole + _BLOCK[:rest]

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(MIB):
            yield chunk


class MultipartForm:
    """The body a browser sends for the upload form: token first, then the file.

    It has a length and is iterable: requests then streams it with a Content-Length, as a
    browser sends a form (a bare generator would go chunked).
    """

    BOUNDARY = "----SecureStoreBench0123456789"

    def __init__(
        self, token: str, name: str, size: int, content: Iterable[bytes] | None = None
    ) -> None:
        self.head = (
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{token}\r\n--{self.BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.BOUNDARY}--\r\n".encode()
        self.size = size
        self.content = GeneratedFile(size) if content is None else content

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.BOUNDARY}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        yield from self.content
        yield self.tail


def write_generated(path: Path, size: int) -> Path:
    """Write `size` bytes of `GeneratedFile` to `path`, for a client that needs a real file
    (a browser's file input); a MiB at a time, so 1 GiB takes a second or two."""
    with path.open("wb") as out:
        for chunk in GeneratedFile(size):
            out.write(chunk)
    return path
