"""REGISTRATION=open|invite|closed, and invitation links that make exactly one account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from securestore.auth import invitations
from securestore.auth.models import Invitation, User
from securestore.db_types import utcnow
from securestore.errors import GoneError
from securestore.extensions import db
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions, csrf_token


def new_invitation(runner: FlaskCliRunner, *args: str) -> str:
    """Create an invitation with the CLI and return its path."""
    result = runner.invoke(args=["invites", "create", *args])
    assert result.exit_code == 0, result.output
    url = result.output.splitlines()[-1]
    return "/" + url.split("/", 3)[3]


def register_at(client: FlaskClient, path: str, username: str) -> Any:
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(
        path,
        data={
            "username": username,
            "password": PASSWORD,
            "confirm_password": PASSWORD,
            "csrf_token": csrf_token(client, path),
        },
    )


def usernames(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(db.select(User.username).order_by(User.username)))


def test_open_registration_is_the_default(app: Flask, auth: AuthActions) -> None:
    assert app.config["REGISTRATION"] == "open"
    assert auth.register("alice").status_code == 302
    assert usernames(app) == ["alice"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [("invite", "by invitation only"), ("closed", "Registration is closed")],
)
def test_without_open_registration_the_form_answers_403_and_stores_nothing(
    app: Flask, client: FlaskClient, mode: str, message: str
) -> None:
    app.config["REGISTRATION"] = mode
    page = client.get("/auth/register")
    assert page.status_code == 403
    assert message in page.get_data(as_text=True)
    login_page = client.get("/auth/login").get_data(as_text=True)
    assert 'href="/auth/register"' not in login_page
    token = csrf_token(client, "/auth/login")
    posted = client.post(
        "/auth/register",
        data={
            "username": "mallory",
            "password": PASSWORD,
            "confirm_password": PASSWORD,
            "csrf_token": token,
        },
    )
    assert posted.status_code == 403
    assert usernames(app) == []


@pytest.mark.config(REGISTRATION="invite", PUBLIC_URL="http://127.0.0.1:5000")
def test_an_invitation_registers_exactly_one_account(app: Flask, runner: FlaskCliRunner) -> None:
    path = new_invitation(runner, "--note", "carol")
    first = app.test_client()
    assert register_at(first, path, "carol").status_code == 302
    assert first.get("/files/").status_code == 200  # logged straight in
    second = app.test_client()
    used = second.get(path)
    assert used.status_code == 410
    assert "already been used" in used.get_data(as_text=True)
    assert usernames(app) == ["carol"]
    with app.app_context():
        record = db.session.scalars(db.select(Invitation)).one()
        assert record.used_by_id == db.session.scalar(db.select(User.id))


@pytest.mark.config(REGISTRATION="invite", PUBLIC_URL="http://127.0.0.1:5000")
def test_an_invitation_used_twice_in_flight_makes_one_account(
    app: Flask, runner: FlaskCliRunner
) -> None:
    path = new_invitation(runner)
    token = path.rsplit("/", 1)[1]
    # Both forms are open before either is sent: the second finds it used at submit time.
    first, second = app.test_client(), app.test_client()
    forms = [(client, csrf_token(client, path)) for client in (first, second)]
    answers = [
        client.post(
            path,
            data={
                "username": name,
                "password": PASSWORD,
                "confirm_password": PASSWORD,
                "csrf_token": csrf,
            },
        )
        for (client, csrf), name in zip(forms, ["one", "two"], strict=True)
    ]
    assert [answer.status_code for answer in answers] == [302, 410]
    assert usernames(app) == ["one"]
    with app.app_context(), pytest.raises(GoneError, match="already been used"):
        invitations.usable(token)


@pytest.mark.config(REGISTRATION="invite", PUBLIC_URL="http://127.0.0.1:5000")
def test_expired_revoked_and_unknown_invitations_say_so(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    expired, revoked = new_invitation(runner), new_invitation(runner)
    with app.app_context():
        first, second = db.session.scalars(db.select(Invitation).order_by(Invitation.id))
        first.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        revoked_id = second.id
    runner.invoke(args=["invites", "revoke", str(revoked_id)])
    gone = client.get(expired)
    assert gone.status_code == 410
    assert "expired" in gone.get_data(as_text=True)
    assert client.get(revoked).status_code == 410
    assert "withdrawn" in client.get(revoked).get_data(as_text=True)
    unknown = client.get("/auth/invite/" + "A" * 43)
    assert unknown.status_code == 404
    assert register_at(client, expired, "late").status_code == 410
    assert usernames(app) == []


@pytest.mark.config(REGISTRATION="closed")
def test_closed_registration_leaves_accounts_to_the_cli(
    app: Flask, runner: FlaskCliRunner, auth: AuthActions
) -> None:
    assert runner.invoke(args=["users", "create", "dave", "--password", PASSWORD]).exit_code == 0
    assert auth.login("dave").status_code == 302
