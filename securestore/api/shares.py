"""The /api/v1/shares endpoints: a script creates, lists and revokes the token user's links."""

from __future__ import annotations

from typing import Any

from flask import request

from securestore.api import schemas
from securestore.api.auth import current_api_user, token_required
from securestore.api.views import READ, bp, errors
from securestore.db_types import utcnow
from securestore.shares import service
from securestore.shares.models import ShareLink

SHARE_ID = "<id:share_id>"


@bp.route("/shares", methods=["POST"])
@token_required("write")
@bp.arguments(schemas.ShareCreateSchema)
@bp.response(201, schemas.IssuedShareSchema)
@errors(service.create_share, *READ, http=[422])
def create_share(body: dict[str, Any]) -> dict[str, Any]:
    """Create a link to one of the token user's files or folders; its `url` is shown only
    here."""
    wanted = service.ShareRequest(
        file_id=body.get("file_id"),
        folder_id=body.get("folder_id"),
        expires_in_days=body.get("expires_in_days"),
        password=body.get("password"),
        max_downloads=body.get("max_downloads"),
    )
    issued = service.create_share(current_api_user(), wanted, address=request.remote_addr)
    return {**_fields(issued.record), "url": issued.url}


@bp.route("/shares", methods=["GET"])
@token_required("read")
@bp.response(200, schemas.ShareListSchema)
@errors(service.list_shares, *READ)
def list_shares() -> dict[str, Any]:
    """The token user's links that are not revoked, each with its state; never their URLs."""
    now = utcnow()
    links = service.list_shares(current_api_user())
    return {"items": [{**_fields(link), "state": link.state(now)} for link in links]}


@bp.route(f"/shares/{SHARE_ID}", methods=["DELETE"])
@token_required("write")
@bp.response(204)
@errors(service.revoke_share, *READ)
def revoke_share(share_id: int) -> None:
    """Revoke the link; whoever opens it from now on gets 404."""
    service.revoke_share(current_api_user(), share_id, address=request.remote_addr)


def _fields(link: ShareLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "file_id": link.file_id,
        "folder_id": link.folder_id,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "max_downloads": link.max_downloads,
        "downloads": link.downloads,
        "has_password": link.has_password,
    }
