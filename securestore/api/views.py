"""The /api/v1 endpoints: each parses the request, calls one service, and returns JSON.

Every decorator below also writes the OpenAPI document, so the contract cannot drift from
the code. Errors are raised as `SecureStoreError`s and rendered by `errors.render_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, request, url_for
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint
from werkzeug.exceptions import UnprocessableEntity

from securestore.api import schemas
from securestore.api.auth import current_api_user, current_token, token_required
from securestore.auth.models import User
from securestore.errors import ValidationError, render_error
from securestore.files import service, streaming
from securestore.files.models import StoredFile
from securestore.files.responses import download_response
from securestore.storage.health import health_report

bp = Blueprint(
    "api", __name__, url_prefix="/api/v1", description="Files, the token's user, and health."
)
FILE_ID = "<int:file_id>"

_ERROR_DESCRIPTIONS = {
    400: "The request body or a value in it cannot be used.",
    401: "No token, or one that is unknown, expired or revoked.",
    403: "The token lacks the scope this operation needs.",
    404: "No such file for this token's user.",
    409: "No free name was left for the file.",
    413: "The upload is larger than the server accepts.",
    416: "The `Range` starts past the end of the file.",
    422: "A query parameter is malformed.",
    429: "Too many wrong tokens from this address: wait `Retry-After` seconds.",
    502: "The object store did not answer; nothing changed.",
    503: "The file could not be recorded, or the service is unhealthy.",
}


def errors(*statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document the error answers an operation can give, in the shared error shape."""

    # Every authenticated operation can also be throttled after repeated wrong tokens.
    documented = (*statuses, 429) if 401 in statuses else statuses

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        for status in documented:
            view = bp.alt_response(
                status, schema=schemas.ErrorSchema, description=_ERROR_DESCRIPTIONS[status]
            )(view)
        return view

    return decorator


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


@bp.route("/files", methods=["GET"])
@token_required("read")
@bp.arguments(schemas.FileListQuerySchema, location="query")
@bp.response(200, schemas.FilePageSchema)
@errors(400, 401, 403)
def list_files(query: dict[str, Any]) -> service.FilePage:
    """List the token user's files one page at a time, newest first unless `order` says."""
    return service.list_page(
        current_api_user(),
        cursor=query.get("cursor"),
        limit=query["limit"],
        name_filter=query.get("q"),
        order=query["order"],
    )


@bp.route("/files", methods=["POST"])
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
@errors(400, 401, 403, 409, 413, 502, 503)
def upload(query: dict[str, Any]) -> tuple[StoredFile, dict[str, str]]:
    """Store one file: multipart field `file`, or the raw body named by `?name=`.

    The bytes stream to storage as the browser upload does; a taken name gets ` (N)`.
    """
    user = current_api_user()
    if request.mimetype == "multipart/form-data":
        record = _store_single_part(user, query.get("name"))
    else:
        name = _required_name(query.get("name"))
        record = service.store_upload(user, name, request.stream, request.mimetype)
    return record, {"Location": url_for("api.get_file", file_id=record.id)}


def _store_single_part(user: User, fallback_name: str | None) -> StoredFile:
    """Stream the one `file` part of a multipart body to storage (nothing spooled to disk).

    Parts arrive in order, so a second file is only seen after the first is stored: the
    first is then deleted again and the request refused.
    """
    parts = (
        part
        for part in streaming.request_parts(request)
        if isinstance(part, streaming.FilePart) and part.name == streaming.FILE_FIELD
    )
    part = next(parts, None)
    if part is None:
        raise ValidationError("Send the file in the multipart field `file`.")
    name = _required_name(part.filename or fallback_name)
    record = service.store_upload(user, name, part.stream, part.content_type)
    if next(parts, None) is not None:
        service.delete_file(user, record.id)
        raise ValidationError("Send one file per request; none of these was kept.")
    return record


def _required_name(name: str | None) -> str:
    if not name:
        raise ValidationError("Name the file: `?name=` for a raw body, or a multipart filename.")
    return name


@bp.route(f"/files/{FILE_ID}", methods=["GET"])
@token_required("read")
@bp.response(200, schemas.FileSchema)
@errors(401, 403, 404)
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
@errors(401, 403, 404, 416, 502)
def file_content(file_id: int) -> ResponseReturnValue:
    """Download the file's bytes as an attachment; one `Range` is honoured."""
    return download_response(service.get_file(current_api_user(), file_id))


@bp.route(f"/files/{FILE_ID}", methods=["DELETE"])
@token_required("write")
@bp.response(204)
@errors(401, 403, 404, 502)
def delete_file(file_id: int) -> None:
    """Delete the file; its backup copy is kept."""
    service.delete_file(current_api_user(), file_id)


@bp.route("/me", methods=["GET"])
@token_required(None)
@bp.response(200, schemas.MeSchema)
@errors(401)
def me() -> dict[str, Any]:
    """Say which user and token the request authenticated as."""
    return {"username": current_api_user().username, "token": current_token()}


@bp.route("/health", methods=["GET"])
@bp.response(200, schemas.HealthSchema)
@bp.alt_response(503, schema=schemas.HealthSchema, description="Something did not answer.")
@bp.doc(security=[])
def health() -> tuple[dict[str, Any], int]:
    """Answer 200 when the database and both buckets answer, else 503 saying which failed."""
    body, healthy = health_report()
    return body, 200 if healthy else 503
