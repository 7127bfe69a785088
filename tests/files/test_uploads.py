"""Upload, list, download and delete against moto's S3, with faults injected."""

from __future__ import annotations

import hashlib
from io import BytesIO
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from securestore.errors import TooLargeError
from securestore.extensions import db, storage
from securestore.files.models import BackupState, StoredFile
from securestore.locals3 import LocalS3
from tests.fixtures.forms import AuthActions, csrf_token, upload
from tests.fixtures.s3 import BACKUP, PRIMARY, bucket_keys, object_body, upload_parts_through

MIB = 1024 * 1024


def records(app: Flask) -> list[StoredFile]:
    with app.app_context():
        return list(db.session.scalars(db.select(StoredFile).order_by(StoredFile.id)))


def test_upload_stores_identical_bytes_in_both_buckets(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    body = b"hello, secure world\n" * 100
    response = upload(client, ("hello.txt", body))
    assert response.status_code == 303
    (record,) = records(app)
    assert record.key == "alice/hello.txt"
    assert record.size == len(body)
    assert record.sha256 == hashlib.sha256(body).hexdigest()
    assert record.content_type == "text/plain"
    assert record.backup_state is BackupState.DONE
    assert record.backed_up_at is not None
    assert object_body(s3, PRIMARY, "alice/hello.txt") == body
    assert object_body(s3, BACKUP, "alice/hello.txt") == body
    meta = s3.head_object(Bucket=BACKUP, Key="alice/hello.txt")["Metadata"]
    assert meta == {"sha256": record.sha256, "owner": "alice", "filename": "hello.txt"}


def test_upload_of_several_files_lists_them_all(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice")
    response = upload(client, ("a.txt", b"a"), ("résumé 2024.pdf", b"%PDF"), ("报告.txt", b"x"))
    assert response.status_code == 303
    page = client.get("/files/").get_data(as_text=True)
    for name in ("a.txt", "résumé 2024.pdf", "报告.txt"):
        assert name in page
    assert "Backed up" in page


def test_large_upload_goes_multipart_and_keeps_every_byte(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    body = bytes(range(256)) * (11 * MIB // 256 + 7)  # > two 5 MiB parts, odd tail
    assert upload(client, ("big.bin", body)).status_code == 303
    (record,) = records(app)
    assert record.sha256 == hashlib.sha256(body).hexdigest()
    assert object_body(s3, PRIMARY, "alice/big.bin") == body
    assert object_body(s3, BACKUP, "alice/big.bin") == body


def test_same_name_upload_keeps_both_files(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    upload(client, ("report.pdf", b"first"))
    upload(client, ("report.pdf", b"second"))
    upload(client, ("report.pdf", b"third"))
    assert [r.name for r in records(app)] == ["report.pdf", "report (2).pdf", "report (3).pdf"]
    assert object_body(s3, PRIMARY, "alice/report.pdf") == b"first"
    assert object_body(s3, PRIMARY, "alice/report (2).pdf") == b"second"


def test_an_orphan_object_is_never_overwritten(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    s3.put_object(Bucket=PRIMARY, Key="alice/notes.txt", Body=b"left behind by a crash")
    assert upload(client, ("notes.txt", b"new")).status_code == 303
    assert [r.name for r in records(app)] == ["notes (2).txt"]
    assert object_body(s3, PRIMARY, "alice/notes.txt") == b"left behind by a crash"
    assert object_body(s3, PRIMARY, "alice/notes (2).txt") == b"new"


def test_users_have_separate_prefixes(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    upload(client, ("same.txt", b"alice's"))
    auth.logout()
    auth.signed_up("bob")
    upload(client, ("same.txt", b"bob's"))
    assert bucket_keys(s3, PRIMARY) == ["alice/same.txt", "bob/same.txt"]


@pytest.mark.parametrize("name", ["..", "/", "\x00"])
def test_a_name_empty_after_cleaning_is_refused_and_nothing_stored(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any, name: str
) -> None:
    auth.signed_up("alice")
    response = upload(client, (name, b"data"))
    assert response.status_code == 400
    assert "no usable characters" in response.get_data(as_text=True)
    assert records(app) == []
    assert bucket_keys(s3, PRIMARY) == []


def test_upload_without_a_file_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice")
    response = client.post("/files/upload", data={"csrf_token": csrf_token(client, "/files/")})
    assert response.status_code == 400
    assert "Choose at least one file" in response.get_data(as_text=True)


def test_upload_without_csrf_token_is_refused(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    response = client.post("/files/upload", data={"file": (BytesIO(b"x"), "x.txt")})
    assert response.status_code == 400
    assert records(app) == []
    assert bucket_keys(s3, PRIMARY) == []


def test_filenames_are_html_escaped(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice")
    upload(client, ("<img src=x onerror=alert(1)>.txt", b"x"))
    page = client.get("/files/").get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in page


@pytest.mark.config(MAX_UPLOAD_BYTES=1000)
def test_oversize_upload_answers_413_and_stores_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    response = upload(client, ("big.bin", b"x" * 2000))
    assert response.status_code == 413
    assert "larger than the 1000 B this server accepts" in response.get_data(as_text=True)
    assert records(app) == []
    assert bucket_keys(s3, PRIMARY) == []


@pytest.mark.config(MAX_UPLOAD_BYTES=6 * MIB)
def test_file_growing_past_the_limit_while_streaming_is_cut_off(app: Flask, s3: Any) -> None:
    with app.app_context(), pytest.raises(TooLargeError):
        storage.upload(
            "alice/huge.bin", BytesIO(b"x" * (7 * MIB)), content_type="a/b", max_bytes=6 * MIB
        )
    assert bucket_keys(s3, PRIMARY) == []
    assert s3.list_multipart_uploads(Bucket=PRIMARY).get("Uploads", []) == []


def test_download_returns_exact_bytes_under_the_original_name(
    client: FlaskClient, auth: AuthActions, app: Flask
) -> None:
    auth.signed_up("alice")
    body = bytes(range(256)) * 10
    upload(client, ("résumé 2024.pdf", body))
    (record,) = records(app)
    response = client.get(f"/files/{record.id}/download")
    assert response.status_code == 200
    assert response.data == body
    assert response.headers["Content-Length"] == str(len(body))
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_ 2024.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_delete_removes_the_file_from_list_and_primary(
    client: FlaskClient, auth: AuthActions, app: Flask, s3: Any
) -> None:
    auth.signed_up("alice")
    upload(client, ("gone.txt", b"bye"))
    (record,) = records(app)
    response = client.post(
        f"/files/{record.id}/delete", data={"csrf_token": csrf_token(client, "/files/")}
    )
    assert response.status_code == 303
    (kept,) = records(app)
    assert kept.deleted_at is not None  # kept for "Recently deleted" until purged
    assert bucket_keys(s3, PRIMARY) == []
    assert 'text-break">gone.txt<' not in client.get("/files/").get_data(as_text=True)
    assert client.get(f"/files/{record.id}/download").status_code == 404
    # The backup copy stays: an accidental delete can still be recovered.
    assert object_body(s3, BACKUP, "alice/gone.txt") == b"bye"


def test_delete_refused_by_s3_keeps_the_file_listed(
    client: FlaskClient, auth: AuthActions, app: Flask, s3: Any
) -> None:
    auth.signed_up("alice")
    upload(client, ("keep.txt", b"keep"))
    (record,) = records(app)
    with app.app_context():
        s3_client = storage.client
    failure = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeleteObject")
    with mock.patch.object(s3_client, "delete_object", side_effect=failure):
        response = client.post(
            f"/files/{record.id}/delete", data={"csrf_token": csrf_token(client, "/files/")}
        )
    assert response.status_code == 502
    assert len(records(app)) == 1
    assert object_body(s3, PRIMARY, "alice/keep.txt") == b"keep"


def test_delete_needs_a_csrf_token(client: FlaskClient, auth: AuthActions, app: Flask) -> None:
    auth.signed_up("alice")
    upload(client, ("keep.txt", b"keep"))
    (record,) = records(app)
    assert client.post(f"/files/{record.id}/delete").status_code == 400
    assert len(records(app)) == 1


def test_another_users_file_answers_404(
    client: FlaskClient, auth: AuthActions, app: Flask, s3: Any
) -> None:
    auth.signed_up("alice")
    upload(client, ("private.txt", b"alice only"))
    (record,) = records(app)
    auth.logout()
    auth.signed_up("mallory")
    token = csrf_token(client, "/files/")
    assert client.get(f"/files/{record.id}/download").status_code == 404
    assert client.post(f"/files/{record.id}/delete", data={"csrf_token": token}).status_code == 404
    assert client.get("/files/999999/download").status_code == 404
    assert "private.txt" not in client.get("/files/").get_data(as_text=True)
    assert object_body(s3, PRIMARY, "alice/private.txt") == b"alice only"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/files/"),
        ("post", "/files/upload"),
        ("get", "/files/1/download"),
        ("post", "/files/1/delete"),
    ],
)
def test_every_files_route_refuses_anonymous_users(
    client: FlaskClient, method: str, path: str
) -> None:
    token = csrf_token(client)
    response = getattr(client, method)(
        path, data={"csrf_token": token} if method == "post" else None
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_backup_failure_keeps_the_upload_and_marks_it_pending(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    auth.signed_up("alice")
    s3.delete_bucket(Bucket=BACKUP)
    response = upload(client, ("important.txt", b"keep me"))
    assert response.status_code == 303
    (record,) = records(app)
    assert record.backup_state is BackupState.PENDING
    assert record.backup_error == f"NoSuchBucket on s3://{BACKUP}/alice/important.txt"
    assert record.backup_attempts == 1
    assert object_body(s3, PRIMARY, "alice/important.txt") == b"keep me"
    assert f"s3://{BACKUP}/alice/important.txt" in caplog.text
    assert "Backup pending" in client.get("/files/").get_data(as_text=True)


@pytest.mark.parametrize(
    "failure",
    [
        ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "PutObject"),
        EndpointConnectionError(endpoint_url="http://s3.invalid"),
    ],
)
def test_primary_failure_leaves_no_row_and_no_object(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any, failure: Exception
) -> None:
    auth.signed_up("alice")
    with app.app_context():
        s3_client = storage.client
    with mock.patch.object(s3_client, "put_object", side_effect=failure):
        response = upload(client, ("lost.txt", b"never stored"))
    assert response.status_code == 502
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert records(app) == []
    assert bucket_keys(s3, PRIMARY) == []
    assert bucket_keys(s3, BACKUP) == []


def test_primary_failure_mid_multipart_aborts_the_upload(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    calls = {"n": 0}

    def fail_second_part(real_upload_part: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "x"}}, "UploadPart")
        return real_upload_part(**kwargs)

    with upload_parts_through(app, fail_second_part):
        response = upload(client, ("big.bin", b"x" * (12 * MIB)))
    assert response.status_code == 502
    assert records(app) == []
    assert bucket_keys(s3, PRIMARY) == []
    assert s3.list_multipart_uploads(Bucket=PRIMARY).get("Uploads", []) == []


def test_database_failure_after_upload_removes_both_copies(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    with mock.patch(
        "securestore.files.lifecycle.db.session.commit",
        side_effect=OperationalError("INSERT", {}, Exception("disk I/O error")),
    ):
        response = upload(client, ("doc.txt", b"data"))
    assert response.status_code == 503
    assert records(app) == []
    assert bucket_keys(s3, PRIMARY) == bucket_keys(s3, BACKUP) == []


def test_an_upload_commits_the_session_once_with_its_backup_state(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    """The copy is made before the row is saved: one commit, no lease, nothing for sync."""
    auth.signed_up("alice")
    commits: list[list[str]] = []
    with app.app_context():
        session_class = db.session.session_factory.class_

    def on_commit(session: Any) -> None:
        commits.append([type(item).__name__ for item in session.identity_map.values()])

    event.listen(session_class, "after_commit", on_commit)
    try:
        assert upload(client, ("once.txt", b"one commit")).status_code == 303
    finally:
        event.remove(session_class, "after_commit", on_commit)
    assert len(commits) == 1
    (record,) = records(app)
    assert record.backup_state is BackupState.DONE
    assert record.backup_lease_until is None


@pytest.mark.seaweedfs
def test_register_upload_list_download_delete_on_seaweedfs(
    seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    s3: Any = seaweedfs.client()
    client = seaweed_app.test_client()
    auth = AuthActions(client)
    auth.signed_up("weeduser")
    small = "résumé 2024".encode() * 50
    large = bytes(range(256)) * (6 * MIB // 256 + 3)  # multipart: two parts

    response = upload(client, ("résumé 2024.txt", small), ("big.bin", large))
    assert response.status_code == 303
    upload(client, ("résumé 2024.txt", b"second"))

    with seaweed_app.app_context():
        files = {f.name: f for f in db.session.scalars(db.select(StoredFile))}
    assert set(files) == {"résumé 2024.txt", "résumé 2024 (2).txt", "big.bin"}
    for name, body in (
        ("résumé 2024.txt", small),
        ("big.bin", large),
        ("résumé 2024 (2).txt", b"second"),
    ):
        record = files[name]
        assert record.backup_state is BackupState.DONE
        assert record.sha256 == hashlib.sha256(body).hexdigest()
        assert object_body(s3, PRIMARY, record.key) == body
        assert object_body(s3, BACKUP, record.key) == body
        downloaded = client.get(f"/files/{record.id}/download")
        assert downloaded.status_code == 200
        assert downloaded.data == body

    page = client.get("/files/").get_data(as_text=True)
    assert "résumé 2024 (2).txt" in page

    big = files["big.bin"]
    response = client.post(
        f"/files/{big.id}/delete", data={"csrf_token": csrf_token(client, "/files/")}
    )
    assert response.status_code == 303
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=PRIMARY).get("Contents", [])]
    assert big.key not in keys
    assert client.get(f"/files/{big.id}/download").status_code == 404


@pytest.mark.seaweedfs
def test_seaweedfs_refuses_to_overwrite_an_existing_key(
    seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    s3: Any = seaweedfs.client()
    client = seaweed_app.test_client()
    AuthActions(client).signed_up("orphan")
    # An object without a row (left by a crash, put there by hand): the name is free in the
    # database, but the upload must not overwrite the object.
    s3.put_object(Bucket=PRIMARY, Key="orphan/notes.txt", Body=b"older")
    assert upload(client, ("notes.txt", b"newer")).status_code == 303
    assert object_body(s3, PRIMARY, "orphan/notes.txt") == b"older"
    assert object_body(s3, PRIMARY, "orphan/notes (2).txt") == b"newer"
