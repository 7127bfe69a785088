"""Admin commands for the `flask` CLI: `flask --app securestore users ...`."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from securestore.auth import service as accounts
from securestore.auth.models import User
from securestore.errors import SecureStoreError
from securestore.extensions import db
from securestore.files.models import StoredFile

users = AppGroup("users", help="Manage user accounts.")


@users.command("create")
@click.argument("username")
@click.password_option(help="The new password (asked for when not given).")
def create_user(username: str, password: str) -> None:
    """Create an account."""
    try:
        user = accounts.register(username, password, address=None)
    except SecureStoreError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created user {user.username}.")


@users.command("set-password")
@click.argument("username")
@click.password_option(help="The new password (asked for when not given).")
def set_password(username: str, password: str) -> None:
    """Replace a user's password."""
    user = accounts.find_user(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    try:
        accounts.set_password(user, password)
    except SecureStoreError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Password changed for {user.username}.")


@users.command("list")
def list_users() -> None:
    """List accounts with their file counts and total stored bytes."""
    query = (
        select(
            User.username, func.count(StoredFile.id), func.coalesce(func.sum(StoredFile.size), 0)
        )
        .outerjoin(StoredFile, (StoredFile.owner_id == User.id) & StoredFile.live())
        .group_by(User.id)
        .order_by(User.username)
    )
    for username, count, total in db.session.execute(query):
        click.echo(f"{username}\t{count} files\t{total} bytes")
