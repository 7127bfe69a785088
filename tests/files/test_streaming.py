"""Uploads stream from the request body to S3: no temp file, bounded parts, limits while reading."""

from __future__ import annotations

import os
import tempfile
import threading
import tracemalloc
from io import BytesIO
from typing import Any
from unittest import mock

import pytest
import werkzeug.formparser
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from securestore.extensions import db, storage
from securestore.files.models import StoredFile
from securestore.locals3 import LocalS3
from tests.files.test_uploads import records
from tests.fixtures.forms import AuthActions, GeneratedForm, csrf_token, upload
from tests.fixtures.s3 import PRIMARY, bucket_keys, object_body, upload_parts_through

MIB = 1024 * 1024


def names(app: Flask) -> list[str]:
    return [record.name for record in records(app)]


def test_a_multipart_upload_never_reaches_werkzeugs_spooling_parser(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    # moto spools objects itself, so the check that no temp file at all is created runs on
    # SeaweedFS (test_streaming_seaweedfs.py); here werkzeug's own spooling must stay unused.
    auth.signed_up("alice")
    refuse = mock.Mock(side_effect=AssertionError("werkzeug spooled the upload"))
    form = GeneratedForm(csrf_token(client, "/files/"), "big.bin", 12 * MIB + 5)
    with mock.patch.object(werkzeug.formparser, "SpooledTemporaryFile", refuse):
        response = form.post(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert refuse.call_count == 0
    assert object_body(s3, PRIMARY, "alice/big.bin") == GeneratedForm.file_bytes(12 * MIB + 5)


@pytest.mark.config(S3_UPLOAD_CONCURRENCY=3)
def test_parts_are_uploaded_in_parallel_but_never_more_than_the_limit(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    lock = threading.Lock()
    three_in_flight = threading.Event()
    in_flight = {"now": 0, "most": 0}

    def counted_upload_part(real_upload_part: Any, **kwargs: Any) -> Any:
        with lock:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
            if in_flight["now"] == 3:
                three_in_flight.set()
        # The first parts wait for each other: only a parallel upload gets three in flight.
        three_in_flight.wait(timeout=10)
        try:
            return real_upload_part(**kwargs)
        finally:
            with lock:
                in_flight["now"] -= 1

    size = 31 * MIB  # seven 5 MiB parts
    with upload_parts_through(app, counted_upload_part):
        response = GeneratedForm(csrf_token(client, "/files/"), "p.bin", size).post(client)
    assert response.status_code == 303
    assert in_flight["most"] == 3
    assert object_body(s3, PRIMARY, "alice/p.bin") == GeneratedForm.file_bytes(size)


@pytest.mark.config(S3_UPLOAD_CONCURRENCY=2)
def test_a_slow_part_keeps_its_buffer_while_later_parts_are_read(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    # Parts are read into reused buffers: part 1 is held back until part 3 has been read and
    # sent, so a buffer handed out again before its part was sent would corrupt part 1.
    auth.signed_up("alice")
    third_sent = threading.Event()

    def part_one_last(real_upload_part: Any, **kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 1:
            assert third_sent.wait(timeout=10)
        answer = real_upload_part(**kwargs)
        if kwargs["PartNumber"] == 3:
            third_sent.set()
        return answer

    body = os.urandom(4 * 5 * MIB + 3)  # five parts, each different
    with upload_parts_through(app, part_one_last):
        response = upload(client, ("parts.bin", body))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert object_body(s3, PRIMARY, "alice/parts.bin") == body


@pytest.mark.config(MAX_UPLOAD_BYTES=12 * MIB)
def test_an_oversize_body_without_length_is_cut_off_and_its_multipart_aborted(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    with app.app_context():
        s3_client = storage.client
    form = GeneratedForm(csrf_token(client, "/files/"), "huge.bin", 40 * MIB)
    with mock.patch.object(
        s3_client, "abort_multipart_upload", wraps=s3_client.abort_multipart_upload
    ) as abort:
        response = form.post(client, chunked=True)
    assert response.status_code == 413
    assert "larger than the 12.0 MiB" in response.get_data(as_text=True)
    assert abort.call_count == 1
    assert form.sent < 20 * MIB  # cut off, not read to the end
    assert bucket_keys(s3, PRIMARY) == []
    assert s3.list_multipart_uploads(Bucket=PRIMARY).get("Uploads", []) == []
    assert names(app) == []


def test_a_file_before_the_csrf_token_is_refused_before_anything_is_stored(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    token = csrf_token(client, "/files/")
    fields = MultiDict([("file", FileStorage(BytesIO(b"early"), filename="early.txt"))])
    fields.add("csrf_token", token)
    boundary, body = encode_multipart(fields)
    response = client.post(
        "/files/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert bucket_keys(s3, PRIMARY) == []


@pytest.mark.parametrize("token", ["", "forged"])
def test_a_missing_or_forged_streamed_token_answers_400(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any, token: str
) -> None:
    auth.signed_up("alice")
    response = GeneratedForm(token, "x.bin", 100).post(client)
    assert response.status_code == 400
    assert bucket_keys(s3, PRIMARY) == []


def test_the_csrf_token_may_come_in_a_header_as_for_scripts(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    boundary, body = encode_multipart(
        MultiDict([("file", FileStorage(BytesIO(b"scripted"), filename="s.txt"))])
    )
    response = client.post(
        "/files/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"X-CSRFToken": csrf_token(client, "/files/")},
    )
    assert response.status_code == 303
    assert object_body(s3, PRIMARY, "alice/s.txt") == b"scripted"


def test_an_empty_file_does_not_hide_the_files_after_it(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    # streaming-form-data drops the part that follows an empty file; this parser must not.
    auth.signed_up("alice")
    response = upload(
        client, ("a.txt", b"a"), ("empty.txt", b""), ("c.txt", b"c" * 7), ("", b"")
    )  # the last one: a file input left empty
    assert response.status_code == 303
    assert names(app) == ["a.txt", "empty.txt", "c.txt"]
    assert object_body(s3, PRIMARY, "alice/empty.txt") == b""
    assert object_body(s3, PRIMARY, "alice/c.txt") == b"c" * 7


def test_a_bad_name_fails_alone_and_the_next_file_is_still_read(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    response = upload(client, ("..", b"x" * (6 * MIB)), ("kept.txt", b"kept"))
    assert response.status_code == 400
    assert names(app) == ["kept.txt"]
    assert object_body(s3, PRIMARY, "alice/kept.txt") == b"kept"


def test_a_malformed_multipart_body_answers_400(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    response = client.post(
        "/files/upload",
        data=b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nx',
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 400
    assert bucket_keys(s3, PRIMARY) == []


UPLOAD_BYTES = 64 * MIB


MEMORY_CAP = 17 * MIB


@pytest.mark.seaweedfs
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
