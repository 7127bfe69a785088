"""`flask --app securestore tokens ...`: personal access tokens for scripts and admins."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from securestore.auth import service as accounts
from securestore.auth.models import User
from securestore.errors import SecureStoreError
from securestore.formatting import exact_time
from securestore.tokens import service

tokens = AppGroup("tokens", help="Manage personal access tokens for the API.")


def _user(username: str) -> User:
    user = accounts.find_user(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user


def _when(moment: datetime | None, missing: str) -> str:
    return exact_time(moment) if moment else missing


@tokens.command("create")
@click.option("--user", "username", required=True, help="The account the token acts for.")
@click.option("--name", required=True, help="A label: the script or machine that uses it.")
@click.option("--expires", type=int, help="Days until it expires (default: never).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(service.SCOPES),
    help="read, write; repeat for both (default: both).",
)
def create(username: str, name: str, expires: int | None, scopes: tuple[str, ...]) -> None:
    """Create a token and print its secret, alone on the last line, exactly once."""
    try:
        issued = service.create_token(
            _user(username),
            name,
            scopes=scopes or service.SCOPES,
            expires_in_days=expires,
            address=None,
        )
    except SecureStoreError as error:
        raise click.ClickException(error.message) from None
    record = issued.record
    click.echo(
        f"Created token {record.id} {record.name!r} for {username} "
        f"(scopes: {record.scopes}; expires: {_when(record.expires_at, 'never')}). "
        "Store the secret now: it is not shown again.",
        err=True,
    )
    click.echo(issued.secret)


@tokens.command("list")
@click.option("--user", "username", required=True, help="Whose tokens to list.")
def list_(username: str) -> None:
    """List a user's tokens: id, label, scopes, created, last used, expiry and state."""
    for record in service.list_tokens(_user(username)):
        state = "revoked" if record.revoked_at else "active"
        click.echo(
            "\t".join(
                [
                    str(record.id),
                    record.name,
                    record.scopes.replace(" ", ","),
                    f"created {_when(record.created_at, '')}",
                    f"last used {_when(record.last_used_at, 'never')}",
                    f"expires {_when(record.expires_at, 'never')}",
                    state,
                ]
            )
        )


@tokens.command("revoke")
@click.option("--user", "username", required=True, help="The token's owner.")
@click.argument("token_id", type=int)
def revoke(username: str, token_id: int) -> None:
    """Revoke a token by the id `tokens list` shows; it stops working at once."""
    try:
        record = service.revoke_token(_user(username), token_id, address=None)
    except SecureStoreError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Revoked token {record.id} {record.name!r}.")
