"""Personal access tokens: hashing, expiry, revocation, the CLI and the settings page."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from securestore.auth import registration
from securestore.auth import service as accounts
from securestore.db_types import utcnow
from securestore.errors import NotFoundError, TokenError, ValidationError
from securestore.extensions import db
from securestore.tokens import service
from securestore.tokens.models import PersonalAccessToken
from tests.api.conftest import bearer, issue_token
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions, csrf_token

TOKEN_SHAPE = re.compile(r"sst_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


def stored_tokens(app: Flask) -> list[PersonalAccessToken]:
    with app.app_context():
        return list(db.session.scalars(db.select(PersonalAccessToken)))


def test_token_is_stored_only_as_a_hash_of_its_secret(app: Flask) -> None:
    secret = issue_token(app, "alice")
    assert TOKEN_SHAPE.fullmatch(secret)
    (record,) = stored_tokens(app)
    assert record.selector == secret[4:20]
    assert record.secret_hash == hashlib.sha256(secret[21:].encode()).hexdigest()
    assert secret[21:] not in repr(record.__dict__)


def test_authenticate_accepts_the_secret_and_records_last_use(app: Flask) -> None:
    secret = issue_token(app, "alice", scopes=["read"])
    with app.app_context():
        record = service.authenticate(secret)
        assert record.user.username == "alice"
        assert record.scope_list == ["read"]
        assert record.last_used_at is not None


def test_authenticate_refuses_anything_but_the_exact_token(app: Flask) -> None:
    secret = issue_token(app, "alice")
    last = "A" if secret[-1] != "A" else "B"
    for wrong in [
        secret[:-1] + last,  # right selector, wrong secret
        "sst_" + "0" * 16 + secret[20:],  # unknown selector
        secret.removeprefix("sst_"),
        secret + "x",
        "",
    ]:
        with app.app_context(), pytest.raises(TokenError, match="not valid"):
            service.authenticate(wrong)


def test_expired_and_revoked_tokens_are_refused_with_the_reason(app: Flask) -> None:
    expired = issue_token(app, "alice", expires_in_days=1)
    revoked = issue_token(app, "alice")
    with app.app_context():
        record = service.authenticate(expired)
        record.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        with pytest.raises(TokenError, match="expired"):
            service.authenticate(expired)
        user = accounts.find_user("alice")
        assert user is not None
        service.revoke_token(user, service.authenticate(revoked).id, address=None)
        with pytest.raises(TokenError, match="revoked"):
            service.authenticate(revoked)


def test_revoking_another_users_token_is_not_found(app: Flask) -> None:
    issue_token(app, "alice")
    issue_token(app, "bob")
    with app.app_context():
        bob = accounts.find_user("bob")
        assert bob is not None
        alice_token = db.session.scalar(
            db.select(PersonalAccessToken).where(PersonalAccessToken.name.startswith("alice"))
        )
        with pytest.raises(NotFoundError):
            service.revoke_token(bob, alice_token.id, address=None)
        assert alice_token.revoked_at is None


def test_create_token_rejects_bad_input(app: Flask) -> None:
    cases: list[tuple[str, list[str], int | None, str]] = [
        ("  ", ["read"], None, "Give the token a name"),
        ("x" * 101, ["read"], None, "at most 100"),
        ("ok", [], None, "at least one scope"),
        ("ok", ["admin"], None, "Unknown scope 'admin'"),
        ("ok", ["read"], 0, "1 to 3650 days"),
        ("ok", ["read"], 3651, "1 to 3650 days"),
    ]
    with app.app_context():
        user = registration.create_user("alice", PASSWORD)
        for name, scopes, days, message in cases:
            with pytest.raises(ValidationError, match=message):
                service.create_token(user, name, scopes=scopes, expires_in_days=days, address=None)
    assert stored_tokens(app) == []


def test_cli_create_prints_the_secret_alone_on_the_last_line(
    app: Flask, runner: FlaskCliRunner
) -> None:
    with app.app_context():
        registration.create_user("alice", PASSWORD)
    result = runner.invoke(
        args=[
            "tokens",
            "create",
            "--user",
            "alice",
            "--name",
            "nas backup",
            "--expires",
            "30",
            "--scope",
            "read",
        ]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert TOKEN_SHAPE.fullmatch(secret)
    assert result.stdout.strip() == secret  # the explanation goes to stderr
    with app.app_context():
        record = service.authenticate(secret)
        assert (record.name, record.scope_list) == ("nas backup", ["read"])
        assert record.expires_at is not None
        assert timedelta(days=29) < record.expires_at - utcnow() <= timedelta(days=30)


def test_cli_create_defaults_to_both_scopes_and_no_expiry(
    app: Flask, runner: FlaskCliRunner
) -> None:
    with app.app_context():
        registration.create_user("alice", PASSWORD)
    result = runner.invoke(args=["tokens", "create", "--user", "alice", "--name", "sync"])
    assert result.exit_code == 0, result.output
    (record,) = stored_tokens(app)
    assert (record.scope_list, record.expires_at) == (["read", "write"], None)


def test_cli_create_explains_bad_input(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        registration.create_user("alice", PASSWORD)
    for args, message in [
        (["--user", "nobody", "--name", "x"], "No user named 'nobody'"),
        (["--user", "alice", "--name", "x", "--expires", "0"], "1 to 3650 days"),
        (["--user", "alice", "--name", "x", "--scope", "admin"], "'admin' is not one of"),
    ]:
        result = runner.invoke(args=["tokens", "create", *args])
        assert result.exit_code != 0, args
        assert message in result.output, args
    assert stored_tokens(app) == []


def test_cli_list_and_revoke(app: Flask, runner: FlaskCliRunner) -> None:
    secret = issue_token(app, "alice")
    (record,) = stored_tokens(app)
    listed = runner.invoke(args=["tokens", "list", "--user", "alice"])
    assert listed.exit_code == 0
    assert listed.output.split("\t")[:3] == [str(record.id), "alice test token", "read,write"]
    assert "last used never" in listed.output and listed.output.rstrip().endswith("active")
    revoked = runner.invoke(args=["tokens", "revoke", "--user", "alice", str(record.id)])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(args=["tokens", "list", "--user", "alice"]).output
    with app.app_context(), pytest.raises(TokenError, match="revoked"):
        service.authenticate(secret)


def test_cli_revoke_of_another_users_token_fails(app: Flask, runner: FlaskCliRunner) -> None:
    issue_token(app, "alice")
    issue_token(app, "bob")
    alice_id = next(t.id for t in stored_tokens(app) if t.name.startswith("alice"))
    result = runner.invoke(args=["tokens", "revoke", "--user", "bob", str(alice_id)])
    assert result.exit_code != 0
    assert "No such token" in result.output


def test_settings_page_needs_login(client: FlaskClient) -> None:
    response = client.get("/settings/tokens/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_settings_page_creates_a_token_shown_once(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    page = client.get("/settings/tokens/").get_data(as_text=True)
    assert "No tokens yet" in page
    response = client.post(
        "/settings/tokens/",
        data={
            "name": "laptop sync",
            "scopes": ["read"],
            "expires": "30",
            "csrf_token": csrf_token(client, "/settings/tokens/"),
        },
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    match = TOKEN_SHAPE.search(response.get_data(as_text=True))
    assert match
    me = client.get("/api/v1/me", headers=bearer(match.group())).json
    assert me is not None
    assert (me["username"], me["token"]["name"]) == ("alice", "laptop sync")
    assert me["token"]["scopes"] == ["read"] and me["token"]["expires_at"]
    again = client.get("/settings/tokens/").get_data(as_text=True)
    assert "laptop sync" in again
    assert match.group() not in again
    assert f"sst_{match.group()[4:20]}_…" in again


def test_settings_page_refuses_a_form_without_scope_or_csrf(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    no_scope = client.post(
        "/settings/tokens/",
        data={"name": "x", "expires": "30", "csrf_token": csrf_token(client, "/settings/tokens/")},
    )
    assert no_scope.status_code == 400
    assert "Choose at least one scope." in no_scope.get_data(as_text=True)
    no_csrf = client.post("/settings/tokens/", data={"name": "x", "scopes": ["read"]})
    assert no_csrf.status_code == 400
    assert stored_tokens(app) == []


def test_settings_page_revokes_only_own_tokens(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    bob_secret = issue_token(app, "bob")
    auth.signed_up("alice")
    alice_secret = issue_token(app, "alice")
    ids = {t.name.split()[0]: t.id for t in stored_tokens(app)}
    token = csrf_token(client, "/settings/tokens/")
    foreign = client.post(f"/settings/tokens/{ids['bob']}/revoke", data={"csrf_token": token})
    assert foreign.status_code == 404
    own = client.post(f"/settings/tokens/{ids['alice']}/revoke", data={"csrf_token": token})
    assert own.status_code == 303
    assert client.get("/api/v1/me", headers=bearer(alice_secret)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(bob_secret)).status_code == 200
    assert "Revoked" in client.get("/settings/tokens/").get_data(as_text=True)


def _change_password(client: FlaskClient, *, revoke: bool) -> Any:
    fields = {
        "current_password": PASSWORD,
        "new_password": "another long enough password",
        "confirm_new_password": "another long enough password",
        "csrf_token": csrf_token(client, "/auth/password"),
    }
    if revoke:
        fields["revoke_tokens"] = "y"
    return client.post("/auth/password", data=fields, follow_redirects=True)


def test_a_password_change_revokes_the_tokens_when_asked_and_says_so(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    form = client.get("/auth/password").get_data(as_text=True)
    (checkbox,) = re.findall(r"<input[^>]*revoke_tokens[^>]*>", form)
    assert "checked" in checkbox  # on by default
    kept, revoked = issue_token(app, "alice"), issue_token(app, "alice")
    page = _change_password(client, revoke=True).get_data(as_text=True)
    assert "2 access tokens revoked" in page
    for secret in (kept, revoked):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    assert "logged out" in page


def test_a_password_change_can_keep_the_tokens(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    secret = issue_token(app, "alice")
    page = _change_password(client, revoke=False).get_data(as_text=True)
    assert "revoked" not in page
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200


@pytest.mark.config(TOKEN_MAX_DAYS=30)
def test_a_maximum_lifetime_applies_to_every_new_token(
    app: Flask, client: FlaskClient, auth: AuthActions, runner: FlaskCliRunner
) -> None:
    auth.signed_up("alice")
    page = client.get("/settings/tokens/").get_data(as_text=True)
    assert "Never" not in page and "1 year" not in page
    made = runner.invoke(args=["tokens", "create", "--user", "alice", "--name", "cli"])
    assert made.exit_code == 0, made.output
    with app.app_context():
        (record,) = stored_tokens(app)
        assert record.expires_at is not None
        assert timedelta(days=29) < record.expires_at - utcnow() <= timedelta(days=30)
    refused = runner.invoke(
        args=["tokens", "create", "--user", "alice", "--name", "long", "--expires", "90"]
    )
    assert refused.exit_code != 0 and "1 to 30 days" in refused.output
