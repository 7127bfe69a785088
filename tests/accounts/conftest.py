"""Accounts made the way operators make them, and browsers logged in as them."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from securestore.accounts import service
from securestore.auth.models import User
from securestore.extensions import db
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions


def make_account(app: Flask, username: str, *, admin: bool = False) -> None:
    with app.app_context():
        service.create_account(username, PASSWORD, admin=admin, actor=None, address=None)


def logged_in(app: Flask, username: str, *, admin: bool = False) -> FlaskClient:
    """A new browser logged in as a new account."""
    make_account(app, username, admin=admin)
    client = app.test_client()
    assert AuthActions(client).login(username).status_code == 302
    return client


def account(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        assert user is not None
        db.session.expunge(user)
        return user
