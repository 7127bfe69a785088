"""Stopping guessers without handing strangers a lockout (the second audit), on each throttle
store: the database on SQLite and on PostgreSQL, and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pyotp
import pytest
import redis
from flask import Flask

from securestore.auth import two_factor
from securestore.auth.registration import create_user
from securestore.auth.service import find_user
from securestore.extensions import db
from tests.fixtures.apps import PASSWORD
from tests.fixtures.databases import app_on_database
from tests.fixtures.forms import AuthActions, csrf_token
from tests.security.test_attacks import WRONG, redis_url

STRANGER, OWNER = "203.0.113.66", "198.51.100.7"


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest, s3: Any, database_url: str) -> Iterator[Flask]:
    """An app whose throttle counts live in the database (SQLite, PostgreSQL) or in Redis."""
    marker = request.node.get_closest_marker("config")
    settings = dict(marker.kwargs if marker else {})
    prefix = f"securestore-test-{uuid.uuid4().hex}:"
    if request.param == "redis":
        settings.update(REDIS_URL=redis_url(), REDIS_KEY_PREFIX=prefix)
    database = "postgresql" if request.param == "postgresql" else "sqlite"
    with app_on_database(request, database_url, database=database, **settings) as app:
        yield app
    if settings.get("REDIS_URL"):
        client = redis.Redis.from_url(settings["REDIS_URL"])
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def browser(app: Flask, address: str) -> AuthActions:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=5)
def test_a_strangers_failures_do_not_lock_the_owner_out(store: Flask) -> None:
    """Five wrong passwords from one address throttle that address for the account; the
    owner's right password from another address still logs in."""
    browser(store, OWNER).signed_up("alice").logout()
    stranger = browser(store, STRANGER)
    assert [stranger.login("alice", WRONG).status_code for _ in range(6)] == [401] * 5 + [429]
    assert stranger.login("alice", PASSWORD).status_code == 429
    for spelling in ("Alice", " alice "):  # case and spaces name the same account
        assert stranger.login(spelling, WRONG).status_code == 429
    assert browser(store, OWNER).login("alice", PASSWORD).status_code == 302


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=5, LOGIN_ACCOUNT_WIDE_LIMIT=6)
def test_an_account_under_attack_from_many_addresses_needs_its_second_factor(
    store: Flask,
) -> None:
    """Past the account-wide threshold a right password alone is refused (429); with a
    second factor it leads on to the code, and a right code logs in."""
    owner = browser(store, OWNER).signed_up("alice")
    owner.logout()
    for n in range(6):
        assert browser(store, f"192.0.2.{n}").login("alice", WRONG).status_code == 401
    refused = browser(store, OWNER).login("alice", PASSWORD)
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers

    with store.app_context():
        user = find_user("alice")
        assert user is not None
        totp = pyotp.TOTP(two_factor.pending_secret(user))
        two_factor.enable(user, totp.now(), address=None)
        db.session.execute(db.update(type(user)).values(totp_last_step=None))
        db.session.commit()
    second = browser(store, OWNER)
    assert second.login("alice", PASSWORD).headers["Location"].endswith("/auth/2fa")
    answer = second.client.post(
        "/auth/2fa", data={"code": totp.now(), "csrf_token": csrf_token(second.client, "/auth/2fa")}
    )
    assert answer.status_code == 302 and not answer.headers["Location"].endswith("/auth/login")


@pytest.mark.config(LOGIN_MAX_DELAY_SECONDS=1)
def test_each_failure_of_an_account_doubles_the_wait_before_the_next_attempt(
    store: Flask,
) -> None:
    """Nextcloud's throttler: 0.1 s x 2^(n-1) after n failures of the account, capped."""
    browser(store, OWNER).signed_up("alice").logout()
    waits: list[float] = []
    with mock.patch("securestore.auth.attempts.time.sleep", side_effect=waits.append):
        for n in range(6):
            browser(store, f"192.0.2.{n}").login("alice", WRONG)
        browser(store, OWNER).login("alice", PASSWORD)
    assert waits == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


@pytest.mark.config(REGISTER_ADDRESS_LIMIT=10)
def test_registrations_from_one_address_are_throttled_taken_names_included(
    store: Flask,
) -> None:
    """40 registrations in a row from one address: 10 reach the service (taken or not), the
    other 30 answer 429, so names can no longer be probed nor accounts made."""
    with store.app_context():
        create_user("taken", PASSWORD)  # the CLI is not throttled
    statuses = [
        browser(store, STRANGER).register("taken" if n % 2 else f"new{n}").status_code
        for n in range(40)
    ]
    assert statuses[:10] == [302, 409] * 5
    assert statuses[10:] == [429] * 30
    with store.app_context():
        accounts = db.session.scalar(db.text("SELECT count(*) FROM users"))
    assert accounts == 1 + 5
