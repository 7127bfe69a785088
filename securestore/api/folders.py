"""The /api/v1 folder endpoints and the rename or move of a file: the token user's tree."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from securestore.api import schemas
from securestore.api.auth import current_api_user, token_required
from securestore.api.views import FILE_ID, READ, bp, errors
from securestore.files import folders, organize
from securestore.files.models import Folder, StoredFile

FOLDER_ID = "<id:folder_id>"


@bp.route("/folders", methods=["POST"])
@token_required("write")
@bp.arguments(schemas.FolderCreateSchema)
@bp.response(201, schemas.FolderSchema)
@errors(folders.create_folder, *READ, http=[422])
def create_folder(body: dict[str, Any]) -> tuple[Folder, dict[str, str]]:
    """Create an empty folder; a name already used there (file or folder) answers 409."""
    folder = folders.create_folder(
        current_api_user(), body["name"], body["parent_id"], address=request.remote_addr
    )
    return folder, {"Location": url_for("api.get_folder", folder_id=folder.id)}


@bp.route("/folders", methods=["GET"])
@token_required("read")
@bp.arguments(schemas.FolderListQuerySchema, location="query")
@bp.response(200, schemas.FolderPageSchema)
@errors(folders.list_page, folders.get_folder, *READ, http=[422])
def list_folders(query: dict[str, Any]) -> folders.FolderPage:
    """List the subfolders of a folder (the root by default) by name, a page at a time."""
    user = current_api_user()
    parent = folders.folder_or_root(user, query.get("parent_id"))
    return folders.list_page(user, parent, cursor=query.get("cursor"), limit=query["limit"])


@bp.route(f"/folders/{FOLDER_ID}", methods=["GET"])
@token_required("read")
@bp.response(200, schemas.FolderSchema)
@errors(folders.get_folder, *READ)
def get_folder(folder_id: int) -> Folder:
    """Describe one of the token user's folders."""
    return folders.get_folder(current_api_user(), folder_id)


@bp.route(f"/folders/{FOLDER_ID}", methods=["PATCH"])
@token_required("write")
@bp.arguments(schemas.FolderChangeSchema)
@bp.response(200, schemas.FolderSchema)
@errors(organize.change_folder, *READ, http=[422])
def change_folder(body: dict[str, Any], folder_id: int) -> Folder:
    """Rename the folder and/or move it (`parent_id`, null: the root) with everything inside;
    answers once every file below is at its new key in both buckets."""
    return organize.change_folder(
        current_api_user(),
        folder_id,
        name=body.get("name"),
        parent_id=body.get("parent_id", organize.UNCHANGED),
        address=request.remote_addr,
    )


@bp.route(f"/folders/{FOLDER_ID}", methods=["DELETE"])
@token_required("write")
@bp.response(204)
@errors(organize.delete_folder, *READ)
def delete_folder(folder_id: int) -> None:
    """Delete the folder and everything inside; Recently deleted restores it as one tree."""
    organize.delete_folder(current_api_user(), folder_id, address=request.remote_addr)


@bp.route(f"/files/{FILE_ID}", methods=["PATCH"])
@token_required("write")
@bp.arguments(schemas.FileChangeSchema)
@bp.response(200, schemas.FileSchema)
@errors(organize.change_file, *READ, http=[422])
def change_file(body: dict[str, Any], file_id: int) -> StoredFile:
    """Rename the file and/or move it (`folder_id`, null: the root); answers once its object
    is at the new key in both buckets and gone from the old one."""
    return organize.change_file(
        current_api_user(),
        file_id,
        name=body.get("name"),
        folder_id=body.get("folder_id", organize.UNCHANGED),
        address=request.remote_addr,
    )
