"""List, upload, download and delete the logged-in user's files."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from securestore.errors import SecureStoreError, ValidationError
from securestore.files import service
from securestore.formatting import content_disposition

bp = Blueprint("files", __name__, url_prefix="/files")


@bp.before_request
@login_required
def require_login() -> None:
    """Every files route is for logged-in users only."""


@bp.get("/")
def index() -> str:
    """Show the user's files with size, upload time and backup state."""
    return render_template("files/index.html", files=service.list_files(current_user))


@bp.post("/upload")
def upload() -> ResponseReturnValue:
    """Store every file of the multipart field `file`; a failure of one keeps the others."""
    uploads = [item for item in request.files.getlist("file") if item.filename]
    if not uploads:
        raise ValidationError("Choose at least one file to upload.")
    errors: list[SecureStoreError] = []
    for item in uploads:
        try:
            record = service.store_upload(
                current_user, item.filename or "", item.stream, item.mimetype
            )
        except SecureStoreError as error:
            errors.append(error)
            flash(f"{item.filename}: {error.message}", "danger")
        else:
            flash(f"Uploaded {record.name}.", "success")
    if errors:
        files = service.list_files(current_user)
        return render_template("files/index.html", files=files), errors[0].status
    return redirect(url_for("files.index"), code=303)


@bp.get("/<int:file_id>/download")
def download(file_id: int) -> Response:
    """Send the exact bytes uploaded, as an attachment under the original name."""
    record, stream = service.open_download(current_user, file_id)
    response = Response(stream.chunks, mimetype=record.content_type, direct_passthrough=True)
    response.content_length = stream.size
    response.headers["Content-Disposition"] = content_disposition(record.name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Even if a browser rendered it, the file would run with no privileges of this origin.
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.post("/<int:file_id>/delete")
def delete(file_id: int) -> ResponseReturnValue:
    """Delete the file; the list no longer shows it."""
    record = service.delete_file(current_user, file_id)
    flash(f"Deleted {record.name}.", "success")
    return redirect(url_for("files.index"), code=303)
