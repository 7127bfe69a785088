"""The settings page where users create and revoke their personal access tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from securestore.db_types import utcnow
from securestore.tokens import service
from securestore.tokens.forms import CreateTokenForm

bp = Blueprint("tokens", __name__, url_prefix="/settings/tokens")


@bp.before_request
@login_required
def require_login() -> None:
    """Token settings are for logged-in users only."""


def _page(form: CreateTokenForm, issued: service.IssuedToken | None = None) -> str:
    return render_template(
        "tokens/index.html",
        form=form,
        tokens=service.list_tokens(current_user),
        issued=issued,
        now=utcnow(),
    )


@bp.get("/")
def index() -> str:
    """List the user's tokens with the form to create one."""
    return _page(CreateTokenForm())


@bp.post("/")
def create() -> ResponseReturnValue:
    """Create a token and show its secret on this one response; it is never shown again."""
    form = CreateTokenForm()
    if not form.validate_on_submit():
        return _page(form), 400
    issued = service.create_token(
        current_user,
        form.name.data or "",
        scopes=form.scopes.data or [],
        expires_in_days=form.expires_in_days,
        address=request.remote_addr,
    )
    # The secret is in this page only: no flash (the session cookie is readable), no cache.
    return _page(CreateTokenForm(formdata=None), issued), 201, {"Cache-Control": "no-store"}


@bp.post("/<id:token_id>/revoke")
def revoke(token_id: int) -> ResponseReturnValue:
    """Revoke the token; scripts using it get 401 from now on (CSRFProtect checks the form)."""
    service.revoke_token(current_user, token_id, address=request.remote_addr)
    flash("Revoked the token; scripts using it get 401 from now on.", "success")
    return redirect(url_for("tokens.index"), code=303)
