"""Downloads: single byte ranges with ranged S3 GETs, the presigned-redirect mode and the
nginx-fetched (accel) mode (on the shipped nginx: tests/deploy/test_accel_downloads.py)."""

from __future__ import annotations

import urllib.request
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from securestore.extensions import db, storage
from securestore.files.models import StoredFile
from securestore.files.responses import ACCEL_LOCATION, FALLBACK_HEADER, OBJECT_URL_HEADER
from securestore.formatting import content_disposition
from tests.fixtures.forms import AuthActions, upload

BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def stored(app: Flask, client: FlaskClient, auth: AuthActions, s3: Any) -> StoredFile:
    auth.signed_up("alice")
    assert upload(client, ("clip.mp4", BODY)).status_code == 303
    with app.app_context():
        return db.session.scalars(db.select(StoredFile)).one()


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),  # the first bytes
        ("bytes=5000-5999", 5000, 6000),  # a seek into the middle
        ("bytes=-256", 10240 - 256, 10240),  # the last bytes
        ("bytes=9000-", 9000, 10240),  # a resumed download
        ("bytes=10000-99999", 10000, 10240),  # a range past the end is cut to the end
    ],
)
def test_a_single_range_answers_206_with_exactly_those_bytes(
    app: Flask, client: FlaskClient, stored: StoredFile, header: str, start: int, stop: int
) -> None:
    with app.app_context():
        s3_client = storage.client
    with mock.patch.object(s3_client, "get_object", wraps=s3_client.get_object) as get:
        response = client.get(f"/files/{stored.id}/download", headers={"Range": header})
    assert response.status_code == 206
    assert response.data == BODY[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/10240"
    assert response.headers["Content-Length"] == str(stop - start)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Disposition"] == content_disposition("clip.mp4")
    # Only the range travels from S3, not the whole object.
    assert get.call_args.kwargs["Range"] == f"bytes={start}-{stop - 1}"


def test_a_full_download_advertises_ranges_and_a_strong_validator(
    client: FlaskClient, stored: StoredFile
) -> None:
    response = client.get(f"/files/{stored.id}/download")
    assert response.status_code == 200
    assert response.data == BODY
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"] == f'"{stored.sha256}"'
    assert "Last-Modified" in response.headers


def test_a_range_beyond_the_file_answers_416_with_its_length(
    client: FlaskClient, stored: StoredFile
) -> None:
    response = client.get(f"/files/{stored.id}/download", headers={"Range": "bytes=20000-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */10240"
    assert "does not exist" in response.get_data(as_text=True)


@pytest.mark.parametrize("header", ["bytes=0-9,20-29", "bytes=oops", "pages=1-2"])
def test_ranges_it_does_not_serve_get_the_whole_file(
    client: FlaskClient, stored: StoredFile, header: str
) -> None:
    response = client.get(f"/files/{stored.id}/download", headers={"Range": header})
    assert response.status_code == 200
    assert response.data == BODY


def test_if_range_resumes_the_same_file_and_restarts_a_changed_one(
    client: FlaskClient, stored: StoredFile
) -> None:
    same = client.get(
        f"/files/{stored.id}/download",
        headers={"Range": "bytes=100-", "If-Range": f'"{stored.sha256}"'},
    )
    assert same.status_code == 206
    assert same.data == BODY[100:]
    other = client.get(
        f"/files/{stored.id}/download", headers={"Range": "bytes=100-", "If-Range": '"other"'}
    )
    assert other.status_code == 200
    assert other.data == BODY


@pytest.mark.config(DOWNLOAD_MODE="redirect", DOWNLOAD_URL_SECONDS=120)
def test_redirect_mode_sends_a_short_lived_presigned_url_with_the_attachment_name(
    client: FlaskClient, stored: StoredFile, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get(f"/files/{stored.id}/download")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert location.path.endswith("/alice/clip.mp4")
    assert query["response-content-disposition"] == [content_disposition("clip.mp4")]
    assert query["response-content-type"] == ["video/mp4"]
    assert query["X-Amz-Expires"] == ["120"]
    assert "X-Amz-Signature" in query
    assert "X-Amz-Signature" not in caplog.text


@pytest.mark.parametrize(
    "mode",
    [pytest.param(m, marks=pytest.mark.config(DOWNLOAD_MODE=m)) for m in ("redirect", "accel")],
)
def test_every_download_mode_still_hides_other_users_files(
    client: FlaskClient, auth: AuthActions, stored: StoredFile, mode: str
) -> None:
    auth.logout()
    auth.signed_up("mallory")
    response = client.get(f"/files/{stored.id}/download")
    assert response.status_code == 404
    assert "Location" not in response.headers and OBJECT_URL_HEADER not in response.headers


@pytest.mark.config(DOWNLOAD_MODE="accel")
def test_accel_mode_hands_nginx_a_presigned_url_and_sends_no_bytes(
    client: FlaskClient, stored: StoredFile, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get(f"/files/{stored.id}/download", headers={"Range": "bytes=0-99"})
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["X-Accel-Redirect"] == ACCEL_LOCATION
    assert "Content-Type" not in response.headers  # S3's answer carries the file's
    url = urlsplit(response.headers[OBJECT_URL_HEADER])
    query = parse_qs(url.query)
    assert url.path.endswith("/alice/clip.mp4")
    assert query["response-content-disposition"] == [content_disposition("clip.mp4")]
    assert query["response-content-type"] == ["video/mp4"]
    assert "X-Amz-Signature" not in caplog.text


@pytest.mark.config(DOWNLOAD_MODE="accel")
def test_accel_mode_streams_a_head_and_nginx_s_fallback_and_refuses_a_range_past_the_end(
    client: FlaskClient, stored: StoredFile
) -> None:
    path = f"/files/{stored.id}/download"
    head = client.head(path)
    assert head.status_code == 200 and "X-Accel-Redirect" not in head.headers
    assert head.content_length == len(BODY)
    fallback = client.get(path, headers={FALLBACK_HEADER: "1", "Range": "bytes=10-19"})
    assert fallback.status_code == 206 and fallback.data == BODY[10:20]
    assert "X-Accel-Redirect" not in fallback.headers
    assert client.get(path, headers={"Range": "bytes=20000-"}).status_code == 416


@pytest.mark.seaweedfs
def test_range_requests_are_served_by_seaweedfs(seaweed_app: Flask) -> None:
    client = seaweed_app.test_client()
    AuthActions(client).signed_up("ranger")
    body = bytes(range(256)) * 100
    upload(client, ("song.mp3", body))
    with seaweed_app.app_context():
        record = db.session.scalars(db.select(StoredFile)).one()
    path = f"/files/{record.id}/download"
    for header, expected in (
        ("bytes=0-9", body[:10]),
        ("bytes=1000-1999", body[1000:2000]),
        ("bytes=-100", body[-100:]),
    ):
        response = client.get(path, headers={"Range": header})
        assert response.status_code == 206
        assert response.data == expected
    assert client.get(path, headers={"Range": "bytes=999999-"}).status_code == 416


@pytest.mark.seaweedfs
@pytest.mark.config(DOWNLOAD_MODE="redirect")
def test_the_presigned_redirect_downloads_from_seaweedfs_as_an_attachment(
    seaweed_app: Flask,
) -> None:
    client = seaweed_app.test_client()
    AuthActions(client).signed_up("redirected")
    upload(client, ("résumé 2024.pdf", b"%PDF-1.7 bytes"))
    with seaweed_app.app_context():
        record = db.session.scalars(db.select(StoredFile)).one()
    response = client.get(f"/files/{record.id}/download")
    assert response.status_code == 302
    answer: Any
    with urllib.request.urlopen(response.headers["Location"], timeout=10) as answer:
        assert answer.read() == b"%PDF-1.7 bytes"
        assert answer.headers["Content-Disposition"] == content_disposition("résumé 2024.pdf")
