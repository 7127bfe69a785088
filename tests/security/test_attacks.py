"""The attack suite: each test attacks the running app through HTTP, as an attacker would.

Every test names the OWASP ASVS 4.0.3 requirement it proves in its docstring; docs/security.md
lists the same controls.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from securestore import create_app
from securestore.auth import passwords
from securestore.auth.models import User
from securestore.auth.views import safe_next_path
from securestore.errors import ValidationError
from securestore.extensions import db
from securestore.files.models import FileVersion, StoredFile
from securestore.files.naming import clean_filename, numbered_name, object_key
from securestore.tokens.models import PersonalAccessToken
from tests.api.conftest import bearer, issue_token
from tests.fixtures.apps import FAST_HASH_METHOD, PASSWORD
from tests.fixtures.forms import AuthActions, csrf_token, upload
from tests.fixtures.s3 import BACKUP, PRIMARY, bucket_keys

WRONG = "wrong password, surely"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(params=["database", "redis"])
def throttle_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> Iterator[None]:
    """Run a test on the database throttle and on Redis (under a key prefix of its own)."""
    if request.param == "redis":
        url = redis_url()
        prefix = f"securestore-test-{uuid.uuid4().hex}:"
        app_config.update(REDIS_URL=url, REDIS_KEY_PREFIX=prefix)
        yield
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
    else:
        yield


def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set (CI sets it to the machine's Redis)")
    return url


def failed_logins(auth: AuthActions, count: int, username: str = "alice") -> list[int]:
    return [auth.login(username, WRONG).status_code for _ in range(count)]


def logged_in(app: Flask, username: str) -> tuple[FlaskClient, AuthActions]:
    client = app.test_client()
    actions = AuthActions(client)
    actions.signed_up(username)
    return client, actions


# --- Brute force (ASVS 2.2.1) -------------------------------------------------------------


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=3, LOGIN_ADDRESS_LIMIT=100)
@pytest.mark.usefixtures("throttle_config")
def test_brute_force_on_one_account_is_throttled(auth: AuthActions) -> None:
    """ASVS 2.2.1: failed logins per account are limited; the answer says so, with Retry-After."""
    auth.signed_up("alice").logout()
    assert failed_logins(auth, 3) == [401, 401, 401]
    response = auth.login("alice", WRONG)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 900
    page = response.get_data(as_text=True)
    assert "you are being throttled" in page
    assert "Wrong username or password" not in page


def without_csrf_token(page: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page)


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=3, LOGIN_ADDRESS_LIMIT=100)
@pytest.mark.usefixtures("throttle_config")
def test_right_password_during_lockout_does_not_reveal_success(
    client: FlaskClient, auth: AuthActions
) -> None:
    """ASVS 2.2.1: during a lockout the right password gets the same 429 as a wrong one."""
    auth.signed_up("alice").logout()
    failed_logins(auth, 3)
    wrong, right = auth.login("alice", WRONG), auth.login("alice", PASSWORD)
    assert wrong.status_code == right.status_code == 429
    # The same page but for the form's CSRF token, whose signature holds the second it was made.
    assert without_csrf_token(wrong.get_data(as_text=True)) == without_csrf_token(
        right.get_data(as_text=True)
    )
    assert client.get("/files/").status_code == 302


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=100, LOGIN_ADDRESS_LIMIT=4)
@pytest.mark.usefixtures("throttle_config")
def test_one_address_spraying_many_accounts_is_throttled(auth: AuthActions) -> None:
    """ASVS 2.2.1: failures from one client address are limited across accounts."""
    statuses = [auth.login(f"user{n}", WRONG).status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=3, LOGIN_ADDRESS_LIMIT=100)
@pytest.mark.usefixtures("throttle_config")
def test_successful_login_resets_the_account_count(auth: AuthActions) -> None:
    """ASVS 2.2.1: a real user who mistyped twice is not locked out by a third slip."""
    auth.signed_up("alice").logout()
    failed_logins(auth, 2)
    assert auth.login("alice").status_code == 302
    auth.logout()
    assert failed_logins(auth, 2) == [401, 401]


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=4, LOGIN_ADDRESS_LIMIT=100)
@pytest.mark.usefixtures("throttle_config")
def test_throttle_is_shared_between_app_instances(app: Flask, app_config: dict[str, Any]) -> None:
    """ASVS 2.2.1: counts live in the database or Redis, so every worker/instance sees them."""
    AuthActions(app.test_client()).signed_up("alice")
    other_instance = create_app(app_config)
    first, second = AuthActions(app.test_client()), AuthActions(other_instance.test_client())
    assert failed_logins(first, 2) + failed_logins(second, 2) == [401] * 4
    assert first.login().status_code == 429
    assert second.login().status_code == 429
    with other_instance.app_context():
        db.engine.dispose()


# --- Enumeration (ASVS 2.2.1; ASVS 5.0 6.3.8) -----------------------------------------------


def test_unknown_user_and_wrong_password_get_identical_answers(auth: AuthActions) -> None:
    """ASVS 2.2.1: same status and page for an unknown user and a wrong password."""
    auth.signed_up("alice").logout()
    unknown, wrong = auth.login("nobody", WRONG), auth.login("alice", WRONG)
    assert unknown.status_code == wrong.status_code == 401

    def page(response: Any) -> str:
        return re.sub(r'name="csrf_token"[^>]*>', "", response.get_data(as_text=True))

    assert page(unknown).replace("nobody", "alice") == page(wrong)


def test_unknown_user_costs_the_same_hashing_work(app: Flask, auth: AuthActions) -> None:
    """ASVS 2.2.1: an unknown user runs one hash check with the configured method (timing)."""
    auth.signed_up("alice").logout()
    checked: list[str] = []
    real = passwords.check_password_hash

    def spy(stored: str, password: str) -> bool:
        checked.append(stored.split("$", 1)[0])
        return real(stored, password)

    with mock.patch.object(passwords, "check_password_hash", spy):
        auth.login("nobody", WRONG)
        auth.login("alice", WRONG)
    assert checked == [FAST_HASH_METHOD, FAST_HASH_METHOD]


# --- Sessions (ASVS V3) ---------------------------------------------------------------------


def session_cookie(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def test_session_cookie_replayed_after_logout_is_refused(app: Flask, auth: AuthActions) -> None:
    """ASVS 3.3.1: logout invalidates the session server-side; a copied cookie is worthless."""
    auth.signed_up("alice")
    stolen = session_cookie(app, auth.client)
    auth.logout()
    attacker = app.test_client()
    attacker.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    response = attacker.get("/files/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def change_password(client: FlaskClient, current: str, new: str) -> Any:
    return client.post(
        "/auth/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_new_password": new,
            "csrf_token": csrf_token(client, "/auth/password"),
        },
    )


def test_password_change_ends_every_other_session(app: Flask, auth: AuthActions) -> None:
    """ASVS 3.3.3, 3.7.1: changing the password (current one asked) logs out other sessions."""
    auth.signed_up("alice")
    other = app.test_client()
    AuthActions(other).login()
    response = change_password(auth.client, PASSWORD, "a brand new passphrase")
    assert response.status_code == 303
    assert auth.client.get("/files/").status_code == 200
    assert other.get("/files/").status_code == 302


def test_password_change_needs_the_current_password(auth: AuthActions) -> None:
    """ASVS 3.7.1: a hijacked session alone cannot change the password."""
    auth.signed_up("alice")
    response = change_password(auth.client, WRONG, "a brand new passphrase")
    assert response.status_code == 401
    assert "current password is not right" in response.get_data(as_text=True)
    auth.logout()
    assert auth.login().status_code == 302


def test_login_replaces_a_planted_session(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """ASVS 3.2.1: login starts a new session; nothing an attacker planted before survives."""
    auth.signed_up("alice").logout()
    with client.session_transaction() as planted:
        planted["planted"] = "by the attacker"
    before = session_cookie(app, client)
    auth.login()
    assert session_cookie(app, client) != before
    with client.session_transaction() as session:
        assert "planted" not in session
    attacker = app.test_client()
    attacker.set_cookie(app.config["SESSION_COOKIE_NAME"], before)
    assert attacker.get("/files/").status_code == 302


@pytest.mark.parametrize("stamp", ["seen_at", "started_at"])
@pytest.mark.config(SESSION_IDLE_MINUTES=30, SESSION_LIFETIME_HOURS=12)
def test_idle_and_old_sessions_expire(client: FlaskClient, auth: AuthActions, stamp: str) -> None:
    """ASVS 3.3.2: sessions end after the idle timeout and after the absolute lifetime."""
    auth.signed_up("alice")
    with client.session_transaction() as session:
        session[stamp] -= 13 * 3600
    response = client.get("/files/")
    assert response.status_code == 302
    assert "Your session has expired" in client.get("/auth/login").get_data(as_text=True)


def test_active_session_stays_logged_in(client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 3.3.2: a session in use within both limits keeps working."""
    auth.signed_up("alice")
    with client.session_transaction() as session:
        session["seen_at"] -= 60
        session["started_at"] -= 3600
    assert client.get("/files/").status_code == 200


@pytest.mark.parametrize(
    ("secure", "name", "flags"),
    [
        (True, "__Host-session", ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"]),
        (False, "session", ["HttpOnly", "SameSite=Lax", "Path=/"]),
    ],
)
def test_session_cookie_flags(
    app_config: dict[str, Any], s3: Any, secure: bool, name: str, flags: list[str]
) -> None:
    """ASVS 3.4.1-3.4.5: HttpOnly, SameSite=Lax; Secure and the __Host- prefix under HTTPS."""
    from securestore.config import cookie_settings

    app = create_app({**app_config, **cookie_settings(secure)})
    response = AuthActions(app.test_client()).register("alice")
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    for flag in flags:
        assert flag in cookie
    assert ("Secure" in cookie) is secure
    assert "Domain=" not in cookie
    with app.app_context():
        db.engine.dispose()


# --- CSRF and IDOR on every route (ASVS 4.2.2, 4.2.1) ----------------------------------------


def routes(app: Flask, methods: set[str]) -> list[tuple[str, str, list[str]]]:
    """Every (rule, method, argument names) the app answers, for the given methods."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & methods):
            found.append((rule.rule, method, sorted(rule.arguments)))
    return found


# A value for every route argument; tests replace the ids they own. An invitation token is a
# capability, not an object of anyone's: the sweeps try one that does not exist.
ARGUMENTS: dict[str, int | str] = {
    "file_id": 1,
    "token_id": 1,
    "user_id": 1,
    "invitation_id": 1,
    "share_id": 1,
    "folder_id": 1,
    "version_id": 1,
    "upload_id": 1,
    "token": "no-such-invitation-or-share-link",
}


# Valid bodies of the API routes that parse JSON before they look the id up.
JSON_BODIES: dict[str, Any] = {"/api/v1/uploads/<id:upload_id>/parts": {"part_numbers": [1]}}


def build(rule: str, ids: dict[str, int | str]) -> str:
    """Fill a rule's arguments by name; an argument with no id here fails the test loudly."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule)


def test_every_state_changing_route_refuses_a_forged_request(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    """ASVS 4.2.2: every POST/PUT/PATCH/DELETE without the CSRF token is refused, no change."""
    auth.signed_up("alice")
    upload(client, ("keep.txt", b"keep"))
    with app.app_context():
        file_id = db.session.scalar(db.select(StoredFile.id))
    targets = routes(app, STATE_CHANGING)
    assert {("/auth/logout", "POST"), ("/files/upload", "POST")} <= {(r, m) for r, m, _ in targets}
    for rule, method, _ in targets:
        response = client.open(
            build(rule, {**ARGUMENTS, "file_id": file_id}), method=method, data={"x": "1"}
        )
        # The API takes only bearer tokens: a cross-site request riding on the cookie gets 401.
        refused = (401,) if rule.startswith("/api/") else (400, 403)
        assert response.status_code in refused, (rule, method, response.status_code)
    assert bucket_keys(s3, PRIMARY) == ["alice/keep.txt"]
    assert client.get("/files/").status_code == 200  # still logged in: logout was refused too


def test_no_route_with_an_id_serves_another_users_object(app: Flask, s3: Any) -> None:
    """ASVS 4.2.1, 4.1.2: every route taking an id answers 404 for another user's object."""
    alice, _ = logged_in(app, "alice")
    upload(alice, ("secret.txt", b"alice's secret"))
    alice_token = issue_token(app, "alice")
    with app.app_context():
        file_id = db.session.scalar(db.select(StoredFile.id))
    shared = alice.post(
        "/api/v1/shares", json={"file_id": file_id}, headers=bearer(alice_token)
    ).get_json()
    folder = alice.post(
        "/api/v1/folders", json={"name": "private"}, headers=bearer(alice_token)
    ).get_json()
    alice.post(  # a second content of secret.txt: the first becomes a version
        "/api/v1/files?name=secret.txt&on_conflict=replace",
        data=b"alice's secret, edited",
        content_type="application/octet-stream",
        headers=bearer(alice_token),
    )
    pending = alice.post(
        "/api/v1/uploads", json={"name": "big.bin", "size": 1}, headers=bearer(alice_token)
    ).get_json()
    with app.app_context():
        ids = {
            **ARGUMENTS,
            "file_id": file_id,
            "share_id": shared["id"],
            "folder_id": folder["id"],
            "version_id": db.session.scalar(db.select(FileVersion.id)),
            "upload_id": pending["id"],
            "token_id": db.session.scalar(db.select(PersonalAccessToken.id)),
            "user_id": db.session.scalar(db.select(User.id).where(User.username == "alice")),
        }
    mallory, _ = logged_in(app, "mallory")
    targets = [t for t in routes(app, {"GET", "POST", "PUT", "PATCH", "DELETE"}) if t[2]]
    assert {r for r, _, _ in targets} >= {"/files/<id:file_id>/download"}
    token = csrf_token(mallory, "/files/")
    # Mallory holds a session for the pages and a token of her own for the API.
    headers = {"X-CSRFToken": token, **bearer(issue_token(app, "mallory"))}
    for rule, method, _ in targets:
        # A route whose JSON body is checked before the id gets a valid one, so the id decides.
        body = (
            {"json": JSON_BODIES[rule]} if rule in JSON_BODIES else {"data": {"csrf_token": token}}
        )
        response = mallory.open(build(rule, ids), method=method, headers=headers, **body)
        assert response.status_code == 404, (rule, method, response.status_code)
        assert b"alice's secret" not in response.get_data()
    assert [key for key in bucket_keys(s3, PRIMARY) if key.startswith("alice/")] == [
        "alice/secret.txt"
    ]
    assert alice.get(f"/files/{ids['file_id']}/download").get_data() == b"alice's secret, edited"
    assert alice.get("/api/v1/folders", headers=bearer(alice_token)).get_json()["items"] == [folder]
    assert alice.get("/api/v1/files", headers=bearer(alice_token)).status_code == 200
    listed = alice.get("/api/v1/shares", headers=bearer(alice_token)).get_json()["items"]
    assert [link["id"] for link in listed] == [shared["id"]]  # not revoked by mallory
    still = alice.get(f"/api/v1/uploads/{pending['id']}", headers=bearer(alice_token))
    assert still.status_code == 200  # not cancelled or completed by mallory


# --- Redirects (ASVS 5.1.5) -----------------------------------------------------------------


REDIRECT_ATTACKS = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


def test_login_next_never_leaves_the_site(auth: AuthActions) -> None:
    """ASVS 5.1.5: `next` redirects only to a path on this site."""
    auth.signed_up("alice").logout()
    for target in REDIRECT_ATTACKS:
        assert auth.login(next_path=target).headers["Location"] == "/files/", target
        auth.logout()


@given(st.text())
def test_safe_next_path_only_returns_same_site_paths(target: str) -> None:
    """ASVS 5.1.5: whatever the input, what comes back stays on this origin in a browser."""
    result = safe_next_path(target)
    if result is not None:
        # Browsers drop tabs and newlines and read "\" as "/": none may make a "//host".
        seen = re.sub(r"[\t\n\r]", "", result).replace("\\", "/")
        assert seen.startswith("/")
        assert not seen.startswith("//")


# --- XSS and content (ASVS 5.3.3, 14.4.3, 12.5.2) ----------------------------------------------

XSS_NAME = "<svg onload=alert(1)><img src=x onerror=alert('x')>.html"


def test_filenames_are_rendered_escaped(client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 5.3.3: a file name full of markup is shown as text, in the list and the flash."""
    auth.signed_up("alice")
    response = upload(client, (XSS_NAME, b"<script>alert(1)</script>"))
    assert response.status_code == 303
    page = client.get("/files/").get_data(as_text=True)
    assert "<svg onload" not in page
    assert "<img src=x" not in page
    assert "&lt;svg onload=alert(1)&gt;&lt;img src=x onerror=alert(&#39;x&#39;)&gt;.html" in page


def test_usernames_with_markup_are_refused_and_echoed_escaped(auth: AuthActions) -> None:
    """ASVS 5.3.3, 5.1.3: a username with markup is refused and shown back escaped."""
    response = auth.register('"><script>alert(1)</script>')
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;" in page or "&#34;&gt;&lt;script" in page


def test_pages_carry_no_inline_script(client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 14.4.3: every script is a same-origin file, so the CSP needs no 'unsafe-inline'."""
    auth.signed_up("alice")
    for path in ("/auth/login", "/files/", "/auth/account", "/auth/activity", "/auth/2fa/setup"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"\son[a-z]+=", page), path
        assert "style=" not in page, path


def test_downloads_cannot_run_in_the_apps_origin(client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 12.5.2, 14.4.2: HTML uploads come back as sandboxed, nosniff attachments."""
    auth.signed_up("alice")
    upload(client, ("page.html", b"<script>alert(document.cookie)</script>"))
    response = client.get("/files/1/download")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"


# --- Headers everywhere (ASVS 14.4, 8.2.1) -------------------------------------------------------


def assert_security_headers(response: Any) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp or csp == "sandbox"


def test_every_kind_of_response_carries_the_security_headers(
    client: FlaskClient, auth: AuthActions
) -> None:
    """ASVS 14.4.1-14.4.7, 8.2.1: pages, JSON, errors and downloads all carry the headers."""
    auth.signed_up("alice")
    upload(client, ("a.txt", b"hello"))
    for path, kind in [
        ("/auth/login", "text/html"),
        ("/files/", "text/html"),
        ("/storage/health", "application/json"),
        ("/no/such/page", "text/html"),
        ("/storage/no-such-endpoint", "application/json"),
        ("/files/999/download", "text/html"),
        ("/files/1/download", "text/plain"),
    ]:
        response = client.get(path)
        assert response.mimetype == kind, path
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store", path


def test_html_csp_is_strict(client: FlaskClient) -> None:
    """ASVS 14.4.3: scripts only from this origin, no plugins, no framing, no base override."""
    csp = client.get("/auth/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "object-src 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "default-src 'self'" in csp


@pytest.mark.config(SECURE_COOKIES=False)
def test_no_hsts_on_plain_http_setups(client: FlaskClient) -> None:
    """ASVS 14.4.5: HSTS goes with HTTPS (SECURE_COOKIES); a plain-HTTP dev server omits it."""
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers


# --- Uploads (ASVS 12.1.1, 5.1.3) ---------------------------------------------


@pytest.mark.config(MAX_UPLOAD_BYTES=1024)
def test_oversize_body_split_into_small_files_is_refused_whole(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    """ASVS 12.1.1: small files adding up past MAX_UPLOAD_BYTES get 413; none is kept."""
    auth.signed_up("alice")
    response = upload(client, *[(f"part{n}.bin", b"x" * 300) for n in range(5)])
    assert response.status_code == 413
    assert "1.0 KiB" in response.get_data(as_text=True)
    assert bucket_keys(s3, PRIMARY) == bucket_keys(s3, BACKUP) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(StoredFile.id))) == 0


PART = b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
MALFORMED = {
    "truncated": (PART + b"hello", "multipart/form-data; boundary=XX"),
    "no boundary": (PART + b"hi\r\n--XX--\r\n", "multipart/form-data"),
    "binary garbage": (b"\x00\xff\xfe garbage \r\n--", "multipart/form-data; boundary=XX"),
    "broken part headers": (
        b"--XX\r\nContent-Disposition form-data name=file\r\n\r\nhello\r\n--XX--\r\n",
        "multipart/form-data; boundary=XX",
    ),
    "not multipart": (b'{"file": "a.txt"}', "application/json"),
}


def test_malformed_multipart_gets_a_clear_400_and_stores_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    """ASVS 5.1.3: malformed bodies are refused with a clear message, never a 500."""
    auth.signed_up("alice")
    token = csrf_token(client, "/files/")
    for case, (body, content_type) in MALFORMED.items():
        response = client.post(
            "/files/upload", data=body, content_type=content_type, headers={"X-CSRFToken": token}
        )
        assert 400 <= response.status_code < 500, case
        assert "file" in response.get_data(as_text=True).lower(), case
    assert bucket_keys(s3, PRIMARY) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(StoredFile.id))) == 0


# --- Names can never escape the user's prefix (ASVS 12.3.1, 12.3.2) --------------------------

USERNAMES = st.from_regex(r"[a-z0-9][a-z0-9._-]{2,31}", fullmatch=True)


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=600))
def test_clean_filename_never_yields_a_path(raw: str) -> None:
    """ASVS 12.3.1: no name a user sends survives as a path, a dotfile or an over-long name."""
    try:
        name = clean_filename(raw)
    except ValidationError:
        return
    assert name and "/" not in name and "\\" not in name
    assert not name.startswith(".")
    assert name not in {".", ".."}
    assert len(name.encode()) <= 255
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)


@settings(max_examples=300)
@given(USERNAMES, st.text(min_size=1, max_size=600), st.integers(min_value=2, max_value=10**6))
def test_object_keys_stay_under_the_owners_prefix(username: str, raw: str, number: int) -> None:
    """ASVS 12.3.2, 4.2.1: every key built from any name sits directly under `<username>/`."""
    try:
        name = clean_filename(raw)
    except ValidationError:
        return
    for candidate in (name, numbered_name(name, number)):
        key = object_key(username, candidate)
        assert key.startswith(username + "/")
        assert key.count("/") == 1
        assert posixpath.normpath(key) == key
        assert posixpath.dirname(key) == username


def test_audit_log_line_is_structured(
    client: FlaskClient, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    """ASVS 7.1.3, 7.1.1: security events go to the log as JSON, without any password."""
    with caplog.at_level("INFO", logger="securestore.audit"):
        auth.signed_up("alice").logout()
        auth.login("alice", WRONG)
    lines = [json.loads(r.getMessage().removeprefix("audit ")) for r in caplog.records]
    assert [(e["event"], e["outcome"]) for e in lines] == [
        ("register", "ok"),
        ("logout", "ok"),
        ("login", "failed"),
    ]
    assert all(e["username"] == "alice" and e["client_address"] for e in lines)
    assert WRONG not in caplog.text and PASSWORD not in caplog.text
