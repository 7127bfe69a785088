"""The owner's "Shared links" page: create a link from a file's row, list and revoke them."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from securestore.db_types import utcnow
from securestore.errors import ValidationError
from securestore.files import service as files
from securestore.files.models import StoredFile
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
    shared: StoredFile | None = None,
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
    """List the user's links; with `?file_id=`, the form to share that file on top."""
    file_id = request.args.get("file_id", type=int)
    if file_id is None:
        return _page()
    record = files.get_file(current_user, file_id)
    return _page(CreateShareForm(file_id=record.id), record)


@bp.post("/")
def create() -> ResponseReturnValue:
    """Create the link and show its URL on this one response; it is never shown again."""
    form = CreateShareForm()
    file_id = int(form.file_id.data) if (form.file_id.data or "").isdigit() else 0
    record = files.get_file(current_user, file_id)
    if not form.validate_on_submit():
        return _page(form, record), 400
    wanted = service.ShareRequest(
        file_id=record.id,
        expires_in_days=form.expires_in_days.data,
        password=form.password.data or None,
        max_downloads=form.max_downloads.data,
    )
    try:
        issued = service.create_share(current_user, wanted, address=request.remote_addr)
    except ValidationError as error:
        form.form_errors.append(error.message)
        return _page(form, record), 400
    return _page(issued=issued), 201, {"Cache-Control": "no-store"}


@bp.post("/<id:share_id>/revoke")
def revoke(share_id: int) -> ResponseReturnValue:
    """Revoke the link: whoever opens it from now on gets 404 (CSRFProtect checks the form)."""
    service.revoke_share(current_user, share_id, address=request.remote_addr)
    flash("Revoked the link; it stops working at once.", "success")
    return redirect(url_for("shares.index"), code=303)
