"""The request class: closes every temporary file werkzeug's form parser opened.

The upload routes stream their bodies (`files.streaming`) and never reach that parser; any
other route that receives a multipart form does, through `request.form` (CSRFProtect reads
it on every POST). The parser spools each file part to a temporary file and closes only
those that made it into `request.files`: a body cut short leaves the part it was writing
open. This class remembers every file it handed out and closes them all when the request ends.
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
