"""The /api/v1/uploads endpoints: a client sends a file's parts straight to S3.

The app starts the upload (size limit, quota, name), signs part URLs in batches, tells which
parts S3 has, completes and records the file, or cancels. See `uploads.service`.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from securestore.api import schemas
from securestore.api.auth import current_api_user, token_required
from securestore.api.views import READ, bp, errors
from securestore.files.models import StoredFile
from securestore.uploads import service

UPLOAD_ID = "<id:upload_id>"


@bp.route("/uploads", methods=["POST"])
@token_required("write")
@bp.arguments(schemas.UploadStartSchema)
@bp.response(201, schemas.UploadStartedSchema)
@errors(service.start_upload, *READ, http=[422])
def start_upload(body: dict[str, Any]) -> dict[str, Any]:
    """Start a direct upload: the size limit (413) and quota (507) are checked first."""
    wanted = service.UploadRequest(
        name=body["name"],
        size=body["size"],
        content_type=body["content_type"],
        folder_id=body["folder_id"],
    )
    upload = service.start_upload(current_api_user(), wanted)
    return {
        "id": upload.id,
        "part_size": upload.part_size,
        "part_count": upload.part_count,
        "expires_at": upload.expires_at,
    }


@bp.route(f"/uploads/{UPLOAD_ID}/parts", methods=["POST"])
@token_required("write")
@bp.arguments(schemas.PartsRequestSchema)
@bp.response(200, schemas.PartUrlsSchema)
@errors(service.sign_parts, *READ, http=[422])
def sign_parts(body: dict[str, Any], upload_id: int) -> dict[str, Any]:
    """Presigned `PUT` URLs for some parts of the upload, valid 15 minutes each."""
    urls = service.sign_parts(
        current_api_user(), upload_id, body["part_numbers"], body["checksums"]
    )
    return {"urls": urls}


@bp.route(f"/uploads/{UPLOAD_ID}", methods=["GET"])
@token_required("read")
@bp.response(200, schemas.UploadSchema)
@errors(service.describe, *READ)
def get_upload(upload_id: int) -> dict[str, Any]:
    """The upload and the parts S3 has received of it, to resume where it stopped."""
    upload, parts = service.describe(current_api_user(), upload_id)
    return {
        "id": upload.id,
        "name": upload.name,
        "size": upload.size,
        "part_size": upload.part_size,
        "parts": parts,
    }


@bp.route(f"/uploads/{UPLOAD_ID}/complete", methods=["POST"])
@token_required("write")
@bp.response(201, schemas.FileSchema)
@errors(service.complete, *READ)
def complete_upload(upload_id: int) -> tuple[StoredFile, dict[str, str]]:
    """Finish the upload and record the file; 409 (nothing kept) when its parts fall short."""
    record = service.complete(current_api_user(), upload_id, address=request.remote_addr)
    return record, {"Location": url_for("api.get_file", file_id=record.id)}


@bp.route(f"/uploads/{UPLOAD_ID}", methods=["DELETE"])
@token_required("write")
@bp.response(204)
@errors(service.cancel, *READ)
def cancel_upload(upload_id: int) -> None:
    """Cancel the upload: S3 drops its parts, its quota room is free again."""
    service.cancel(current_api_user(), upload_id)
