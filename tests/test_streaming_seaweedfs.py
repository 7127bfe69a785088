"""Streaming against a real S3 server: memory stays below the upload size, no temp file,
ranged downloads and presigned redirects that S3 itself answers."""

from __future__ import annotations

import tempfile
import tracemalloc
import urllib.request
from typing import Any
from unittest import mock

import pytest
import werkzeug.formparser
from flask import Flask

from securestore.extensions import db
from securestore.files.models import StoredFile
from securestore.formatting import content_disposition
from securestore.locals3 import LocalS3
from tests.conftest import PRIMARY, AuthActions, GeneratedForm, csrf_token, upload

pytestmark = pytest.mark.seaweedfs
MIB = 1024 * 1024
UPLOAD_BYTES = 64 * MIB
# Two 5 MiB parts in flight and the one being read, in buffers reused from part to part, plus
# a little for the decoder's chunks: three parts whatever the file size (a reader that joins
# each part from its chunks and hands botocore bytes peaks above 23 MiB here).
MEMORY_CAP = 17 * MIB


@pytest.mark.config(S3_UPLOAD_CONCURRENCY=2)
def test_a_64_mib_upload_streams_in_bounded_memory_without_temp_files(
    seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    client = seaweed_app.test_client()
    AuthActions(client).signed_up("streamer")
    form = GeneratedForm(csrf_token(client, "/files/"), "movie.bin", UPLOAD_BYTES)
    refuse = mock.Mock(side_effect=AssertionError("a temporary file was created"))
    with (
        mock.patch.object(tempfile, "TemporaryFile", refuse),
        mock.patch.object(tempfile, "NamedTemporaryFile", refuse),
        mock.patch.object(tempfile, "SpooledTemporaryFile", refuse),
        mock.patch.object(tempfile, "mkstemp", refuse),
        mock.patch.object(werkzeug.formparser, "SpooledTemporaryFile", refuse),
    ):
        tracemalloc.start()
        try:
            response = form.post(client)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 303, response.get_data(as_text=True)
    assert refuse.call_count == 0
    assert form.sent == form.length
    assert peak < MEMORY_CAP, f"peak {peak / MIB:.1f} MiB"
    with seaweed_app.app_context():
        record = db.session.scalars(db.select(StoredFile)).one()
    assert record.size == UPLOAD_BYTES
    head = seaweedfs.client().head_object(Bucket=PRIMARY, Key="streamer/movie.bin")
    assert head["ContentLength"] == UPLOAD_BYTES


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
