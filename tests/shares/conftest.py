"""Share links made through the API: an owner with a token, a file, and links to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import bearer, issue_token

CONTENT = b"the quarterly figures, 2026\n" * 100


@dataclass
class Owner:
    """A user with a read-write token and one uploaded file, who shares it."""

    app: Flask
    token: str
    file_id: int
    api: FlaskClient

    def share(self, expect: int = 201, **fields: Any) -> dict[str, Any]:
        answer = self.api.post(
            "/api/v1/shares", json={"file_id": self.file_id, **fields}, headers=bearer(self.token)
        )
        assert answer.status_code == expect, answer.get_data(as_text=True)
        body: dict[str, Any] = answer.get_json()
        return body

    def path(self, **fields: Any) -> str:
        """Create a link and return its path, `/s/<token>`."""
        url: str = self.share(**fields)["url"]
        return url[url.index("/s/") :]


def make_owner(app: Flask, username: str = "alice", content: bytes = CONTENT) -> Owner:
    token = issue_token(app, username)
    api = app.test_client()
    stored = api.post(
        "/api/v1/files?name=figures.csv",
        data=content,
        headers={**bearer(token), "Content-Type": "text/csv"},
    )
    assert stored.status_code == 201, stored.get_data(as_text=True)
    return Owner(app, token, stored.get_json()["id"], api)


@pytest.fixture
def owner(app: Flask) -> Owner:
    return make_owner(app)
