"""Register, log in (with an optional second factor), log out, and manage account security."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from securestore.accounts import deletion
from securestore.audit import service as audit
from securestore.auth import invitations, registration, service, sessions, two_factor
from securestore.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmPasswordForm,
    DeleteAccountForm,
    LoginForm,
    RegisterForm,
)
from securestore.errors import (
    AccountDisabledError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    SecureStoreError,
    ThrottledError,
    ValidationError,
)

bp = Blueprint("auth", __name__, url_prefix="/auth")


def safe_next_path(target: str | None) -> str | None:
    """Return `target` when it is a path on this site, else `None` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return None
    return target


def _refused(
    template: str,
    form: CodeForm | LoginForm | RegisterForm,
    error: SecureStoreError,
    **context: object,
) -> ResponseReturnValue:
    """Re-render a form with the error on top, its status and headers (429's Retry-After)."""
    form.form_errors.append(error.message)
    return render_template(template, form=form, **context), error.status, error.headers()


@bp.route("/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    """Create an account and log straight into it, when `REGISTRATION` is `open`."""
    if current_user.is_authenticated:
        return redirect(url_for("files.index"))
    closed = registration.closed_error()
    if closed is not None:
        return _no_registration(closed)
    return _registration_form(invitation=None)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invitation(token: str) -> ResponseReturnValue:
    """Register with an invitation link: one account per invitation, whatever the mode."""
    try:
        invitations.usable(token)
    except (NotFoundError, GoneError) as error:
        return _no_registration(error)
    if current_user.is_authenticated:
        flash("You are logged in: log out first to use this invitation.", "info")
        return redirect(url_for("files.index"))
    return _registration_form(invitation=token)


def _registration_form(invitation: str | None) -> ResponseReturnValue:
    form = RegisterForm()
    page = "auth/register.html"
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template(page, form=form), status
    try:
        user = registration.register(
            form.username.data or "",
            form.password.data or "",
            address=request.remote_addr,
            invitation=invitation,
        )
    except ConflictError as error:
        form.username.errors = [error.message]
        return render_template(page, form=form), error.status
    except ThrottledError as error:
        return _refused(page, form, error)
    except (NotFoundError, GoneError, ForbiddenError) as error:
        return _no_registration(error)
    sessions.start(user)
    flash(f"Welcome, {user.username}! Your account is ready.", "success")
    return redirect(url_for("files.index"))


def _no_registration(error: SecureStoreError) -> ResponseReturnValue:
    """Registration closed, or an invitation unknown (404) or used up (410)."""
    return render_template("auth/no_registration.html", message=error.message), error.status


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Log in, then go back to the same-site page that asked for it (`next`)."""
    next_path = safe_next_path(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path or url_for("files.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form, next_path=next_path), status
    try:
        user = service.log_in(
            form.username.data or "", form.password.data or "", request.remote_addr
        )
    except (ThrottledError, AuthenticationError, AccountDisabledError) as error:
        return _refused("auth/login.html", form, error, next_path=next_path)
    if user.two_factor_enabled:
        sessions.begin_second_factor(user, next_path)
        return redirect(url_for("auth.second_factor"))
    sessions.start(user)
    return redirect(next_path or url_for("files.index"))


@bp.route("/2fa", methods=["GET", "POST"])
def second_factor() -> ResponseReturnValue:
    """The second login step: a code from the authenticator app or a recovery code."""
    pending = sessions.pending_second_factor()
    if pending is None:
        flash("Please log in again.", "info")
        return redirect(url_for("auth.login"))
    user, next_path = pending
    form = CodeForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("auth/second_factor.html", form=form), status
    try:
        two_factor.verify(user, form.code.data or "", request.remote_addr)
    except (ThrottledError, AuthenticationError) as error:
        return _refused("auth/second_factor.html", form, error)
    sessions.start(user)
    return redirect(safe_next_path(next_path) or url_for("files.index"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """End the session on every device (CSRF-checked like every POST)."""
    service.log_out(current_user, address=request.remote_addr)
    sessions.end()
    flash(
        "You are logged out. Every session of your account has ended; "
        "access tokens keep working until you revoke them.",
        "info",
    )
    return redirect(url_for("auth.login"))


@bp.get("/account")
@login_required
def account() -> str:
    """Account security: password, two-factor login, sessions and recent activity."""
    return _account_page(ConfirmPasswordForm())


def _account_page(disable_form: ConfirmPasswordForm) -> str:
    return render_template(
        "auth/account.html",
        recovery_codes_left=two_factor.remaining_recovery_codes(current_user),
        disable_form=disable_form,
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """Change the password (the current one is asked for); every other session ends."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("auth/change_password.html", form=form), status
    user = current_user._get_current_object()
    try:
        revoked = service.change_password(
            user,
            form.current_password.data or "",
            form.new_password.data or "",
            request.remote_addr,
            revoke_tokens=bool(form.revoke_tokens.data),
        )
    except (ThrottledError, AuthenticationError) as error:
        form.current_password.errors = [error.message]
        return (
            render_template("auth/change_password.html", form=form),
            error.status,
            error.headers(),
        )
    sessions.start(user)
    tokens = f" and {revoked} access token{'' if revoked == 1 else 's'} revoked" if revoked else ""
    flash(f"Your password is changed. Every other session has been logged out{tokens}.", "success")
    return redirect(url_for("auth.account"), code=303)


@bp.route("/2fa/setup", methods=["GET", "POST"])
@login_required
def setup_two_factor() -> ResponseReturnValue:
    """Show a QR code for a new secret; turn two-factor login on once a code proves it."""
    if current_user.two_factor_enabled:
        return redirect(url_for("auth.account"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = two_factor.enable(
                current_user, form.code.data or "", address=request.remote_addr
            )
        except ValidationError as error:
            form.code.errors = [error.message]
            status = error.status
        else:
            return render_template("auth/recovery_codes.html", codes=codes)
    elif form.is_submitted():
        status = 400
    secret = two_factor.pending_secret(current_user)
    qr = two_factor.qr_code(current_user, secret)
    page = render_template("auth/setup_two_factor.html", form=form, qr=qr, secret=secret)
    return page, status


@bp.post("/2fa/disable")
@login_required
def disable_two_factor() -> ResponseReturnValue:
    """Turn two-factor login off; the password is asked for again."""
    form = ConfirmPasswordForm()
    if not form.validate_on_submit():
        return _account_page(form), 400
    try:
        two_factor.disable(current_user, form.password.data or "", request.remote_addr)
    except (ThrottledError, AuthenticationError) as error:
        form.password.errors = [error.message]
        return _account_page(form), error.status, error.headers()
    flash("Two-factor login is off.", "success")
    return redirect(url_for("auth.account"), code=303)


@bp.get("/activity")
@login_required
def activity() -> str:
    """The user's own recent security events: logins, changes, file access."""
    return render_template("auth/activity.html", events=audit.recent_events(current_user))


@bp.route("/delete-account", methods=["GET", "POST"])
@login_required
def delete_account() -> ResponseReturnValue:
    """Delete my account and files, after the password (and a code with 2FA) once more."""
    form = DeleteAccountForm()
    page = "auth/delete_account.html"
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template(page, form=form), status
    user = current_user._get_current_object()
    try:
        deletion.delete_own_account(
            user, form.password.data or "", form.code.data, address=request.remote_addr
        )
    except (ThrottledError, AuthenticationError, ConflictError) as error:
        form.form_errors.append(error.message)
        return render_template(page, form=form), error.status, error.headers()
    sessions.end()
    flash("Your account and its files are deleted.", "info")
    return redirect(url_for("auth.login"), code=303)
