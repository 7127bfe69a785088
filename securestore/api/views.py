"""The /api/v1 endpoints: each parses the request, calls one service, and returns JSON.

Every decorator below also writes the OpenAPI document, so the contract cannot drift from
the code: the error statuses of each operation are derived from the errors its service is
declared to raise (`errors.raises`). Errors are rendered by `errors.render_error`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response, request, url_for
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint
from werkzeug.exceptions import UnprocessableEntity

from securestore.api import schemas
from securestore.api.auth import AUTH_ERRORS, current_api_user, current_token, token_required
from securestore.errors import (
    ScopeError,
    SecureStoreError,
    ValidationError,
    declared_errors,
    render_error,
)
from securestore.files import folders, listing, service, streaming
from securestore.files.models import StoredFile
from securestore.files.naming import split_path
from securestore.files.responses import download_response, export_response
from securestore.health.checks import detailed_caller, health_report
from securestore.quotas import service as quotas
from securestore.request_limits import accepts_uploads

bp = Blueprint(
    "api", __name__, url_prefix="/api/v1", description="Files, the token's user, and health."
)
FILE_ID = "<id:file_id>"

# Statuses answered by the request machinery rather than by a service.
HTTP_STATUSES = {
    413: "The body is larger than the server accepts (`MAX_UPLOAD_BYTES`).",
    416: "The `Range` starts past the end of the file.",
    422: "A query parameter is malformed.",
}


def errors(
    *sources: Callable[..., Any] | type[SecureStoreError], http: Iterable[int] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document the error answers of an operation, in the shared error shape.

    `sources` are the service functions the view calls (their declared errors count) and
    error classes the view raises itself; `http` names statuses from `HTTP_STATUSES`.
    """
    classes: dict[int, set[type[SecureStoreError]]] = {}
    for source in sources:
        raised = (
            (source,)
            if isinstance(source, type) and issubclass(source, SecureStoreError)
            else declared_errors(source)
        )
        for error in raised:
            classes.setdefault(error.status, set()).add(error)
    descriptions = {status: _describe(found) for status, found in classes.items()}
    for status in http:
        described = descriptions.get(status)
        descriptions[status] = HTTP_STATUSES[status] + (f" {described}" if described else "")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        for status, description in sorted(descriptions.items()):
            view = bp.alt_response(status, schema=schemas.ErrorSchema, description=description)(
                view
            )
        return view

    return decorator


def _describe(classes: set[type[SecureStoreError]]) -> str:
    """One line per error class: its docstring's first line (what it means to a client)."""
    lines = sorted({(cls.__doc__ or cls.message).strip().splitlines()[0] for cls in classes})
    return " ".join(lines)


@bp.after_request
def challenge(response: Response) -> Response:
    """Tell a client that got 401 how to authenticate (RFC 6750)."""
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="SecureStore API"'
    return response


@bp.errorhandler(UnprocessableEntity)
def unprocessable(error: UnprocessableEntity) -> Any:
    """Name each malformed parameter and what is wrong with it."""
    messages = getattr(error, "data", {}).get("messages", {})
    problems = [
        f"{field}: {' '.join(map(str, notes))}"
        for location in messages.values()
        for field, notes in location.items()
    ]
    text = "; ".join(problems) or "A parameter is malformed."
    return render_error(422, "unprocessable_entity", text)


READ = (*AUTH_ERRORS, ScopeError)


@bp.route("/files", methods=["GET"])
@token_required("read")
@bp.arguments(schemas.FileListQuerySchema, location="query")
@bp.response(200, schemas.FilePageSchema)
@errors(listing.list_page, folders.get_folder, *READ, http=[422])
def list_files(query: dict[str, Any]) -> listing.FilePage:
    """List the files of a folder (the root by default) or, with `recursive`, of every
    folder, one page at a time, newest first unless `order` says."""
    user = current_api_user()
    return listing.list_page(
        user,
        cursor=query.get("cursor"),
        limit=query["limit"],
        name_filter=query.get("q"),
        order=query["order"],
        folder=folders.folder_or_root(user, query.get("folder_id")),
        recursive=query["recursive"],
    )


@bp.route("/files", methods=["POST"])
@accepts_uploads
@token_required("write")
@bp.arguments(schemas.UploadQuerySchema, location="query")
@bp.response(201, schemas.FileSchema)
@bp.doc(
    requestBody={
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
)
@errors(
    service.store_single_upload,
    service.store_upload,
    folders.ensure_path,
    ValidationError,
    *READ,
    http=[413, 422],
)
def upload(query: dict[str, Any]) -> tuple[StoredFile, dict[str, str]]:
    """Store one file: multipart field `file`, or the raw body named by `?name=`.

    The bytes stream to storage as the browser upload does; a taken name gets ` (N)` unless
    `on_conflict=replace`. `folder_id` or `path` say where it goes (the root by default).
    """
    user = current_api_user()
    folder = folders.folder_or_root(user, query.get("folder_id"))
    name = query.get("name")
    if query.get("path"):
        *parents, name = split_path(query["path"])
        folder = folders.ensure_path(user, folder, parents)
    target = service.Target(folder=folder, replace=query["on_conflict"] == "replace")
    if request.mimetype == "multipart/form-data":
        files = _file_parts(name, forced=bool(query.get("path")))
        record = service.store_single_upload(user, files, target, address=request.remote_addr)
    else:
        incoming = service.Incoming(
            _required_name(name), request.stream, request.mimetype, request.content_length
        )
        record = service.store_upload(user, incoming, target, address=request.remote_addr)
    return record, {"Location": url_for("api.get_file", file_id=record.id)}


def _file_parts(name: str | None, *, forced: bool) -> Iterator[service.Incoming]:
    """The `file` parts of a multipart body as they arrive (nothing spooled to disk), named
    by their filename (`name` when they have none, or always when `forced`)."""
    for part in streaming.request_parts(request):
        if isinstance(part, streaming.FilePart) and part.name == streaming.FILE_FIELD:
            chosen = _required_name(name if forced else part.filename or name)
            yield service.Incoming(chosen, part.stream, part.content_type, part.declared_size)


def _required_name(name: str | None) -> str:
    if not name:
        raise ValidationError("Name the file: `?name=` for a raw body, or a multipart filename.")
    return name


@bp.route(f"/files/{FILE_ID}", methods=["GET"])
@token_required("read")
@bp.response(200, schemas.FileSchema)
@errors(service.get_file, *READ)
def get_file(file_id: int) -> StoredFile:
    """Describe one of the token user's files."""
    return service.get_file(current_api_user(), file_id)


@bp.route(f"/files/{FILE_ID}/content", methods=["GET"])
@token_required("read")
@bp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="*/*",
    description="The exact bytes uploaded, with the file's own content type.",
)
@bp.alt_response(
    206,
    schema={"type": "string", "format": "binary"},
    content_type="*/*",
    description="The single byte `Range` asked for (`Content-Range` says which).",
    success=True,
)
@bp.alt_response(302, description="`DOWNLOAD_MODE=redirect`: a short-lived presigned S3 URL.")
@bp.doc(
    parameters=[
        {"in": "header", "name": "Range", "schema": {"type": "string"}, "required": False},
    ]
)
@errors(service.get_file, service.open_download, service.download_url, *READ, http=[416])
def file_content(file_id: int) -> ResponseReturnValue:
    """Download the file's bytes as an attachment; one `Range` is honoured."""
    record = service.get_file(current_api_user(), file_id)
    return download_response(record, request.remote_addr)


@bp.route(f"/files/{FILE_ID}", methods=["DELETE"])
@token_required("write")
@bp.response(204)
@errors(service.delete_file, *READ)
def delete_file(file_id: int) -> None:
    """Delete the file; it stays restorable, from its backup copy, until the retention ends."""
    service.delete_file(current_api_user(), file_id, address=request.remote_addr)


@bp.route("/export", methods=["GET"])
@token_required("read")
@bp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/zip",
    description="A ZIP (stored, ZIP64 when large) of every live file under its name, plus"
    ' `manifest.json`: `{"files": [{"name", "size", "sha256"}]}`.',
)
@errors(*READ)
def export() -> ResponseReturnValue:
    """Download all of the token user's files as one streamed ZIP with a manifest."""
    return export_response(current_api_user(), request.remote_addr)


@bp.route("/me", methods=["GET"])
@token_required(None)
@bp.response(200, schemas.MeSchema)
@errors(*AUTH_ERRORS)
def me() -> dict[str, Any]:
    """Say which user and token the request authenticated as, and the account's usage."""
    user = current_api_user()
    return {
        "username": user.username,
        "token": current_token(),
        "usage_bytes": quotas.usage_of(user),
        "quota_bytes": quotas.quota_of(user),
    }


@bp.route("/health", methods=["GET"])
@bp.response(200, schemas.HealthSchema)
@bp.alt_response(503, schema=schemas.HealthSchema, description="Something did not answer.")
@bp.doc(security=[])
def health() -> tuple[dict[str, Any], int]:
    """Answer 200 when the database and both buckets answer, else 503; the machine itself
    also learns which part failed and the backup counts."""
    body, healthy = health_report(detailed=detailed_caller(request.remote_addr))
    return body, 200 if healthy else 503
