"""Read a multipart/form-data body as a stream: each file part is a readable stream of its own.

Werkzeug's `request.files` spools every file to a temporary file before the view runs, so an
upload costs its full size on disk and is read twice. Here werkzeug's sans-IO
`MultipartDecoder` is fed the request body a chunk at a time and file bytes are handed to the
reader as they arrive: memory holds one chunk per part being read, and nothing touches the
disk. `streaming-form-data` parses faster, but both run at over ten times the object store's
speed and it drops the file that follows an empty one (docs/performance.md, "Parser choice").

Parts are yielded in body order and must be read in that order: asking for the next part
discards what is left of the current file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

from flask import Request, current_app
from flask_wtf.csrf import CSRFError, same_origin, validate_csrf
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    NEED_DATA,
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
)
from wtforms import ValidationError as WTFormsValidationError

from securestore.errors import TooManyFilesError

# How much of the body is read per step: large enough to keep Python overhead per byte low,
# small enough that a part being read costs little memory.
READ_BYTES = 256 * 1024
CSRF_FIELD = "csrf_token"
FILE_FIELD = "file"


@dataclass(frozen=True)
class FormField:
    """A plain form field, its value decoded as UTF-8."""

    name: str
    value: str


@dataclass(frozen=True)
class FilePart:
    """A file part; `stream` yields its bytes as they arrive and ends with the part.

    `declared_size` is what the body's Content-Length leaves for it after everything read so
    far and the closing boundary: its exact size when it is the last part (a browser's
    upload of one file, `curl -F`), an upper bound otherwise; None without a Content-Length.
    """

    name: str
    filename: str
    content_type: str | None
    stream: IO[bytes]
    declared_size: int | None = None


class _BodyParser:
    """Pull events from the decoder, feeding it the body only when it needs more."""

    def __init__(
        self,
        body: IO[bytes],
        boundary: bytes,
        max_field_bytes: int,
        max_parts: int,
        length: int | None = None,
    ) -> None:
        self._body = body
        self._max_parts = max_parts
        self._length = length
        self._fed = 0
        # What follows the last part's bytes: CRLF, the closing delimiter, CRLF.
        self._closing = len(b"\r\n--" + boundary + b"--\r\n")
        # The decoder asks for data only once its buffer holds no more than part headers or a
        # partial boundary (file data is taken out as soon as it is decoded), so this bounds
        # headers; field values are bounded in `_field_value`.
        self._decoder = MultipartDecoder(
            boundary, max_form_memory_size=max_field_bytes + READ_BYTES
        )
        self._max_field_bytes = max_field_bytes

    def next_event(self) -> Event:
        """Return the next event; a body the decoder cannot parse is a `BadRequest`."""
        try:
            while True:
                event = self._decoder.next_event()
                if event is not NEED_DATA:
                    return event
                chunk = self._body.read(READ_BYTES)
                self._fed += len(chunk or b"")
                self._decoder.receive_data(chunk or None)
        except ValueError as error:
            raise BadRequest("The multipart body could not be read.") from error

    def parts(self) -> Iterator[FormField | FilePart]:
        count = 0
        while True:
            event = self.next_event()
            if isinstance(event, Epilogue):
                return
            count += 1
            if count > self._max_parts:
                raise TooManyFilesError(f"A form may hold at most {self._max_parts} parts.")
            if isinstance(event, File):
                reader = _PartReader(self)
                yield FilePart(
                    name=event.name,
                    filename=event.filename,
                    content_type=event.headers.get("Content-Type"),
                    stream=cast(IO[bytes], reader),
                    declared_size=self._left_for_part(),
                )
                reader.drain()
            elif isinstance(event, Field):
                yield FormField(event.name, self._field_value())

    def _left_for_part(self) -> int | None:
        if self._length is None:
            return None
        # The decoder has consumed all it was fed but its buffer; at a File event that buffer
        # still starts with the CRLF that ends the part's headers, then the file's bytes.
        data_start = self._fed - len(self._decoder.buffer) + len(b"\r\n")
        return max(0, self._length - data_start - self._closing)

    def _field_value(self) -> str:
        value = bytearray()
        while True:
            event = self.next_event()
            assert isinstance(event, Data)  # noqa: S101 -- decoder invariant; narrows the type
            value += event.data
            if len(value) > self._max_field_bytes:
                raise RequestEntityTooLarge()
            if not event.more_data:
                return value.decode("utf-8", "replace")


class _PartReader(io.RawIOBase):
    """The bytes of one file part, read from the decoder on demand (not seekable)."""

    def __init__(self, parser: _BodyParser) -> None:
        self._parser = parser
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Return up to `size` decoded bytes, handing over whole decoder chunks uncopied."""
        if size is None or size < 0:
            return self.readall()
        self._fill()
        if size >= len(self._pending):
            chunk, self._pending = self._pending, b""
        else:
            chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def drain(self) -> None:
        """Skip what the reader did not read, so the decoder reaches the next part."""
        self._pending = b""
        while not self._ended:
            self._fill()
            self._pending = b""

    def _fill(self) -> None:
        while not self._pending and not self._ended:
            event = self._parser.next_event()
            assert isinstance(event, Data)  # noqa: S101 -- decoder invariant; narrows the type
            self._pending = event.data
            self._ended = not event.more_data


def iter_parts(
    body: IO[bytes],
    boundary: str,
    *,
    max_field_bytes: int,
    max_parts: int,
    length: int | None = None,
) -> Iterator[FormField | FilePart]:
    """Yield the fields and file parts of a multipart body in order, reading it as it comes.

    Raises `BadRequest` for a malformed body, `RequestEntityTooLarge` for a plain field
    larger than `max_field_bytes`, `TooManyFilesError` past `max_parts` parts.
    """
    parser = _BodyParser(body, boundary.encode("latin-1"), max_field_bytes, max_parts, length)
    yield from parser.parts()


def request_parts(request: Request) -> Iterator[FormField | FilePart]:
    """Yield the parts of the request's form without spooling files to disk.

    A non-multipart form (no file at all) is small and parsed by werkzeug as usual. The body
    stream is werkzeug's, so the request's `max_content_length` (`MAX_UPLOAD_BYTES` on the
    upload routes) still cuts off an oversize body with 413; `MAX_FORM_PARTS` bounds the parts.
    """
    boundary = request.mimetype_params.get("boundary")
    if request.mimetype != "multipart/form-data" or not boundary:
        for name, value in request.form.items(multi=True):
            yield FormField(name, value)
        return
    yield from iter_parts(
        request.stream,
        boundary,
        max_field_bytes=request.max_form_memory_size or READ_BYTES,
        max_parts=request.max_form_parts or current_app.config["MAX_FILES_PER_REQUEST"],
        length=request.content_length,
    )


def protected_files(request: Request, field: str = FILE_FIELD) -> Iterator[FilePart]:
    """Yield the chosen files of `field`, after checking the form's CSRF token.

    The upload view is exempt from `CSRFProtect`, which would read `request.form` and so spool
    the whole body; the token is checked here instead, from the header or from the form field
    that a browser sends before the files. A file that arrives before a valid token raises
    `CSRFError` (400) without a byte of it being read. Past `MAX_FILES_PER_REQUEST` files,
    `TooManyFilesError` (413) stops the request; the files before it were yielded.
    """
    limit = current_app.config["MAX_FILES_PER_REQUEST"]
    files = 0
    checked = not current_app.config.get("WTF_CSRF_ENABLED", True)
    if not checked:
        header_token = _header_token(request)
        if header_token is not None:
            _check_csrf(request, header_token)
            checked = True
    for part in request_parts(request):
        if isinstance(part, FormField):
            if part.name == CSRF_FIELD and not checked:
                _check_csrf(request, part.value)
                checked = True
            continue
        if not checked:
            raise CSRFError("The CSRF token is missing.")
        # A file input left empty still sends a part, with no file name.
        if part.name == field and part.filename:
            files += 1
            if files > limit:
                raise TooManyFilesError(f"One upload may hold at most {limit} files.")
            yield part


def _header_token(request: Request) -> str | None:
    for header in current_app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"]):
        token = request.headers.get(header)
        if token:
            return token
    return None


def _check_csrf(request: Request, token: str) -> None:
    """Apply what `CSRFProtect.protect` applies: a valid token and, over HTTPS, a same-origin
    referrer."""
    try:
        validate_csrf(token)
    except WTFormsValidationError as error:
        raise CSRFError(error.args[0]) from error
    if request.is_secure and current_app.config.get("WTF_CSRF_SSL_STRICT", True):
        if not request.referrer:
            raise CSRFError("The referrer header is missing.")
        if not same_origin(request.referrer, f"https://{request.host}/"):
            raise CSRFError("The referrer does not match the host.")
