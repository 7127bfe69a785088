"""The HTTP answers that send stored bytes (a file, the export), shared by browser and API."""

from __future__ import annotations

from flask import Response, current_app, redirect, request, stream_with_context
from werkzeug.datastructures import ContentRange
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Response as BaseResponse

from securestore.auth.models import User
from securestore.files import history, service
from securestore.files.export import Export, export_files
from securestore.files.models import FileVersion, StoredFile
from securestore.formatting import content_disposition, media_type
from securestore.storage.types import ObjectStream

# DOWNLOAD_MODE=accel: the internal location of the shipped nginx site that fetches the URL
# in the object-URL header; nginx sets the fallback header when it asks the app again because
# S3 did not answer that URL (and strips it from every client's request).
ACCEL_LOCATION = "/_securestore/s3"
OBJECT_URL_HEADER = "X-SecureStore-Object-Url"
FALLBACK_HEADER = "X-SecureStore-Accel-Fallback"


def download_response(record: StoredFile, address: str | None) -> BaseResponse:
    """Send the exact bytes uploaded, as an attachment under the original name.

    Honours a single `Range` (resumed downloads, seeking in media) with a ranged S3 GET; with
    `DOWNLOAD_MODE=redirect` the client is sent to a short-lived presigned S3 URL instead, and
    with `accel` nginx fetches that URL itself (`accel_response`).
    """
    if current_app.config["DOWNLOAD_MODE"] == "redirect":
        return redirect(service.download_url(record, address=address), code=302)
    span = requested_span(record)
    if nginx_fetches():
        return accel_response(service.download_url(record, address=address))
    return file_response(record, span, service.open_download(record, span, address=address))


def nginx_fetches() -> bool:
    """Whether this download is handed to nginx (`accel_response`): `DOWNLOAD_MODE=accel`,
    a `GET`, and not nginx asking again because S3 did not serve it."""
    return (
        current_app.config["DOWNLOAD_MODE"] == "accel"
        and request.method == "GET"
        and FALLBACK_HEADER not in request.headers
    )


def accel_response(url: str) -> Response:
    """Hand an authorized download to nginx: it GETs the presigned `url` from S3 and sends
    S3's answer (which carries the attachment name and media type the URL asks for).

    The client never sees the URL, and the bytes never cross the app. nginx passes the
    client's `Range` and conditional headers on to S3, which answers them itself; the app
    has already refused a range past the end (416). A `HEAD` is answered by the app: the URL
    is signed for `GET` only.
    """
    response = Response(status=200)
    response.headers["X-Accel-Redirect"] = ACCEL_LOCATION
    response.headers[OBJECT_URL_HEADER] = url
    # S3's answer carries the file's media type (the URL asks for it): the app adds none.
    del response.headers["Content-Type"]
    return response


def version_response(record: StoredFile, version: FileVersion, address: str | None) -> Response:
    """Send one earlier content of the file, as `download_response` sends the current one."""
    content = StoredFile(
        id=record.id, name=record.name, size=version.size, content_type=version.content_type,
        sha256=version.sha256, checksum=version.checksum, created_at=version.created_at,
    )  # fmt: skip
    span = requested_span(content)
    return file_response(
        content, span, history.open_version_download(record, version, span, address=address)
    )


def file_response(
    record: StoredFile, span: tuple[int, int] | None, stream: ObjectStream
) -> Response:
    """The answer carrying `stream`, the file's bytes (or the `span` of them), as an attachment.

    Shared by the owner's downloads and share links, so both send the same safe headers.
    """
    response = Response(
        stream.chunks,
        status=206 if span else 200,
        # Rows from before media types were checked may hold anything: clean it again.
        mimetype=media_type(record.content_type),
        direct_passthrough=True,
    )
    response.content_length = stream.size
    if span:
        response.content_range = ContentRange("bytes", span[0], span[1], record.size)
    response.accept_ranges = "bytes"
    # The content hash is a strong validator: a resumed download can prove it is the same file.
    response.set_etag(record.content_tag)
    response.last_modified = record.created_at
    response.headers["Content-Disposition"] = content_disposition(record.name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Even if a browser rendered it, the file would run with no privileges of this origin.
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


def export_response(user: User, address: str | None) -> BaseResponse:
    """Stream the user's export ZIP as an attachment, with its exact length."""
    return zip_response(export_files(user, address=address))


def zip_response(export: Export) -> Response:
    """Stream a ZIP (`files.export`) as an attachment, with its exact length.

    The request context stays open while it streams: each file is opened (and, when the
    primary is out, counted as read from its backup) only when the archive reaches it.
    """
    response = Response(
        stream_with_context(export.chunks), mimetype="application/zip", direct_passthrough=True
    )
    response.content_length = export.size
    response.headers["Content-Disposition"] = content_disposition(export.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def requested_span(record: StoredFile) -> tuple[int, int] | None:
    """Return the `[start, stop)` of a single satisfiable byte range, or None for everything.

    A malformed or multi-range header, or an `If-Range` naming another version, gets the whole
    file (RFC 9110 allows ignoring them); a range past the end is 416.
    """
    requested = request.range
    if requested is None or requested.units != "bytes" or len(requested.ranges) != 1:
        return None
    if_range = request.if_range
    if if_range.etag is not None and if_range.etag != record.content_tag:
        return None
    if if_range.date is not None and if_range.date < record.created_at.replace(microsecond=0):
        return None
    span = requested.range_for_length(record.size)
    if span is None:
        raise RequestedRangeNotSatisfiable(length=record.size)
    return span
