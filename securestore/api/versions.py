"""The /api/v1 endpoints of a file's versions: list, download and restore earlier contents."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from securestore.api import schemas
from securestore.api.auth import current_api_user, token_required
from securestore.api.views import FILE_ID, READ, bp, errors
from securestore.files import history, service, versions
from securestore.files.models import StoredFile
from securestore.files.responses import version_response

VERSION = f"/files/{FILE_ID}/versions/<id:version_id>"


@bp.route(f"/files/{FILE_ID}/versions", methods=["GET"])
@token_required("read")
@bp.response(200, schemas.VersionListSchema)
@errors(service.get_file, *READ)
def list_versions(file_id: int) -> dict[str, Any]:
    """The file's earlier contents, newest first; the current content is not listed."""
    record = service.get_file(current_api_user(), file_id)
    return {"versions": versions.list_versions(record)}


@bp.route(f"{VERSION}/content", methods=["GET"])
@token_required("read")
@bp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="*/*",
    description="The version's bytes, as an attachment under the file's name.",
)
@errors(service.get_file, versions.get_version, versions.open_version, *READ, http=[416])
def version_content(file_id: int, version_id: int) -> ResponseReturnValue:
    """Download one earlier content of the file."""
    record = service.get_file(current_api_user(), file_id)
    version = versions.get_version(record, version_id)
    return version_response(record, version, request.remote_addr)


@bp.route(f"{VERSION}/restore", methods=["POST"])
@token_required("write")
@bp.response(200, schemas.FileSchema)
@errors(history.restore_version, *READ)
def restore_version(file_id: int, version_id: int) -> StoredFile:
    """Make the version current again; the content it replaces becomes the newest version."""
    return history.restore_version(
        current_api_user(), file_id, version_id, address=request.remote_addr
    )
