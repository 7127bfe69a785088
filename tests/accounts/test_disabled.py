"""A disabled account: no login, its sessions and tokens stop at their next request."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner

from securestore.audit.models import AuditEvent
from securestore.extensions import db
from tests.api.conftest import bearer, issue_token
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions


def cli(runner: FlaskCliRunner, *args: str) -> None:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output


def test_a_disabled_users_session_and_token_are_refused_on_their_next_request(
    app: Flask, runner: FlaskCliRunner, s3: Any
) -> None:
    browser = app.test_client()
    AuthActions(browser).signed_up("bob")
    token = issue_token(app, "bob")
    api = app.test_client()
    assert browser.get("/files/").status_code == 200
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200
    cli(runner, "users", "disable", "bob")
    assert browser.get("/files/").headers["Location"].startswith("/auth/login")
    refused = api.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_token"
    assert "disabled" in refused.get_json()["error"]["message"]
    cli(runner, "users", "enable", "bob")
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200  # refused, not revoked
    assert browser.get("/files/").status_code == 302  # but the ended session stays ended


def test_only_the_right_password_learns_that_an_account_is_disabled(
    app: Flask, runner: FlaskCliRunner
) -> None:
    cli(runner, "users", "create", "bob", "--password", PASSWORD)
    cli(runner, "users", "disable", "bob")
    auth = AuthActions(app.test_client())
    right = auth.login("bob", PASSWORD)
    assert right.status_code == 403
    assert "This account is disabled" in right.get_data(as_text=True)
    wrong = auth.login("bob", PASSWORD + "x").get_data(as_text=True)
    unknown = auth.login("nobody", PASSWORD).get_data(as_text=True)
    assert "disabled" not in wrong
    assert "Wrong username or password." in wrong
    assert "Wrong username or password." in unknown


def test_the_owner_sees_who_disabled_the_account_in_their_activity(
    app: Flask, runner: FlaskCliRunner
) -> None:
    cli(runner, "users", "create", "bob", "--password", PASSWORD)
    cli(runner, "users", "disable", "bob")
    cli(runner, "users", "enable", "bob")
    browser = app.test_client()
    AuthActions(browser).login("bob")
    page = browser.get("/auth/activity").get_data(as_text=True)
    assert "account disabled by the CLI" in page
    assert "account enabled again by the CLI" in page
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent.event)).all()
    assert events.count("admin_action") == 3  # created, disabled, enabled
