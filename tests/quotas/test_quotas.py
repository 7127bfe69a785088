"""Quotas and per-user upload limits: refused before a byte is stored, never jointly overshot."""

from __future__ import annotations

import http.client
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from securestore.auth.service import find_user
from securestore.extensions import db
from securestore.files.models import StoredFile
from securestore.formatting import parse_size
from securestore.locals3 import LocalS3
from securestore.quotas.models import UploadReservation
from tests.api.conftest import bearer, issue_token
from tests.fixtures.databases import app_on_database
from tests.fixtures.forms import AuthActions, csrf_token, upload
from tests.fixtures.s3 import BACKUP, PRIMARY, bucket_keys
from tests.fixtures.servers import served

QUOTA = 10_000


def raw_upload(client: FlaskClient, token: str, name: str, body: bytes) -> Any:
    return client.post(
        f"/api/v1/files?name={name}",
        data=body,
        content_type="application/octet-stream",
        headers=bearer(token),
    )


def stored_rows(app: Flask) -> list[StoredFile]:
    with app.app_context():
        return list(db.session.scalars(db.select(StoredFile)))


@pytest.mark.parametrize(
    ("text", "size"),
    [("1234", 1234), ("500MB", 500_000_000), ("10GiB", 10 * 1024**3), ("1.5 kB", 1500)],
)
def test_sizes_read_as_bytes_decimal_or_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten", "5 XB", "-1", "1e9"])
def test_sizes_that_are_not_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


@pytest.mark.config(DEFAULT_QUOTA_BYTES=QUOTA)
def test_an_upload_one_byte_over_the_quota_is_refused_before_anything_is_stored(
    app: Flask, client: FlaskClient, s3: Any
) -> None:
    token = issue_token(app, "alice")
    assert raw_upload(client, token, "fits.bin", b"x" * (QUOTA - 100)).status_code == 201
    refused = raw_upload(client, token, "over.bin", b"y" * 101)
    assert refused.status_code == 507
    assert refused.get_json()["error"]["code"] == "quota_exceeded"
    assert [row.name for row in stored_rows(app)] == ["fits.bin"]
    assert bucket_keys(s3, PRIMARY) == bucket_keys(s3, BACKUP) == ["alice/fits.bin"]
    assert raw_upload(client, token, "exact.bin", b"z" * 100).status_code == 201
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert (me["usage_bytes"], me["quota_bytes"]) == (QUOTA, QUOTA)


@pytest.mark.config(DEFAULT_QUOTA_BYTES=QUOTA)
def test_the_browser_upload_answers_507_on_the_files_row_and_takes_an_exact_fit(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    refused = upload(client, ("big.bin", b"b" * (QUOTA + 1)), Accept="application/json")
    assert refused.status_code == 507
    (error,) = refused.json["errors"]
    assert (error["name"], error["code"]) == ("big.bin", "quota_exceeded")
    assert "does not fit" in error["message"]
    assert stored_rows(app) == [] and bucket_keys(s3, PRIMARY) == []
    exact = upload(client, ("exact.bin", b"e" * QUOTA), Accept="application/json")
    assert exact.status_code == 201
    page = client.get("/files/").get_data(as_text=True)
    assert "9.8 KiB of 9.8 KiB used" in page


@pytest.mark.config(DEFAULT_QUOTA_BYTES=QUOTA)
def test_deleted_files_are_free_and_one_that_no_longer_fits_is_not_restored(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    upload(client, ("old.bin", b"o" * 6000))
    (old,) = stored_rows(app)
    token = csrf_token(client, "/files/")
    client.post(f"/files/{old.id}/delete", data={"csrf_token": token})
    assert upload(client, ("new.bin", b"n" * 6000)).status_code == 303  # the deleted is free
    restored = client.post(f"/files/{old.id}/restore", data={"csrf_token": token})
    assert restored.status_code == 507
    assert "does not fit" in restored.get_data(as_text=True)


@pytest.mark.config(MAX_UPLOAD_BYTES=10_000)
def test_a_per_user_upload_limit_answers_413_like_the_global_one(
    app: Flask, client: FlaskClient
) -> None:
    token = issue_token(app, "alice")
    with app.app_context():
        user = find_user("alice")
        assert user is not None
        user.max_upload_bytes = 1000
        db.session.commit()
    assert raw_upload(client, token, "small.bin", b"s" * 1000).status_code == 201
    refused = raw_upload(client, token, "big.bin", b"b" * 1001)
    assert refused.status_code == 413
    assert "1000 B you may upload" in refused.get_json()["error"]["message"]


@pytest.fixture(params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest,
    seaweedfs: LocalS3,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Flask, str]]:
    """The app over real HTTP on SeaweedFS (moto is not safe under a threaded server)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    settings = {"DEFAULT_QUOTA_BYTES": QUOTA, "S3_ENDPOINT_URL": seaweedfs.endpoint_url}
    with app_on_database(request, database_url, **settings) as app, served(app) as url:
        yield app, url


def wait_for_a_reservation(app: Flask) -> None:
    deadline = time.monotonic() + 30
    with app.app_context():
        while not db.session.scalar(db.select(db.func.count(UploadReservation.id))):
            assert time.monotonic() < deadline, "the first upload never reserved its room"
            db.session.rollback()
            time.sleep(0.05)


@pytest.mark.seaweedfs
def test_two_concurrent_uploads_that_together_exceed_the_quota_cannot_both_be_stored(
    live: tuple[Flask, str],
) -> None:
    """The first holds its reservation while its body is still arriving; the second, sent
    then, is refused at once; the first completes."""
    app, base = live
    token = issue_token(app, f"quota{uuid.uuid4().hex[:8]}")
    host, port = base.removeprefix("http://").split(":")
    first = http.client.HTTPConnection(host, int(port), timeout=60)
    first.putrequest("POST", "/api/v1/files?name=first.bin")
    for name, value in {
        **bearer(token),
        "Content-Length": "6000",
        "Content-Type": "application/octet-stream",
    }.items():
        first.putheader(name, value)
    first.endheaders(b"a" * 1000)  # the rest of its body is still to come
    wait_for_a_reservation(app)
    second = requests.post(
        f"{base}/api/v1/files?name=second.bin",
        data=b"b" * 6000,
        headers={**bearer(token), "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    first.send(b"a" * 5000)
    answer = first.getresponse()
    first.close()
    assert (answer.status, second.status_code) == (201, 507)
    assert [row.name for row in stored_rows(app)] == ["first.bin"]
