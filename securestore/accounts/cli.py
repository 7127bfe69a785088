"""Operators' commands: `flask --app securestore users ...` and `... invites ...`.

Every change is audited on the account it touches as made "by the CLI".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import click
from flask.cli import AppGroup

from securestore.accounts import deletion, service
from securestore.auth import invitations
from securestore.auth import service as auth
from securestore.auth.models import User
from securestore.errors import SecureStoreError
from securestore.formatting import exact_time, human_size
from securestore.quotas.service import parse_size

users = AppGroup("users", help="Manage user accounts.")
invites = AppGroup("invites", help="Invitation links for REGISTRATION=invite.")

P = ParamSpec("P")
R = TypeVar("R")


def reported(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the app's errors into a one-line message and exit status 1."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SecureStoreError as error:
            raise click.ClickException(error.message) from None

    return run


def _account(username: str) -> User:
    user = service.account(username)
    if user.deleted_at is not None:
        raise click.ClickException(f"{user.username} is deleted.")
    return user


def _size_or_none(raw: str) -> int | None:
    """SIZE in bytes or with a unit (500MB, 10GiB); `none` gives None."""
    return None if raw.strip().lower() == "none" else parse_size(raw)


@users.command("create")
@click.argument("username")
@click.password_option(help="The new password (asked for when not given).")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@reported
def create_user(username: str, password: str, admin: bool) -> None:
    """Create an account (whatever REGISTRATION says)."""
    user = service.create_account(username, password, admin=admin, actor=None, address=None)
    role = " (administrator)" if admin else ""
    click.echo(f"Created user {user.username}{role}.")


@users.command("set-password")
@click.argument("username")
@click.password_option(help="The new password (asked for when not given).")
@reported
def set_password(username: str, password: str) -> None:
    """Replace a user's password; every session of theirs ends."""
    user = _account(username)
    auth.set_password(user, password)
    click.echo(f"Password changed for {user.username}.")


@users.command("list")
def list_users() -> None:
    """One line per account: files, bytes used, role, state, quota (tab-separated)."""
    for row in service.summaries():
        quota = "unlimited" if row.quota_bytes is None else human_size(row.quota_bytes)
        role = "admin" if row.user.is_admin else "user"
        click.echo(
            f"{row.user.username}\t{row.files} files\t{row.usage_bytes} bytes"
            f"\t{role}\t{row.state}\tquota {quota}"
        )


@users.command("promote")
@click.argument("username")
@reported
def promote(username: str) -> None:
    """Make an account an administrator."""
    user = _account(username)
    service.set_admin(user, True, actor=None, address=None)
    click.echo(f"{user.username} is an administrator.")


@users.command("demote")
@click.argument("username")
@reported
def demote(username: str) -> None:
    """Take administrator rights away (never from the last administrator)."""
    user = _account(username)
    service.set_admin(user, False, actor=None, address=None)
    click.echo(f"{user.username} is no longer an administrator.")


@users.command("disable")
@click.argument("username")
@reported
def disable(username: str) -> None:
    """Stop an account: no login, its sessions end, its tokens answer 401."""
    user = _account(username)
    service.set_disabled(user, True, actor=None, address=None)
    click.echo(f"{user.username} is disabled.")


@users.command("enable")
@click.argument("username")
@reported
def enable(username: str) -> None:
    """Let a disabled account log in again (its tokens work again too)."""
    user = _account(username)
    service.set_disabled(user, False, actor=None, address=None)
    click.echo(f"{user.username} is enabled.")


@users.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Confirm: the account and its files go.")
@reported
def delete(username: str, yes: bool) -> None:
    """Delete an account: sessions and tokens end, files leave the primary bucket now and
    their backup copies after BACKUP_RETENTION_DAYS."""
    if not yes:
        raise click.UsageError("Deleting an account cannot be undone: add --yes to confirm.")
    user = _account(username)
    waiting = deletion.delete_account(user, actor=None, address=None)
    click.echo(f"Deleted {user.username}.")
    if waiting:
        click.echo(f"{waiting} file(s) wait for their backup copy; backup sync deletes them.")


@users.command("set-quota")
@click.argument("username")
@click.argument("size")
@reported
def set_quota(username: str, size: str) -> None:
    """Set the account's quota: SIZE (bytes, 500MB, 10GiB), `none` (unlimited) or
    `default` (DEFAULT_QUOTA_BYTES)."""
    user = _account(username)
    if size.strip().lower() == "default":
        service.set_quota(user, None, unlimited=False, actor=None, address=None)
    else:
        quota = _size_or_none(size)
        service.set_quota(user, quota, unlimited=quota is None, actor=None, address=None)
    click.echo(f"Quota of {user.username}: {service.quota_text(user)}.")


@users.command("set-max-upload")
@click.argument("username")
@click.argument("size")
@reported
def set_max_upload(username: str, size: str) -> None:
    """Set the account's largest upload: SIZE, or `none` for MAX_UPLOAD_BYTES."""
    user = _account(username)
    service.set_max_upload(user, _size_or_none(size), actor=None, address=None)
    click.echo(f"Largest upload of {user.username}: {service.upload_limit_text(user)}.")


@invites.command("create")
@click.option(
    "--days",
    type=click.IntRange(1, invitations.MAX_DAYS),
    default=7,
    show_default=True,
    help="How long the link stays valid.",
)
@click.option("--note", help="Who it is for (shown to administrators).")
@reported
def create_invitation(days: int, note: str | None) -> None:
    """Make a one-time registration link; its URL is the last line printed."""
    record, url = invitations.create(days, note, created_by=None, address=None)
    click.echo(f"Invitation {record.id}, valid until {exact_time(record.expires_at)}:")
    click.echo(url)


@invites.command("list")
def list_invitations() -> None:
    """Invitations that can still be used: id, expiry, note."""
    for record in invitations.pending():
        click.echo(f"{record.id}\tuntil {exact_time(record.expires_at)}\t{record.note or ''}")


@invites.command("revoke")
@click.argument("invitation_id", type=int)
@reported
def revoke_invitation(invitation_id: int) -> None:
    """Withdraw an invitation; its link answers 410."""
    invitations.revoke(invitation_id, actor=None, address=None)
    click.echo(f"Invitation {invitation_id} revoked.")
