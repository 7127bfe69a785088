"""What an anonymous or hostile request body can cost (the second audit): small limits
everywhere but uploads, no spooling, bounded files and queries per request, ids that
cannot overflow, content types that cannot break a download, health details for the host."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any
from unittest import mock

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from securestore.extensions import db
from securestore.files.models import StoredFile
from tests.api.conftest import issue_token
from tests.files.test_listing import QueryCounter
from tests.fixtures.forms import AuthActions, csrf_token, upload
from tests.fixtures.s3 import PRIMARY, bucket_keys
from tests.security.test_attacks import ARGUMENTS, JSON_BODIES, build, routes

MIB = 1024 * 1024


@contextmanager
def no_temporary_files() -> Iterator[None]:
    """Fail the test if anything creates a temporary file (werkzeug spools parts to them)."""
    refuse = mock.Mock(side_effect=AssertionError("a temporary file was created"))
    with (
        mock.patch.object(tempfile, "SpooledTemporaryFile", refuse),
        mock.patch.object(tempfile, "TemporaryFile", refuse),
        mock.patch.object(tempfile, "NamedTemporaryFile", refuse),
    ):
        yield


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/auth/2fa"])
def test_an_anonymous_30_mib_post_is_refused_before_it_is_read(
    client: FlaskClient, path: str
) -> None:
    """413 from the Content-Length alone: no CSRF parsing, no temporary file."""
    body = b"x" * (30 * MIB)
    with no_temporary_files():
        response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "1.0 MiB" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/settings/tokens/"])
def test_a_multipart_body_anywhere_but_the_upload_routes_is_refused_unparsed(
    client: FlaskClient, auth: AuthActions, path: str
) -> None:
    auth.signed_up("alice")
    fields = MultiDict([("file", FileStorage(BytesIO(b"y" * 100_000), filename="a.bin"))])
    boundary, body = encode_multipart(fields)
    with no_temporary_files():
        response = client.post(
            path, data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )
    assert response.status_code == 415


@pytest.mark.config(MAX_FILES_PER_REQUEST=100)
def test_an_upload_of_1100_tiny_files_stops_after_the_limit(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    files = [(f"f{n}.txt", b"1") for n in range(1100)]
    response = upload(client, *files, Accept="application/json")
    assert response.status_code == 413
    assert response.json["errors"][-1]["code"] == "too_many_files"
    assert "at most 100 files" in response.json["errors"][-1]["message"]
    assert len(response.json["files"]) == 100
    assert len(bucket_keys(s3, PRIMARY)) == 100


@pytest.mark.config(MAX_FILES_PER_REQUEST=300)
def test_300_files_of_one_name_cost_a_bounded_number_of_queries_each(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    """The next free `name (N)` is found with two queries, however many exist already."""
    auth.signed_up("alice")
    token = csrf_token(client, "/files/")
    fields = MultiDict([("csrf_token", token)])
    for _ in range(300):
        fields.add("file", FileStorage(BytesIO(b"s"), filename="s.txt"))
    boundary, body = encode_multipart(fields)
    with app.app_context():
        engine = db.engine
    with QueryCounter(engine) as counter:
        response = client.post(
            "/files/upload",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 201
    assert response.json["files"][-1]["name"] == "s (300).txt"
    assert len(counter.statements) < 300 * 8, len(counter.statements)


def test_ids_past_64_bits_answer_404_on_every_route(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """One converter for ids: 2^63 cannot reach a query (it answered 500 on restore and on
    token revoke)."""
    auth.signed_up("alice")
    token = csrf_token(client, "/files/")
    bearer = {"Authorization": f"Bearer {issue_token(app, 'alice')}"}
    huge = {
        **ARGUMENTS,
        "file_id": 2**63,
        "token_id": 2**63,
        "user_id": 2**63,
        "invitation_id": 2**63,
        "folder_id": 2**63,
        "version_id": 2**63,
        "upload_id": 2**63,
    }
    checked = 0
    for rule, method, arguments in routes(app, {"GET", "POST", "DELETE"}):
        if not arguments or rule.startswith("/static"):
            continue
        body = (
            {"json": JSON_BODIES[rule]} if rule in JSON_BODIES else {"data": {"csrf_token": token}}
        )
        response = client.open(build(rule, huge), method=method, headers=bearer, **body)
        assert response.status_code == 404, (method, rule)
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize(
    ("declared", "kept"),
    [
        ("text/hĥml", "application/octet-stream"),
        ("ünïcode/type", "application/octet-stream"),
        ("TEXT/HTML; charset=ü", "text/html"),  # parameters are dropped anyway
    ],
)
def test_a_non_ascii_content_type_is_stored_as_octet_stream_and_downloads(
    app: Flask, client: FlaskClient, auth: AuthActions, declared: str, kept: str
) -> None:
    auth.signed_up("alice")
    fields = MultiDict(
        [
            ("csrf_token", csrf_token(client, "/files/")),
            (
                "file",
                FileStorage(BytesIO(b"<b>hi</b>"), filename="page.htm", content_type=declared),
            ),
        ]
    )
    boundary, body = encode_multipart(fields)
    stored = client.post(
        "/files/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Accept": "application/json"},
    )
    assert stored.status_code == 201
    file_id = stored.json["files"][0]["id"]
    with app.app_context():
        assert db.session.get(StoredFile, file_id).content_type == kept
    download = client.get(f"/files/{file_id}/download")
    assert download.status_code == 200
    assert download.data == b"<b>hi</b>"
    assert download.headers["Content-Type"].startswith(kept)


def test_a_legacy_row_with_a_non_ascii_type_still_downloads(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    upload(client, ("old.txt", b"old bytes"))
    with app.app_context():
        db.session.execute(db.update(StoredFile).values(content_type="text/hĥml"))
        db.session.commit()
        file_id = db.session.scalar(db.select(StoredFile.id))
    download = client.get(f"/files/{file_id}/download")
    assert (download.status_code, download.data) == (200, b"old bytes")
    assert re.fullmatch(r"[\x20-\x7e]+", download.headers["Content-Type"])
