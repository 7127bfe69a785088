"""Shared fixtures: an app on moto or on a real SeaweedFS, clients, and an `auth` helper.

The schema is always built by the migrations (never `create_all`): once per session into a
template SQLite file that each test copies, or into a fresh PostgreSQL database when
`TEST_DATABASE_URL` is set.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.handlers import BUILTIN_HANDLERS
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from moto import mock_aws
from moto.core.models import botocore_stubber
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from securestore import create_app
from securestore.extensions import db, storage
from securestore.locals3 import LocalS3
from tests.postgres import fresh_database

PRIMARY = "test-primary"
BACKUP = "test-backup"
PASSWORD = "a long enough password"
FAST_HASH_METHOD = "scrypt:1024:8:1"
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _bytes_for_moto(request: AWSPreparedRequest, **kwargs: Any) -> None:
    """Hand moto a part's body as bytes: it parses requests with werkzeug, which takes bytes only.

    The app sends multipart parts as the bytearrays it read them into (botocore and S3 take
    them, uncopied); the SeaweedFS tests, where moto is off, keep sending them that way.
    """
    if botocore_stubber.enabled and isinstance(request.body, bytearray):
        request.body = bytes(request.body)


def pytest_configure(config: pytest.Config) -> None:
    # First among the handlers of every client created from now on: before moto's stubber.
    BUILTIN_HANDLERS.insert(0, ("before-send", _bytes_for_moto))


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    """Settings every test app shares; tests add what they exercise."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "S3_PRIMARY_BUCKET": PRIMARY,
        "S3_BACKUP_BUCKET": BACKUP,
        "S3_ENDPOINT_URL": None,
        "S3_REGION": "us-east-1",
        # The smallest part S3 allows, so multipart paths run with small test files.
        "S3_PART_BYTES": 5 * 1024 * 1024,
        # A cheap hash keeps the suite fast; tests of the real parameters set their own.
        "PASSWORD_HASH_METHOD": FAST_HASH_METHOD,
        # No background retry thread unless a test asks for one: `backup sync` does the work.
        "BACKUP_RETRY_DELAY_SECONDS": 0,
        **overrides,
    }


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's AWS profile and app settings out of every test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "S3_", "SECURESTORE_", "LOGIN_", "SESSION_", "REDIS_")) or (
            name
            in {
                "DATABASE_URL",
                "SECRET_KEY",
                "MAX_UPLOAD_BYTES",
                "DOWNLOAD_MODE",
                "DOWNLOAD_URL_SECONDS",
                "PASSWORD_HASH_METHOD",
            }
        ):
            monkeypatch.delenv(name)
    # moto accepts any key; these make sure no real credential could be picked up.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file built once by the migrations; tests copy it instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "securestore.db"
    with mock_aws():
        app = create_app(base_config(f"sqlite:///{path}"))
        with app.app_context():
            upgrade()
    return path


@pytest.fixture
def database_url(template_database: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database for one test."""
    path = tmp_path / "securestore.db"
    shutil.copy(template_database, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database on TEST_DATABASE_URL's server, dropped afterwards."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it to the machine's PostgreSQL)")
    with fresh_database(server_url) as url:
        yield url


@contextmanager
def app_on_database(request: pytest.FixtureRequest, database_url: str) -> Iterator[Flask]:
    """An app on the test's SQLite copy or, when the fixture's param is "postgresql", on a
    fresh PostgreSQL database that the migrations build; for fixtures run on both."""
    postgresql = request.param == "postgresql"
    url = request.getfixturevalue("postgres_url") if postgresql else database_url
    app = create_app(base_config(url))
    if postgresql:
        with app.app_context():
            upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@contextmanager
def upload_parts_through(app: Flask, handler: Callable[..., Any]) -> Iterator[None]:
    """Route the app's UploadPart calls through `handler(real_upload_part, **kwargs)`, to delay,
    count or fail parts."""
    with app.app_context():
        client = storage.client
    real_upload_part = client.upload_part
    with mock.patch.object(
        client, "upload_part", side_effect=lambda **kwargs: handler(real_upload_part, **kwargs)
    ):
        yield


@pytest.fixture
def s3() -> Iterator[Any]:
    """moto's in-memory S3 with both buckets; started before any app is created."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=PRIMARY)
        client.create_bucket(Bucket=BACKUP)
        yield client


@pytest.fixture
def app_config(database_url: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The `app` fixture's settings; `@pytest.mark.config(NAME=value)` overrides entries."""
    marker = request.node.get_closest_marker("config")
    return base_config(database_url, **(marker.kwargs if marker else {}))


@pytest.fixture
def app(s3: Any, app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    """Fetch a page with a form and return its CSRF token, as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


class AuthActions:
    """Register, log in and log out through the real forms (CSRF included)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, username: str = "alice", password: str = PASSWORD) -> TestResponse:
        token = csrf_token(self.client, "/auth/register")
        return self.client.post(
            "/auth/register",
            data={
                "username": username,
                "password": password,
                "confirm_password": password,
                "csrf_token": token,
            },
        )

    def login(
        self, username: str = "alice", password: str = PASSWORD, next_path: str | None = None
    ) -> TestResponse:
        token = csrf_token(self.client, "/auth/login")
        path = "/auth/login" + (f"?next={next_path}" if next_path else "")
        return self.client.post(
            path, data={"username": username, "password": password, "csrf_token": token}
        )

    def logout(self) -> TestResponse:
        return self.client.post(
            "/auth/logout", data={"csrf_token": csrf_token(self.client, "/files/")}
        )

    def signed_up(self, username: str = "alice") -> AuthActions:
        """Register `username` and stay logged in as them."""
        response = self.register(username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return self


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


def upload(client: FlaskClient, *files: tuple[str, bytes], **headers: str) -> TestResponse:
    """POST files to /files/upload the way a browser form does.

    The body is encoded in memory: werkzeug's test client would spool it to a temporary file
    it never closes.
    """
    fields = MultiDict([("csrf_token", csrf_token(client, "/files/"))])
    for name, body in files:
        fields.add("file", FileStorage(BytesIO(body), filename=name))
    boundary, body = encode_multipart(fields)
    return client.post(
        "/files/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


class GeneratedForm(io.RawIOBase):
    """A browser-shaped multipart body (CSRF token, then one file) generated while it is read.

    The file's bytes never exist in memory as a whole, so a test can send more than the memory
    it allows the app; `sent` counts what the app actually read.
    """

    BOUNDARY = "----SecureStoreTestBoundary9kP2xQ"

    def __init__(self, token: str, filename: str, size: int) -> None:
        head = (
            f"--{self.BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{token}\r\n--{self.BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.BOUNDARY}--\r\n".encode()
        self._pieces: list[bytes | Iterator[bytes]] = [head, self._file_chunks(size), tail]
        self.length = len(head) + size + len(tail)
        self.sent = 0

    @staticmethod
    def _file_chunks(size: int) -> Iterator[bytes]:
        block = bytes(range(256)) * 4096  # 1 MiB with every byte value, CR and LF included
        for start in range(0, size, len(block)):
            yield block[: min(len(block), size - start)]

    @staticmethod
    def file_bytes(size: int) -> bytes:
        """The file's bytes, for comparing with what was stored (small sizes only)."""
        return b"".join(GeneratedForm._file_chunks(size))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._pieces:
            piece = self._pieces[0]
            if isinstance(piece, bytes):
                count = min(len(buffer), len(piece))
                buffer[:count] = piece[:count]
                rest = piece[count:]
                if rest:
                    self._pieces[0] = rest
                else:
                    self._pieces.pop(0)
                self.sent += count
                return count
            try:
                self._pieces[0] = next(piece)
                self._pieces.insert(1, piece)
            except StopIteration:
                self._pieces.pop(0)
        return 0

    def post(self, client: FlaskClient, *, chunked: bool = False) -> TestResponse:
        """POST this body to /files/upload; `chunked` sends no Content-Length, as nginx may."""
        environ: dict[str, Any] = {
            "wsgi.input": self,
            "CONTENT_TYPE": f"multipart/form-data; boundary={self.BOUNDARY}",
            "CONTENT_LENGTH": str(self.length),
        }
        if chunked:
            # werkzeug then reads to the end of the stream, as the server says it ends there.
            environ.update(HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True})
        return client.post("/files/upload", environ_overrides=environ)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """A real SeaweedFS S3 server on free ports for the whole session."""
    root = tmp_path_factory.mktemp("seaweedfs")
    server = LocalS3.throwaway(root, (PRIMARY, BACKUP), "test")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def seaweed_app(
    seaweedfs: LocalS3, app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The app against the real SeaweedFS, with its key found by boto3's default chain.

    `@pytest.mark.config(NAME=value)` overrides settings here too.
    """
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    application = create_app({**app_config, "S3_ENDPOINT_URL": seaweedfs.endpoint_url})
    yield application
    with application.app_context():
        db.engine.dispose()


def object_body(client: Any, bucket: str, key: str) -> bytes:
    """Read an object's bytes straight from S3, bypassing the app (and its checksums)."""
    body: bytes = client.get_object(Bucket=bucket, Key=key, ChecksumMode="DISABLED")["Body"].read()
    return body


def bucket_keys(client: Any, bucket: str) -> list[str]:
    """List every key in a bucket."""
    answer = client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))
