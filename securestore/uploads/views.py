"""The browser's side of direct uploads: the page's script drives the same steps as the API
(`/api/v1/uploads`), with the session and its CSRF token instead of a bearer token.

Each route answers JSON. A file of a dropped folder names its path below the folder shown
(`path`), whose missing folders are created first, as the streamed upload does.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from securestore.api.schemas import PartsRequestSchema, UploadStartSchema
from securestore.errors import ValidationError
from securestore.files import folders
from securestore.files.naming import split_path
from securestore.files.views import file_json
from securestore.uploads import service

bp = Blueprint("direct_uploads", __name__, url_prefix="/files/uploads")


class BrowserUploadSchema(UploadStartSchema):
    path = ma.fields.String(load_default=None, allow_none=True)


@bp.before_request
@login_required
def require_login() -> None:
    """Direct uploads are for logged-in users only."""


def _body(schema: ma.Schema) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(request.get_json(silent=True) or {})
    except ma.ValidationError as error:
        problems = "; ".join(f"{field}: {' '.join(map(str, notes))}"
                             for field, notes in error.normalized_messages().items())  # fmt: skip
        raise ValidationError(problems) from None
    return loaded


@bp.post("/")
def start() -> ResponseReturnValue:
    """Start a direct upload into the folder given (or the file's `path` below it)."""
    body = _body(BrowserUploadSchema())
    folder_id, name = body["folder_id"], body["name"]
    if body["path"]:
        *parents, name = split_path(body["path"])
        folder = folders.ensure_path(
            current_user, folders.folder_or_root(current_user, folder_id), parents
        )
        folder_id = None if folder is None else folder.id
    wanted = service.UploadRequest(
        name=name, size=body["size"], content_type=body["content_type"], folder_id=folder_id
    )
    upload = service.start_upload(current_user, wanted)
    return jsonify(
        id=upload.id, part_size=upload.part_size, part_count=upload.part_count,
        expires_at=upload.expires_at.isoformat(),
    ), 201  # fmt: skip


@bp.post("/<id:upload_id>/parts")
def sign_parts(upload_id: int) -> ResponseReturnValue:
    """Presigned `PUT` URLs for the parts asked for (each bound to its checksum, if given)."""
    service.get_upload(current_user, upload_id)  # another user's id: 404 before anything
    body = _body(PartsRequestSchema())
    urls = service.sign_parts(current_user, upload_id, body["part_numbers"], body["checksums"])
    return jsonify(urls=urls)


@bp.get("/<id:upload_id>")
def describe(upload_id: int) -> ResponseReturnValue:
    """The upload and the parts S3 holds of it: a resumed upload sends only the others."""
    upload, parts = service.describe(current_user, upload_id)
    received = [{"part_number": p.number, "size": p.size, "etag": p.etag} for p in parts]
    return jsonify(
        id=upload.id, name=upload.name, size=upload.size, part_size=upload.part_size,
        parts=received,
    )  # fmt: skip


@bp.post("/<id:upload_id>/complete")
def complete(upload_id: int) -> ResponseReturnValue:
    """Finish the upload and record the file (409, nothing kept, when parts fall short)."""
    record = service.complete(current_user, upload_id, address=request.remote_addr)
    return jsonify(file=file_json(record)), 201


@bp.delete("/<id:upload_id>")
def cancel(upload_id: int) -> ResponseReturnValue:
    """Cancel the upload: S3 drops its parts, the quota room is free again."""
    service.cancel(current_user, upload_id)
    return "", 204
