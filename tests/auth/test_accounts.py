"""Registration, login and logout rules, through the real forms."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from securestore.auth.models import User
from securestore.auth.views import safe_next_path
from securestore.extensions import db
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions, csrf_token


def test_register_logs_the_new_user_in(client: FlaskClient, auth: AuthActions) -> None:
    response = auth.register("alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/files/"
    assert "alice" in client.get("/files/").get_data(as_text=True)


def test_password_is_stored_hashed(app: Flask, auth: AuthActions) -> None:
    auth.register("alice")
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert user is not None
        assert PASSWORD not in user.password_hash
        assert user.password_hash.startswith("scrypt:")


@pytest.mark.parametrize(
    ("username", "stored"),
    [("alice", "alice"), ("Bob.Smith", "bob.smith"), ("  carol_1  ", "carol_1"), ("d-9", "d-9")],
)
def test_valid_usernames_are_stored_lowercase(
    app: Flask, auth: AuthActions, username: str, stored: str
) -> None:
    assert auth.register(username).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(User.username)) == stored


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "a" * 33,
        ".alice",
        "-alice",
        "_alice",
        "al ice",
        "al/ice",
        "ali\\ce",
        "álice",
        "ali:ce",
    ],
)
def test_invalid_usernames_are_refused_with_the_rules(auth: AuthActions, username: str) -> None:
    response = auth.register(username)
    assert response.status_code == 400
    assert "3 to 32 characters" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", "at least 12 characters"),
        ("x" * 1025, "x" * 1025, "at most 1024 characters"),
        (PASSWORD, PASSWORD + "!", "The passwords do not match."),
    ],
)
def test_bad_passwords_are_refused(
    client: FlaskClient, password: str, confirm: str, message: str
) -> None:
    response = client.post(
        "/auth/register",
        data={
            "username": "alice",
            "password": password,
            "confirm_password": confirm,
            "csrf_token": csrf_token(client, "/auth/register"),
        },
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_duplicate_username_is_refused_regardless_of_case(app: Flask, auth: AuthActions) -> None:
    auth.register("alice")
    auth.logout()
    response = auth.register("ALICE")
    assert response.status_code == 409
    assert "That username is taken" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_login_with_the_right_password(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice").logout()
    response = auth.login("Alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/files/"


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password!!"), ("nobody", PASSWORD)]
)
def test_wrong_credentials_get_one_message(auth: AuthActions, username: str, password: str) -> None:
    auth.signed_up("alice").logout()
    response = auth.login(username, password)
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("next_path", "expected"),
    [
        ("/files/", "/files/"),
        ("/files/?page=2", "/files/?page=2"),
        ("https://evil.example/", "/files/"),
        ("//evil.example/", "/files/"),
        ("/\\evil.example/", "/files/"),
        ("javascript:alert(1)", "/files/"),
        ("files/", "/files/"),
    ],
)
def test_login_honours_only_same_site_next(
    auth: AuthActions, next_path: str, expected: str
) -> None:
    auth.signed_up("alice").logout()
    response = auth.login(next_path=next_path)
    assert response.headers["Location"] == expected


def test_safe_next_path_refuses_control_characters() -> None:
    assert safe_next_path("/files/\r\nSet-Cookie: x=1") is None


def test_logout_ends_the_session(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice")
    assert auth.logout().status_code == 302
    response = client.get("/files/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_logout_needs_post(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice")
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/files/").status_code == 200


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login"])
def test_forms_without_csrf_token_are_refused(client: FlaskClient, path: str) -> None:
    response = client.post(
        path, data={"username": "alice", "password": PASSWORD, "confirm_password": PASSWORD}
    )
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)


def test_every_form_has_visible_labels(client: FlaskClient) -> None:
    page = client.get("/auth/register").get_data(as_text=True)
    for field in ("username", "password", "confirm_password"):
        assert f'<label class="form-label" for="{field}">' in page


def test_front_page_redirects_by_login_state(client: FlaskClient, auth: AuthActions) -> None:
    assert client.get("/").headers["Location"] == "/auth/login"
    auth.signed_up("alice")
    assert client.get("/").headers["Location"] == "/files/"
