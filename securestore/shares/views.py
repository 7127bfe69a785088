"""The owner's "Shared links" page: create a link from a file's row, list and revoke them."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from securestore.db_types import utcnow
from securestore.errors import ValidationError
from securestore.files import folders
from securestore.files import service as files
from securestore.files.models import Folder, StoredFile
from securestore.shares import service
from securestore.shares.forms import CreateShareForm

bp = Blueprint("shares", __name__, url_prefix="/shares")


@bp.before_request
@login_required
def require_login() -> None:
    """Share links are managed by logged-in users only, and not at all with SHARES_ENABLED off."""
    if not current_app.config["SHARES_ENABLED"]:
        abort(404)


def _page(
    form: CreateShareForm | None = None,
    shared: StoredFile | Folder | None = None,
    issued: service.IssuedShare | None = None,
) -> str:
    return render_template(
        "shares/index.html",
        form=form,
        shared=shared,
        issued=issued,
        links=service.list_shares(current_user),
        now=utcnow(),
        max_days=current_app.config["SHARE_MAX_DAYS"],
        password_required=current_app.config["SHARE_REQUIRE_PASSWORD"],
    )


@bp.get("/")
def index() -> str:
    """List the user's links; with `?file_id=` or `?folder_id=`, the form to share that file
    or folder on top."""
    file_id = request.args.get("file_id", type=int)
    folder_id = request.args.get("folder_id", type=int)
    if file_id is None and folder_id is None:
        return _page()
    shared = _shared(file_id, folder_id)
    form = CreateShareForm(
        file_id=shared.id if file_id is not None else "",
        folder_id=shared.id if file_id is None else "",
    )
    return _page(form, shared)


def _shared(file_id: int | None, folder_id: int | None) -> StoredFile | Folder:
    """The user's file, else folder, to share; another user's is 404 like a missing one."""
    if file_id is not None:
        return files.get_file(current_user, file_id)
    return folders.get_folder(current_user, folder_id or 0)


def _posted_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@bp.post("/")
def create() -> ResponseReturnValue:
    """Create the link and show its URL on this one response; it is never shown again."""
    form = CreateShareForm()
    file_id, folder_id = _posted_id(form.file_id.data), _posted_id(form.folder_id.data)
    shared = _shared(file_id, folder_id)
    if not form.validate_on_submit():
        return _page(form, shared), 400
    wanted = service.ShareRequest(
        file_id=file_id,
        folder_id=None if file_id is not None else shared.id,
        expires_in_days=form.expires_in_days.data,
        password=form.password.data or None,
        max_downloads=form.max_downloads.data,
    )
    try:
        issued = service.create_share(current_user, wanted, address=request.remote_addr)
    except ValidationError as error:
        form.form_errors.append(error.message)
        return _page(form, shared), 400
    return _page(issued=issued), 201, {"Cache-Control": "no-store"}


@bp.post("/<id:share_id>/revoke")
def revoke(share_id: int) -> ResponseReturnValue:
    """Revoke the link: whoever opens it from now on gets 404 (CSRFProtect checks the form)."""
    service.revoke_share(current_user, share_id, address=request.remote_addr)
    flash("Revoked the link; it stops working at once.", "success")
    return redirect(url_for("shares.index"), code=303)
