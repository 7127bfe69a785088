"""Fixtures for the API: users with personal access tokens, and the Bearer header."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from flask import Flask

from securestore.auth import registration
from securestore.auth import service as accounts
from securestore.tokens import service as tokens
from tests.fixtures.apps import PASSWORD

MakeToken = Callable[..., str]


def bearer(token: str) -> dict[str, str]:
    """The header that authenticates an API request."""
    return {"Authorization": f"Bearer {token}"}


def issue_token(
    app: Flask,
    username: str = "alice",
    *,
    scopes: Iterable[str] = tokens.SCOPES,
    expires_in_days: int | None = None,
) -> str:
    """Create `username` when missing, give them a token, and return its secret."""
    with app.app_context():
        user = accounts.find_user(username) or registration.create_user(username, PASSWORD)
        issued = tokens.create_token(
            user,
            f"{username} test token",
            scopes=scopes,
            expires_in_days=expires_in_days,
            address=None,
        )
        return issued.secret


@pytest.fixture
def make_token(app: Flask) -> MakeToken:
    """`make_token(username, scopes=..., expires_in_days=...)` returns a new token's secret."""

    def make(username: str = "alice", **options: object) -> str:
        return issue_token(app, username, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def token(make_token: MakeToken) -> str:
    """A read-write token of `alice`."""
    return make_token("alice")
