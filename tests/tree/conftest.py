"""One user's tree through the API, on moto and on the real SeaweedFS.

SeaweedFS's buckets live for the whole session, so each test's user has a name of its own
and tests read only keys under that user's prefix (and its versions').
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.conftest import bearer, issue_token
from tests.fixtures.s3 import BACKUP, PRIMARY, object_body

API = "/api/v1"


@dataclass
class Tree:
    """A user with a token, the app and the S3 client that reads its buckets directly."""

    app: Flask
    s3: Any
    username: str
    token: str

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def call(self, method: str, path: str, **options: Any) -> TestResponse:
        """An API request as this user (`path` below /api/v1)."""
        headers = {**bearer(self.token), **options.pop("headers", {})}
        return self.client.open(f"{API}{path}", method=method, headers=headers, **options)

    def folder(self, name: str, parent_id: int | None = None) -> dict[str, Any]:
        response = self.call("POST", "/folders", json={"name": name, "parent_id": parent_id})
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    def upload(self, body: bytes, query: str) -> dict[str, Any]:
        """A raw-body upload with the query string `query` (`name=...`, `path=...`)."""
        response = self.call(
            "POST", f"/files?{query}", data=body, content_type="application/octet-stream"
        )
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    def keys(self, bucket: str, prefix: str | None = None) -> list[str]:
        """Every key of this user (or under `prefix`) in a bucket, sorted."""
        found: list[str] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix if prefix is not None else f"{self.username}/"
        )
        for page in pages:
            found += [item["Key"] for item in page.get("Contents", [])]
        return sorted(found)

    def version_keys(self, bucket: str) -> list[str]:
        return self.keys(bucket, f".versions/{self.username}/")

    def bodies(self, path: str) -> tuple[bytes, bytes]:
        """The object at the user's `path` in the primary and in the backup bucket."""
        key = f"{self.username}/{path}"
        return object_body(self.s3, PRIMARY, key), object_body(self.s3, BACKUP, key)


@pytest.fixture(params=["moto", pytest.param("seaweedfs", marks=pytest.mark.seaweedfs)])
def tree(request: pytest.FixtureRequest) -> Tree:
    """A fresh user's tree on moto, then on SeaweedFS."""
    if request.param == "moto":
        app, s3 = request.getfixturevalue("app"), request.getfixturevalue("s3")
    else:
        app = request.getfixturevalue("seaweed_app")
        s3 = request.getfixturevalue("seaweedfs").client()
    username = f"t{secrets.token_hex(5)}"
    return Tree(app, s3, username, issue_token(app, username))


@pytest.fixture
def moto_tree(app: Flask, s3: Any) -> Tree:
    """A user's tree on moto only (fault injection, settings per test)."""
    return Tree(app, s3, "alice", issue_token(app, "alice"))
