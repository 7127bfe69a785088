"""Races an outside audit proved, replayed with 16 real parallel HTTP requests, on SQLite and
PostgreSQL: one-time codes used once, a throttle that cannot be outrun, no 500 in a burst."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import pytest
import requests
from flask import Flask

from securestore.audit.models import AuditEvent
from securestore.auth import two_factor
from securestore.auth.models import User
from securestore.auth.registration import create_user
from securestore.config import cookie_settings, engine_options
from securestore.extensions import db
from tests.fixtures.apps import PASSWORD
from tests.fixtures.databases import app_on_database
from tests.fixtures.servers import served

PARALLEL = 16
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture(params=["sqlite", "postgresql"])
def base_url(request: pytest.FixtureRequest, s3: Any, database_url: str) -> Iterator[str]:
    """The app over plain HTTP (cookies without `Secure`), with room for 16 requests at once.

    `@pytest.mark.config(NAME=value)` adds settings.
    """
    marker = request.node.get_closest_marker("config")
    settings = {
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url, 2 * PARALLEL),
        **(marker.kwargs if marker else {}),
    }
    with (
        app_on_database(request, database_url, **cookie_settings(secure=False), **settings) as app,
        served(app) as url,
    ):
        request.node.app = app
        yield url


def app_of(request: pytest.FixtureRequest) -> Flask:
    app: Flask = request.node.app
    return app


def form(session: requests.Session, url: str) -> str:
    match = _CSRF.search(session.get(url, timeout=30).text)
    assert match, url
    return match.group(1)


def at_once(count: int, send: Callable[[int], int]) -> Counter[int]:
    """Run `send(i)` for i in range(count) in threads released together; count the statuses."""
    start = threading.Barrier(count)

    def released(index: int) -> int:
        start.wait()
        return send(index)

    with ThreadPoolExecutor(count) as pool:
        return Counter(pool.map(released, range(count)))


def sessions_at_second_factor(base: str, count: int) -> list[tuple[requests.Session, str]]:
    """`count` browsers that each passed alice's password and wait at the second step."""
    waiting = []
    for _ in range(count):
        session = requests.Session()
        token = form(session, f"{base}/auth/login")
        answer = session.post(
            f"{base}/auth/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.headers["Location"].endswith("/auth/2fa"), answer.status_code
        waiting.append((session, form(session, f"{base}/auth/2fa")))
    return waiting


def alice_with_two_factor(app: Flask) -> tuple[pyotp.TOTP, list[str]]:
    with app.app_context():
        user = create_user("alice", PASSWORD)
        totp = pyotp.TOTP(two_factor.pending_secret(user))
        codes = two_factor.enable(user, totp.now(), address=None)
        db.session.execute(db.update(User).values(totp_last_step=None))
        db.session.commit()
    return totp, codes


def second_factor_statuses(base: str, code: str) -> Counter[int]:
    waiting = sessions_at_second_factor(base, PARALLEL)

    def send(index: int) -> int:
        session, token = waiting[index]
        return session.post(
            f"{base}/auth/2fa",
            data={"code": code, "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        ).status_code

    return at_once(PARALLEL, send)


@pytest.mark.config(LOGIN_ACCOUNT_LIMIT=100)
def test_a_totp_code_sent_by_16_sessions_at_once_logs_in_one(
    base_url: str, request: pytest.FixtureRequest
) -> None:
    """ASVS 2.8.4: a time-based code is accepted once, even under concurrency."""
    totp, _ = alice_with_two_factor(app_of(request))
    statuses = second_factor_statuses(base_url, totp.now())
    assert statuses[302] == 1, statuses
    assert set(statuses) <= {302, 401, 429}


def test_a_recovery_code_sent_by_16_sessions_at_once_logs_in_one(
    base_url: str, request: pytest.FixtureRequest
) -> None:
    """ASVS 2.6.1: a recovery code is single use, even under concurrency."""
    _, codes = alice_with_two_factor(app_of(request))
    statuses = second_factor_statuses(base_url, codes[0])
    assert statuses[302] == 1, statuses
    assert set(statuses) <= {302, 401, 429}


def test_16_parallel_wrong_passwords_are_evaluated_at_most_up_to_the_limit(
    base_url: str, request: pytest.FixtureRequest
) -> None:
    """ASVS 2.2.1: the attempt is counted before the password is checked, so a burst cannot
    outrun the limit; and the burst answers 401 or 429, never 500 (the database pool)."""
    app = app_of(request)
    with app.app_context():
        create_user("alice", PASSWORD)
    browsers = []
    for _ in range(PARALLEL):
        session = requests.Session()
        browsers.append((session, form(session, f"{base_url}/auth/login")))

    def send(index: int) -> int:
        session, token = browsers[index]
        return session.post(
            f"{base_url}/auth/login",
            data={"username": "alice", "password": "wrong guess number one", "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        ).status_code

    statuses = at_once(PARALLEL, send)
    limit = app.config["LOGIN_ACCOUNT_LIMIT"]
    assert statuses == Counter({401: limit, 429: PARALLEL - limit}), statuses
    with app.app_context():
        failed = db.session.scalar(
            db.select(db.func.count()).where(
                AuditEvent.event == "login", AuditEvent.outcome == "failed"
            )
        )
    assert failed == limit
