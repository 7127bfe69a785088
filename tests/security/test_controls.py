"""The security controls one by one: password policy and hashing, the throttle backends,
two-factor login, the audit trail and the settings that configure them.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from securestore import create_app
from securestore.audit.models import AuditEvent
from securestore.auth.models import RecoveryCode, User
from securestore.auth.passwords import common_passwords
from securestore.config import DEFAULT_PASSWORD_HASH_METHOD, ConfigError
from securestore.db_types import utcnow
from securestore.extensions import db
from securestore.files.models import StoredFile
from securestore.throttle.models import ThrottleCounter
from securestore.throttle.service import DatabaseBackend, Limit, RedisBackend, throttle
from tests.fixtures.apps import FAST_HASH_METHOD, PASSWORD, TEST_SECRET_KEY, base_config
from tests.fixtures.forms import AuthActions, csrf_token, upload
from tests.fixtures.two_factor import enable_two_factor, next_code, second_factor
from tests.security.test_attacks import WRONG, redis_url


def user_row(app: Flask, username: str = "alice") -> User:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        assert user is not None
        db.session.expunge(user)
        return user


def events(app: Flask) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))
        return [(e.event, e.outcome, e.detail) for e in rows]


# --- Password policy (ASVS 2.1) -----------------------------------------------------------


WEAK_PASSWORDS = [
    ("alice", "password1234", "commonly used"),
    ("alice", "Password2024!", "commonly used"),
    ("alice", "qwerty123456", "commonly used"),
    ("alice", "  iloveyou!!!!!!  ", "commonly used"),
    ("alice.wonderland", "Alice.Wonderland", "cannot be your username"),
    ("alice.wonderland", "alice.wonderland2024", "cannot be your username"),
    ("alice", "eleven char", "at least 12 characters"),
]
GOOD_PASSWORDS = [
    "correct horse battery staple",
    "пароль-очень-длинный",
    "🔐🔑 emoji are fine 🗝️",
    "x" * 64 + "Y" * 64,
    "tab\tand   spaces  ",
]


def test_weak_passwords_are_refused_with_the_reason(auth: AuthActions) -> None:
    """ASVS 2.1.1, 2.1.7: too short, common or breached, or the username itself."""
    for username, password, message in WEAK_PASSWORDS:
        response = auth.register(username, password)
        assert response.status_code == 400, password
        assert message in response.get_data(as_text=True), password


def test_any_long_password_is_accepted_and_works(auth: AuthActions) -> None:
    """ASVS 2.1.2, 2.1.3, 2.1.4, 2.1.9: any characters, 128+ allowed, not truncated."""
    for number, password in enumerate(GOOD_PASSWORDS):
        username = f"user{number}"
        assert auth.register(username, password).status_code == 302, password
        auth.logout()
        assert auth.login(username, password[:-1]).status_code == 401, password
        assert auth.login(username, password).status_code == 302, password
        auth.logout()


def test_common_password_list_is_shipped_and_sizeable() -> None:
    """ASVS 2.1.7: the list is a package file, read with no network, of thousands of entries."""
    common = common_passwords()
    assert len(common) > 10_000
    assert {"password", "qwerty123456", "iloveyou"} <= common


# --- Hashing (ASVS 2.4) ---------------------------------------------------------------------


@pytest.mark.config(PASSWORD_HASH_METHOD=DEFAULT_PASSWORD_HASH_METHOD)
def test_default_hash_is_scrypt_with_owasp_parameters(app: Flask, auth: AuthActions) -> None:
    """ASVS 2.4.1, 2.4.5: scrypt N=2^15, r=8, p=3, salted, through Werkzeug's method string."""
    assert DEFAULT_PASSWORD_HASH_METHOD == "scrypt:32768:8:3"
    assert auth.register("alice").status_code == 302
    method, salt, digest = user_row(app).password_hash.split("$")
    assert method == "scrypt:32768:8:3"
    assert len(salt) >= 16 and PASSWORD not in digest


def test_older_hashes_are_upgraded_on_login(app: Flask, auth: AuthActions) -> None:
    """ASVS 2.4.1: a hash with outdated parameters is replaced on the next good login."""
    from werkzeug.security import generate_password_hash

    auth.signed_up("alice").logout()
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert user is not None
        user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        db.session.commit()
    auth.login("alice", WRONG)
    assert user_row(app).password_hash.startswith("pbkdf2:sha256:1000$")
    assert auth.login().status_code == 302
    assert user_row(app).password_hash.startswith(FAST_HASH_METHOD + "$")
    auth.logout()
    assert auth.login().status_code == 302


# --- Throttle backends ----------------------------------------------------------------------


@pytest.fixture(params=["database", "redis"])
def backend(request: pytest.FixtureRequest, app: Flask) -> Iterator[Any]:
    if request.param == "database":
        with app.app_context():
            yield DatabaseBackend()
        return
    client = redis.Redis.from_url(redis_url())
    prefix = f"securestore-test-{uuid.uuid4().hex}:"
    yield RedisBackend(client, prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_backend_counts_resets_and_reports_the_window(backend: Any) -> None:
    """ASVS 2.2.1: counts go up per attempt, a refund gives one back, a reset forgets them."""
    assert backend.peek("k") == (0, 0)
    assert [backend.take("k", 600)[0] for _ in range(3)] == [1, 2, 3]
    count, left = backend.peek("k")
    assert count == 3
    assert 0 < left <= 600
    backend.refund("k")
    assert backend.peek("k")[0] == 2
    assert backend.peek("other") == (0, 0)
    backend.reset("k")
    assert backend.peek("k") == (0, 0)


def test_database_windows_expire_and_start_again(app: Flask) -> None:
    """ASVS 2.2.1: once the window has passed, the count starts from one."""
    with app.app_context():
        backend = DatabaseBackend()
        backend.take("k", 600)
        backend.take("k", 600)
        counter = db.session.get(ThrottleCounter, "k")
        assert counter is not None
        counter.window_ends_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert backend.peek("k") == (0, 0)
        assert backend.take("k", 600)[0] == 1
        assert backend.peek("k")[0] == 1


def test_redis_counter_expires_with_its_window() -> None:
    """ASVS 2.2.1: a Redis counter carries the window as its TTL, so it expires by itself."""
    client = redis.Redis.from_url(redis_url())
    prefix = f"securestore-test-{uuid.uuid4().hex}:"
    try:
        RedisBackend(client, prefix).take("k", 1)
        time.sleep(1.2)
        assert RedisBackend(client, prefix).peek("k") == (0, 0)
        assert client.exists(prefix + "k") == 0
    finally:
        client.delete(prefix + "k")
        client.close()


def test_limit_keys_do_not_store_the_subject() -> None:
    """ASVS 7.1.1: throttle keys hold a hash, not a username or an address."""
    key = Limit("login", "alice", 5, 900).key
    assert "alice" not in key
    assert key.startswith("login:")
    assert key != Limit("login", "bob", 5, 900).key


def test_throttle_refuses_past_the_limit_with_the_longest_wait(app: Flask) -> None:
    """ASVS 2.2.1: when several limits are used up, Retry-After is the longest of them, and
    the refused attempt is given back (it was never evaluated)."""
    short, long = Limit("a", "x", 1, 60), Limit("b", "x", 1, 600)
    with app.app_context():
        assert not throttle.take([short, long]).blocked
        verdict = throttle.take([short, long])
        assert throttle.peek(short)[0] == throttle.peek(long)[0] == 1
    assert verdict.blocked
    assert 60 < verdict.retry_after <= 600


# --- Two-factor login (ASVS 2.8, 2.6) ---------------------------------------------------------


def test_two_factor_login_needs_the_code_after_the_password(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """ASVS 2.8.1, 2.8.3: with 2FA on, the password alone does not log in."""
    auth.signed_up("alice")
    totp, codes = enable_two_factor(client)
    assert len(codes) == 10
    auth.logout()
    response = auth.login()
    assert response.headers["Location"] == "/auth/2fa"
    assert client.get("/files/").status_code == 302
    assert second_factor(client, "000000").status_code == 401
    assert second_factor(client, next_code(totp)).headers["Location"] == "/files/"
    assert client.get("/files/").status_code == 200
    assert ("login", "ok", "second factor: authenticator app") in events(app)


def test_totp_code_cannot_be_replayed(client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 2.8.4: a time-based code is accepted once only."""
    auth.signed_up("alice")
    totp, _ = enable_two_factor(client)
    code = next_code(totp)
    auth.logout()
    auth.login()
    assert second_factor(client, code).status_code == 302
    auth.logout()
    auth.login()
    assert second_factor(client, code).status_code == 401


def test_recovery_codes_work_once_each(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 2.6.1, 2.6.2: a recovery code logs in once; only salted hashes are stored."""
    auth.signed_up("alice")
    _, codes = enable_two_factor(client)
    with app.app_context():
        stored = [r.code_hash for r in db.session.scalars(db.select(RecoveryCode))]
    assert len(stored) == 10 and not any(c.replace("-", "") in "".join(stored) for c in codes)
    auth.logout()
    auth.login()
    assert second_factor(client, codes[0].upper()).status_code == 302
    assert "9 recovery codes left" in client.get("/auth/account").get_data(as_text=True)
    auth.logout()
    auth.login()
    assert second_factor(client, codes[0]).status_code == 401


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=3, LOGIN_ADDRESS_LIMIT=100)
def test_second_factor_guessing_is_throttled(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """ASVS 2.2.1: guessing 6-digit codes is throttled like passwords."""
    auth.signed_up("alice")
    totp, _ = enable_two_factor(client)
    auth.logout()
    auth.login()
    assert [second_factor(client, "123456").status_code for _ in range(3)] == [401] * 3
    response = second_factor(client, next_code(totp))
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert client.get("/files/").status_code == 302


def test_second_factor_step_needs_a_password_first(client: FlaskClient) -> None:
    """ASVS 2.8.3: the code page on its own logs nobody in."""
    response = client.get("/auth/2fa")
    assert response.headers["Location"] == "/auth/login"


def test_disabling_two_factor_needs_the_password(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """ASVS 3.7.1: turning 2FA off asks for the password again, and is audited."""
    auth.signed_up("alice")
    enable_two_factor(client)
    token = csrf_token(client, "/auth/account")
    wrong = client.post("/auth/2fa/disable", data={"password": WRONG, "csrf_token": token})
    assert wrong.status_code == 401
    assert user_row(app).totp_secret is not None
    right = client.post("/auth/2fa/disable", data={"password": PASSWORD, "csrf_token": token})
    assert right.status_code == 303
    assert user_row(app).totp_secret is None
    assert [e for e in events(app) if e[0] == "2fa_change"] == [
        ("2fa_change", "ok", "enabled"),
        ("2fa_change", "failed", "wrong password"),
        ("2fa_change", "ok", "disabled"),
    ]
    auth.logout()
    assert auth.login().headers["Location"] == "/files/"


def test_setup_refuses_a_wrong_code(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 2.8.1: 2FA is only switched on once the app proves it holds the secret."""
    auth.signed_up("alice")
    response = client.post(
        "/auth/2fa/setup",
        data={"code": "000000", "csrf_token": csrf_token(client, "/auth/2fa/setup")},
    )
    assert response.status_code == 400
    assert "That code is not right" in response.get_data(as_text=True)
    assert user_row(app).totp_secret is None


# --- Audit trail (ASVS 7.1, 7.2) --------------------------------------------------------------


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=1)
def test_security_events_are_recorded(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    """ASVS 7.1.3, 7.2.1: auth decisions and file access are audited with user and address."""
    auth.signed_up("alice")
    upload(client, ("a.txt", b"a"))
    client.get("/files/1/download")
    client.post("/files/1/delete", data={"csrf_token": csrf_token(client, "/files/")})
    auth.logout()
    auth.login("alice", WRONG)
    auth.login("alice", WRONG)
    assert [(event, outcome) for event, outcome, _ in events(app)] == [
        ("register", "ok"),
        ("upload", "ok"),
        ("download", "ok"),
        ("delete", "ok"),
        ("logout", "ok"),
        ("login", "failed"),
        ("login", "throttled"),
    ]
    with app.app_context():
        rows = list(db.session.scalars(db.select(AuditEvent)))
    assert all(r.user_id == 1 and r.client_address == "127.0.0.1" for r in rows)
    assert rows[1].detail == "file 1: a.txt"


def test_activity_page_shows_only_the_users_own_events(app: Flask) -> None:
    """ASVS 7.1.3, 4.2.1: /auth/activity lists the user's events and nobody else's."""
    alice = AuthActions(app.test_client()).signed_up("alice")
    upload(alice.client, ("alice-file.txt", b"a"))
    bob = AuthActions(app.test_client()).signed_up("bob")
    page = bob.client.get("/auth/activity").get_data(as_text=True)
    assert 'data-event="register"' in page
    assert "alice-file.txt" not in page
    assert "file 1: alice-file.txt" in alice.client.get("/auth/activity").get_data(as_text=True)


def test_activity_needs_login(client: FlaskClient) -> None:
    """ASVS 4.1.1: the activity page is for logged-in users only."""
    assert client.get("/auth/activity").headers["Location"].startswith("/auth/login")


# --- Settings --------------------------------------------------------------------------------


def test_unsafe_security_settings_stop_start_up(s3: Any, database_url: str) -> None:
    """ASVS 14.1.3: a setting that would weaken or break a control refuses to start."""
    for name, value in [
        ("PASSWORD_HASH_METHOD", "md5"),
        ("PASSWORD_HASH_METHOD", "scrypt"),
        ("LOGIN_ACCOUNT_LIMIT", 0),
        ("SESSION_IDLE_MINUTES", -5),
    ]:
        with pytest.raises(ConfigError, match=name):
            create_app(base_config(database_url, **{name: value}))


def test_security_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, s3: Any, database_url: str
) -> None:
    """Every new setting is read from the environment (documented in .env.example)."""
    for name, value in {
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:600000",
        "LOGIN_ACCOUNT_LIMIT": "7",
        "LOGIN_ADDRESS_LIMIT": "70",
        "LOGIN_WINDOW_SECONDS": "60",
        "SESSION_IDLE_MINUTES": "5",
        "SESSION_LIFETIME_HOURS": "2",
        "SECURE_COOKIES": "false",
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": database_url,
    }.items():
        monkeypatch.setenv(name, value)
    config = create_app().config
    assert config["PASSWORD_HASH_METHOD"] == "pbkdf2:sha256:600000"
    assert (config["LOGIN_ACCOUNT_LIMIT"], config["LOGIN_ADDRESS_LIMIT"]) == (7, 70)
    assert (config["SESSION_IDLE_MINUTES"], config["SESSION_LIFETIME_HOURS"]) == (5, 2)
    assert config["LOGIN_WINDOW_SECONDS"] == 60
    assert config["SESSION_COOKIE_NAME"] == "session"
    assert config["REDIS_URL"] is None


def test_an_audit_event_never_commits_the_callers_pending_work(app: Flask) -> None:
    """Audit writes on a connection of its own: a failed caller's rows stay uncommitted."""
    from securestore.audit import service as audit

    with app.app_context():
        db.session.add(User(username="pending", password_hash="x"))
        audit.record("login", address="203.0.113.7", outcome="failed")
        db.session.rollback()
    with app.app_context():
        assert db.session.scalar(db.select(User).where(User.username == "pending")) is None
    assert events(app) == [("login", "failed", None)]
    with app.app_context():
        (stored,) = db.session.scalars(db.select(AuditEvent)).all()
        assert stored.client_address == "203.0.113.7"


def test_a_session_signed_with_the_previous_key_reads_during_a_rotation(
    database_url: str, s3: Any
) -> None:
    """ASVS 6.4.1: a key rotation with SECRET_KEY_FALLBACKS logs nobody out."""
    old_key, new_key = secrets.token_hex(32), secrets.token_hex(32)
    before = create_app(base_config(database_url, SECRET_KEY=old_key)).test_client()
    AuthActions(before).signed_up("alice")
    cookie = before.get_cookie("__Host-session") or before.get_cookie("session")
    assert cookie is not None

    def files_page(**settings: Any) -> int:
        client = create_app(base_config(database_url, SECRET_KEY=new_key, **settings)).test_client()
        client.set_cookie(cookie.key, cookie.value)
        return client.get("/files/").status_code

    assert files_page(SECRET_KEY_FALLBACKS=[old_key]) == 200
    assert files_page() == 302  # without the fallback the old cookie is worthless


def session_payload(app: Flask, client: FlaskClient) -> str:
    """What the session cookie says to anyone who copies it (it is signed, not encrypted)."""
    cookie = client.get_cookie("__Host-session") or client.get_cookie("session")
    assert cookie is not None
    with app.app_context():
        data = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    return repr(data)


def test_the_secret_being_set_up_and_file_names_stay_out_of_the_cookie(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """ASVS 3.2.3: a copy of the session cookie reveals neither a second factor nor files."""
    auth.signed_up("alice")
    page = client.get("/auth/2fa/setup").get_data(as_text=True)
    secret = page.split('data-testid="totp-secret" class="text-break">')[1].split("<")[0]
    assert secret not in session_payload(app, client)
    assert secret in client.get("/auth/2fa/setup").get_data(as_text=True)  # kept server-side
    upload(client, ("tax return 2026.pdf", b"private"))
    with app.app_context():
        file_id = db.session.scalar(db.select(StoredFile.id))
    client.post(f"/files/{file_id}/delete", data={"csrf_token": csrf_token(client, "/files/")})
    assert "tax return" not in session_payload(app, client)
