"""Register, log in and log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from securestore.auth import service
from securestore.auth.forms import LoginForm, RegisterForm
from securestore.auth.models import User
from securestore.errors import ConflictError

bp = Blueprint("auth", __name__, url_prefix="/auth")


def safe_next_path(target: str | None) -> str | None:
    """Return `target` when it is a path on this site, else `None` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return None
    return target


def _start_session(user: User) -> None:
    # A fresh session on login, so no identifier planted before login survives it.
    session.clear()
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
def register() -> Response | tuple[str, int] | str:
    """Create an account and log straight into it."""
    if current_user.is_authenticated:
        return redirect(url_for("files.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = service.register(form.username.data or "", form.password.data or "")
        except ConflictError as error:
            form.username.errors = [error.message]
            return render_template("auth/register.html", form=form), error.status
        _start_session(user)
        flash(f"Welcome, {user.username}! Your account is ready.", "success")
        return redirect(url_for("files.index"))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """Log in, then go back to the same-site page that asked for it (`next`)."""
    next_path = safe_next_path(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path or url_for("files.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = service.authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            _start_session(user)
            return redirect(next_path or url_for("files.index"))
        form.form_errors.append("Wrong username or password.")
        status = 401
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form, next_path=next_path), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """End the session (CSRF-checked like every POST, so no site can log a user out)."""
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
