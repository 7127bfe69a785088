"""The attackers of `make loadtest`: every request of theirs must be refused.

A `Guesser` guesses the passwords of decoy accounts (made through the CLI, used by nobody
else) and forges API tokens; a `Snooper` logs in and asks for other users' file ids in the
site and the API. A refusal (401, 404, 429) is their success; any answer that is not is a
leak in the ledger, and fails the run.
"""

from __future__ import annotations

import random
import secrets
from typing import Any

from locust import task

from bench.load.client import SiteUser


class Attacker(SiteUser):
    """Someone whose every request must be refused; an answer that is not is a leak."""

    abstract = True

    def _expect_refusal(self, answer: Any, refusals: tuple[int, ...], leak: str) -> None:
        if answer.status_code in refusals:
            answer.success()
            return
        if 200 <= answer.status_code < 400:
            self.load.ledger.leak(self.username or "guesser", f"{leak}: {answer.status_code}")
        answer.failure(f"{answer.status_code}")


class Guesser(Attacker):
    """Guesses the decoy accounts' passwords and forges API tokens, never logged in.

    The decoys' per-account limit (LOGIN_ACCOUNT_LIMIT) turns its 401s into 429s after a
    few guesses, as designed; forged tokens count against the address limit, which the stack
    raises because every user shares 127.0.0.1 (bench/load/stack.py).
    """

    fixed_count = 1

    def on_start(self) -> None:
        super().on_start()
        self.rng = random.Random(self.load.seed * 1000 + 900 + self.load.user_number())

    @task(3)
    def guess_password(self) -> None:
        token = self.form_token("/auth/login", "GET /auth/login")
        if token is None:
            return
        fields = {
            "csrf_token": token, "username": self.rng.choice(self.load.decoys),
            "password": secrets.token_urlsafe(12),
        }  # fmt: skip
        with self.call("POST", "/auth/login", "attack: wrong password", data=fields) as answer:
            self._expect_refusal(answer, (401, 429), "logged in with a guessed password")

    @task(1)
    def wrong_token(self) -> None:
        forged = f"sst_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"
        with self.call("GET", "/api/v1/files", "attack: wrong token",
                       headers=self.api_headers(forged)) as answer:  # fmt: skip
            self._expect_refusal(answer, (401, 429), "a forged token was accepted")


class Snooper(Attacker):
    """A logged-in user who asks for other users' file ids, in the site and the API."""

    fixed_count = 1

    def on_start(self) -> None:
        super().on_start()
        self.rng = random.Random(self.load.seed * 1000 + 800 + self.load.user_number())
        if self.log_in(self.load.claim_account()):
            self.make_api_token()

    @task
    def foreign_file(self) -> None:
        victim = self._victim_file()
        if victim is None or not self.ready():
            return
        form = {"data": {"csrf_token": self.csrf}}
        method, path, name, kwargs = self.rng.choice(
            [
                ("GET", f"/files/{victim}/download", "attack: other's download", {}),
                ("GET", f"/api/v1/files/{victim}/content", "attack: other's API content",
                 {"headers": self.api_headers()}),
                ("DELETE", f"/api/v1/files/{victim}", "attack: other's API delete",
                 {"headers": self.api_headers()}),
                ("POST", f"/files/{victim}/delete", "attack: other's delete", form),
                ("POST", f"/files/{victim}/restore", "attack: other's restore", form),
            ]
        )  # fmt: skip
        with self.call(method, path, name, **kwargs) as answer:
            self._expect_refusal(answer, (404,), f"{method} {path} answered")

    def _victim_file(self) -> int | None:
        others = [
            u.file_id for u in self.load.ledger.uploads[-500:]
            if u.file_id and u.username != self.username
        ]  # fmt: skip
        return self.rng.choice(others) if others else None
