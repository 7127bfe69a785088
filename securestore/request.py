"""The request class: closes every temporary file an upload opened, even one cut short.

Werkzeug's form parser spools each uploaded file to a temporary file and closes only those
that made it into `request.files`. When a browser cancels an upload halfway (the upload
panel's cancel button), the parser stops with the part it was writing still open; this class
remembers every file it handed out and closes them all when the request ends.
"""

from __future__ import annotations

from typing import IO

from flask import Request


class SecureStoreRequest(Request):
    """A Flask request that leaves no upload temporary file open after it ends."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        stream = super()._get_file_stream(
            total_content_length, content_type, filename, content_length
        )
        self.__dict__.setdefault("_upload_streams", []).append(stream)
        return stream

    def close(self) -> None:
        """Close the parsed files, then any file the parser opened but never finished."""
        try:
            super().close()
        finally:
            for stream in self.__dict__.pop("_upload_streams", []):
                stream.close()
