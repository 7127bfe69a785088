"""`/admin/`: accounts (counts and sizes only), invitations and storage health.

Anyone who is not a logged-in administrator gets 404, as if the page did not exist. Every
form is CSRF-checked (CSRFProtect); every change goes through `accounts.service` or
`auth.invitations`, which audit it on the account it touches, naming the administrator.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from securestore.accounts import deletion, service
from securestore.admin.forms import CreateAccountForm, DeleteAccountForm, InvitationForm, QuotaForm
from securestore.auth import invitations
from securestore.auth.models import User
from securestore.errors import NotFoundError, SecureStoreError, ValidationError
from securestore.extensions import db
from securestore.health.checks import health_report
from securestore.quotas.service import parse_size

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_admin() -> None:
    """Not found for everyone but administrators: the page's existence is not advertised."""
    if not (current_user.is_authenticated and current_user.is_admin):
        abort(404)


def _page(
    status: int = 200, *, error: SecureStoreError | None = None, **context: Any
) -> ResponseReturnValue:
    health, healthy = health_report(detailed=True)
    page = render_template(
        "admin/index.html",
        accounts=service.summaries(),
        invitations=invitations.pending(),
        health=health,
        healthy=healthy,
        error=error,
        create_form=context.pop("create_form", None) or CreateAccountForm(formdata=None),
        invitation_form=context.pop("invitation_form", None) or InvitationForm(formdata=None),
        **context,
    )
    return page, error.status if error else status, {"Cache-Control": "no-store"}


def _done(message: str) -> ResponseReturnValue:
    flash(message, "success")
    return redirect(url_for("admin.index"), code=303)


def _user(user_id: int) -> User:
    user = db.session.scalar(select(User).where(User.id == user_id, User.deleted_at.is_(None)))
    if user is None:
        raise NotFoundError("There is no such account.")
    return user


@bp.get("/")
def index() -> ResponseReturnValue:
    """The page: one row per account, pending invitations, storage health."""
    return _page()


@bp.post("/users")
def create_account() -> ResponseReturnValue:
    """Create an account, whatever `REGISTRATION` says."""
    form = CreateAccountForm()
    if not form.validate_on_submit():
        return _page(400, create_form=form)
    try:
        user = service.create_account(
            form.username.data or "",
            form.password.data or "",
            admin=bool(form.admin.data),
            actor=current_user,
            address=request.remote_addr,
        )
    except SecureStoreError as error:
        return _page(error=error, create_form=form)
    return _done(f"Created the account {user.username}.")


@bp.post("/users/<id:user_id>/quota")
def set_quota(user_id: int) -> ResponseReturnValue:
    """Set a quota: a size, `none` (unlimited) or empty (the default)."""
    user = _user(user_id)
    raw = (QuotaForm().quota.data or "").strip()
    try:
        if raw.lower() in ("", "default"):
            service.set_quota(
                user, None, unlimited=False, actor=current_user, address=request.remote_addr
            )
        else:
            quota = None if raw.lower() == "none" else parse_size(raw)
            service.set_quota(
                user,
                quota,
                unlimited=quota is None,
                actor=current_user,
                address=request.remote_addr,
            )
    except ValidationError as error:
        return _page(error=error)
    return _done(f"Quota of {user.username}: {service.quota_text(user)}.")


@bp.post("/users/<id:user_id>/disable")
def disable(user_id: int) -> ResponseReturnValue:
    """Disable: no login, sessions end, tokens answer 401."""
    return _set_disabled(user_id, True)


@bp.post("/users/<id:user_id>/enable")
def enable(user_id: int) -> ResponseReturnValue:
    """Let a disabled account in again."""
    return _set_disabled(user_id, False)


def _set_disabled(user_id: int, disabled: bool) -> ResponseReturnValue:
    user = _user(user_id)
    try:
        service.set_disabled(user, disabled, actor=current_user, address=request.remote_addr)
    except SecureStoreError as error:
        return _page(error=error)
    return _done(f"{user.username} is {'disabled' if disabled else 'enabled'}.")


@bp.post("/users/<id:user_id>/promote")
def promote(user_id: int) -> ResponseReturnValue:
    """Make the account an administrator."""
    return _set_admin(user_id, True)


@bp.post("/users/<id:user_id>/demote")
def demote(user_id: int) -> ResponseReturnValue:
    """Take administrator rights away (never from the last administrator)."""
    return _set_admin(user_id, False)


def _set_admin(user_id: int, admin: bool) -> ResponseReturnValue:
    user = _user(user_id)
    try:
        service.set_admin(user, admin, actor=current_user, address=request.remote_addr)
    except SecureStoreError as error:
        return _page(error=error)
    role = "an administrator" if admin else "no longer an administrator"
    return _done(f"{user.username} is {role}.")


@bp.post("/users/<id:user_id>/delete")
def delete(user_id: int) -> ResponseReturnValue:
    """Delete the account and its files, once its name is typed to confirm."""
    user = _user(user_id)
    form = DeleteAccountForm()
    if not form.validate_on_submit() or (form.confirm.data or "").strip().lower() != user.username:
        return _page(error=ValidationError(f"Type {user.username} to confirm the deletion."))
    try:
        waiting = deletion.delete_account(user, actor=current_user, address=request.remote_addr)
    except SecureStoreError as error:
        return _page(error=error)
    later = f" {waiting} file(s) go once their backup copy is made." if waiting else ""
    return _done(f"Deleted the account {user.username}.{later}")


@bp.post("/invitations")
def create_invitation() -> ResponseReturnValue:
    """Make an invitation and show its link on this one response."""
    form = InvitationForm()
    if not form.validate_on_submit():
        return _page(400, invitation_form=form)
    _, url = invitations.create(
        form.days.data or 7, form.note.data, created_by=current_user, address=request.remote_addr
    )
    return _page(201, new_invitation=url)


@bp.post("/invitations/<id:invitation_id>/revoke")
def revoke_invitation(invitation_id: int) -> ResponseReturnValue:
    """Withdraw an invitation; its link answers 410 from now on."""
    invitations.revoke(invitation_id, actor=current_user, address=request.remote_addr)
    return _done("Revoked the invitation.")
