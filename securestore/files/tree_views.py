"""The browser's folder and version pages: create, rename, move, delete and restore folders,
rename and move files (also by drag and drop), and a file's versions."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from securestore.errors import ValidationError, wants_json
from securestore.files import folders, history, organize, service, versions
from securestore.files.responses import version_response
from securestore.files.views import file_json

bp = Blueprint("tree", __name__, url_prefix="/files")


@bp.before_request
@login_required
def require_login() -> None:
    """Every route here is for logged-in users only."""


def folder_page(folder_id: int | None) -> str:
    """The address of a folder's page in My files (None: the root)."""
    return url_for("files.index", folder=folder_id)


def chosen_folder_id(field: str) -> int | None:
    """A folder picker's choice: an id, or "" for the root."""
    raw = request.form.get(field, "")
    if raw == "":
        return None
    if not raw.isdigit():
        raise ValidationError("Choose a folder from the list.")
    return int(raw)


@bp.post("/folders")
def create_folder() -> ResponseReturnValue:
    """Create a folder in the folder the form was sent from."""
    parent_id = chosen_folder_id("parent_id")
    folder = folders.create_folder(
        current_user, request.form.get("name", ""), parent_id, address=request.remote_addr
    )
    flash("Created the folder.", "success")
    return redirect(folder_page(folder.id), code=303)


@bp.route("/folders/<id:folder_id>/edit", methods=["GET", "POST"])
def edit_folder(folder_id: int) -> ResponseReturnValue:
    """Rename a folder or move it (with everything inside) under another one."""
    folder = folders.get_folder(current_user, folder_id)
    if request.method == "POST":
        organize.change_folder(
            current_user,
            folder_id,
            name=request.form.get("name") or None,
            parent_id=chosen_folder_id("parent_id"),
            address=request.remote_addr,
        )
        flash("Saved the folder.", "success")
        return redirect(folder_page(folder.id), code=303)
    below = folder.path + "/"
    choices = [
        f for f in folders.all_folders(current_user)
        if f.id != folder.id and not f.path.startswith(below)
    ]  # fmt: skip
    return render_template(
        "files/edit.html", item=folder, choices=choices, current_parent=folder.parent_id
    )


@bp.post("/folders/<id:folder_id>/delete")
def delete_folder(folder_id: int) -> ResponseReturnValue:
    """Delete a folder and everything inside; Recently deleted can restore the whole tree."""
    folder = organize.delete_folder(current_user, folder_id, address=request.remote_addr)
    flash("Deleted the folder. You can restore it from Recently deleted.", "success")
    return redirect(folder_page(folder.parent_id), code=303)


@bp.post("/folders/<id:folder_id>/restore")
def restore_folder(folder_id: int) -> ResponseReturnValue:
    """Restore a deleted folder with everything that was in it."""
    organize.restore_folder(current_user, folder_id, address=request.remote_addr)
    flash("Restored the folder.", "success")
    return redirect(url_for("files.deleted"), code=303)


@bp.route("/<id:file_id>/edit", methods=["GET", "POST"])
def edit_file(file_id: int) -> ResponseReturnValue:
    """Rename a file or move it to another folder; a script (drag and drop) gets JSON."""
    record = service.get_file(current_user, file_id)
    if request.method == "POST":
        moved = organize.change_file(
            current_user,
            file_id,
            name=request.form.get("name") or None,
            folder_id=chosen_folder_id("folder_id"),
            address=request.remote_addr,
        )
        if wants_json():
            return jsonify(file=file_json(moved))
        flash("Saved the file.", "success")
        return redirect(folder_page(moved.folder_id), code=303)
    return render_template(
        "files/edit.html",
        item=record,
        choices=folders.all_folders(current_user),
        current_parent=record.folder_id,
    )


@bp.get("/<id:file_id>/versions")
def file_versions(file_id: int) -> str:
    """List a file's earlier contents, each downloadable and restorable."""
    record = service.get_file(current_user, file_id)
    return render_template(
        "files/versions.html", file=record, versions=versions.list_versions(record)
    )


@bp.get("/<id:file_id>/versions/<id:version_id>/download")
def download_version(file_id: int, version_id: int) -> ResponseReturnValue:
    """Download one earlier content of a file."""
    record = service.get_file(current_user, file_id)
    return version_response(record, versions.get_version(record, version_id), request.remote_addr)


@bp.post("/<id:file_id>/versions/<id:version_id>/restore")
def restore_version(file_id: int, version_id: int) -> ResponseReturnValue:
    """Make an earlier content current; the one it replaces is kept as a version."""
    history.restore_version(current_user, file_id, version_id, address=request.remote_addr)
    flash("Restored that version; the content it replaced is now a version.", "success")
    return redirect(url_for("tree.file_versions", file_id=file_id), code=303)
