"""Throwaway PostgreSQL databases on a server the caller names (tests and `make loadtest`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


def unreachable(server_url: str, timeout: int = 5) -> str | None:
    """Say why the server cannot be used (None when it answers), without hanging on it."""
    engine = sa.create_engine(server_url, connect_args={"connect_timeout": timeout})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        return str(error.__cause__ or error).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextmanager
def fresh_database(server_url: str, prefix: str = "securestore_test") -> Iterator[str]:
    """Create an empty database on `server_url`'s server, yield its URL, then drop it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
