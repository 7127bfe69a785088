"""What every load user shares: the run's context, a browser-like session, and its checks.

A `SiteUser` talks HTTPS to nginx the way a browser does (CSRF tokens from real forms, the
Referer Flask-WTF requires over HTTPS, forms posted without following redirects) and to the
API with a bearer token made on the tokens page, as a person would make one.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from locust import HttpUser, between
from locust.clients import ResponseContextManager

from bench.load.ledger import Ledger

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_TOKEN_SECRET = re.compile(r'id="new-token-secret"[^>]*value="(sst_[^"]+)"')
# A load file's name starts with its owner: `<username>-<number>-<size>.bin`.
_FILE_OWNER = re.compile(r"\b(lt[0-9a-f]{4}[a-z]\d{3})-\d{5}-")
TIMEOUT = (10, 300)


@dataclass
class LoadContext:
    """What the run hands its users: the ledger, the accounts made for them, the cert."""

    ledger: Ledger
    accounts: list[str]
    decoys: list[str]
    password: str
    tag: str
    cert: str
    registrations: int
    seed: int
    _next_user: int = field(default=0, init=False)

    def user_number(self) -> int:
        self._next_user += 1
        return self._next_user

    def claim_account(self) -> str:
        """Hand out one of the accounts created through the CLI before the run."""
        return self.accounts.pop()

    def may_register(self) -> bool:
        """Let the first few users register through the form (the registration flow)."""
        if self.registrations <= 0:
            return False
        self.registrations -= 1
        return True


def foreign_names(page: str, username: str) -> set[str]:
    """Owners of the load files named on a page, other than `username`."""
    return {owner for owner in _FILE_OWNER.findall(page) if owner != username}


class SiteUser(HttpUser):
    """A logged-in person (or attacker) with a session cookie, a CSRF token and an API token."""

    abstract = True
    wait_time = between(1, 3)
    load: ClassVar[LoadContext]

    username = ""
    csrf = ""
    api_token = ""

    def on_start(self) -> None:
        self.client.headers["Referer"] = self.host + "/files/"

    @contextmanager
    def call(self, method: str, path: str, name: str, **kwargs: Any) -> Iterator[Any]:
        """One request, reported to Locust under `name`; the caller marks success or failure."""
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        with self.client.request(
            method, path, name=name, catch_response=True, verify=self.load.cert, **kwargs
        ) as response:
            yield response

    def api_headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.api_token}"}

    def form_token(self, path: str, name: str, redirect_ok: bool = False) -> str | None:
        """GET a page and return its form's CSRF token (None when the page did not come).

        With `redirect_ok` a 302 counts as an answer too and gives "" (the login page sends
        a logged-in user on to the files).
        """
        with self.call("GET", path, name) as page:
            if redirect_ok and page.status_code == 302:
                page.success()
                return ""
            match = _CSRF.search(page.text or "") if page.status_code == 200 else None
            if match is None:
                page.failure(f"no form: {page.status_code}")
                return None
            page.success()
            return match.group(1)

    def post_form(
        self, path: str, name: str, fields: dict[str, Any], expect: tuple[int, ...]
    ) -> ResponseContextManager | None:
        """POST a form with the session's CSRF token; success when the status is expected."""
        with self.call("POST", path, name, data={"csrf_token": self.csrf, **fields}) as answer:
            if answer.status_code in expect:
                answer.success()
            else:
                answer.failure(f"{answer.status_code}")
            return answer

    def log_in(self, username: str) -> bool:
        """Log in through the form (unless still logged in), then keep the files page's CSRF
        token."""
        self.username = username
        token = self.form_token("/auth/login", "GET /auth/login", redirect_ok=True)
        if token is None:
            return False
        if token:
            fields = {"csrf_token": token, "username": username, "password": self.load.password}
            with self.call("POST", "/auth/login", "POST /auth/login", data=fields) as answer:
                if answer.status_code != 302:
                    answer.failure(f"{answer.status_code}")
                    return False
                answer.success()
        self.csrf = self.form_token("/files/", "GET /files/") or ""
        return bool(self.csrf)

    def register(self, username: str) -> str:
        """Register through the form: "ok", "throttled" (429: a limit on registrations) or
        "failed"."""
        token = self.form_token("/auth/register", "GET /auth/register")
        if token is None:
            return "failed"
        password = self.load.password
        fields = {
            "csrf_token": token, "username": username,
            "password": password, "confirm_password": password,
        }  # fmt: skip
        with self.call("POST", "/auth/register", "POST /auth/register", data=fields) as answer:
            if answer.status_code == 429:
                answer.success()  # expected once registrations are throttled per address
                return "throttled"
            if answer.status_code != 302:
                answer.failure(f"{answer.status_code}")
                return "failed"
            answer.success()
        return "ok"

    def make_api_token(self) -> bool:
        """Create a read+write token on the tokens page; its secret is shown only there."""
        fields = {
            "csrf_token": self.csrf, "name": f"load {secrets.token_hex(3)}",
            "scopes": ["read", "write"], "expires": "30",
        }  # fmt: skip
        with self.call("POST", "/settings/tokens/", "POST /settings/tokens/", data=fields) as page:
            match = _TOKEN_SECRET.search(page.text or "") if page.status_code == 201 else None
            if match is None:
                page.failure(f"no token: {page.status_code}")
                return False
            page.success()
        self.api_token = match.group(1)
        return True

    def ready(self) -> bool:
        """Log in again and make the API token when an earlier attempt failed (chaos)."""
        if not self.csrf and not self.log_in(self.username):
            return False
        return bool(self.api_token) or self.make_api_token()

    def check_owner(self, page: str, where: str) -> bool:
        """Record a leak when a page names another user's file; say whether it was clean."""
        others = foreign_names(page, self.username)
        if others:
            self.load.ledger.leak(self.username, f"{where} shows files of {sorted(others)}")
        return not others

    @staticmethod
    def finish(response: Any, started: float, received: int) -> None:
        """Report a streamed answer's whole time and size, not just its headers'."""
        response.request_meta["response_time"] = (time.perf_counter() - started) * 1000
        response.request_meta["response_length"] = received
