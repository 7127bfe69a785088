"""Backups under injected faults (moto): retry, sync, verify, repair, delete/restore, recovery."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.exc import OperationalError

from securestore import create_app
from securestore.audit.models import AuditEvent
from securestore.auth.models import User
from securestore.backups import service as backups
from securestore.db_types import utcnow
from securestore.errors import DatabaseError
from securestore.extensions import db, storage
from securestore.files import service as files
from securestore.files.models import BackupState, StoredFile
from securestore.locals3 import LocalS3
from tests import factories
from tests.fixtures.apps import PASSWORD, base_config
from tests.fixtures.forms import AuthActions, csrf_token, upload
from tests.fixtures.s3 import BACKUP, PRIMARY, bucket_keys, object_body


def add_user(app: Flask, username: str = "alice") -> int:
    """Create an account directly (no password hashing: these tests never log in)."""
    with app.app_context():
        return factories.add_user(username).id


def store(app: Flask, user_id: int, name: str, body: bytes) -> StoredFile:
    """Upload one file through the files service, as the upload view does."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        record = files.store_upload(
            user, files.Incoming(name, BytesIO(body), "text/plain", None), address=None
        )
        db.session.refresh(record)
        db.session.expunge(record)
        return record


def row(app: Flask, file_id: int) -> StoredFile:
    with app.app_context():
        record = db.session.get(StoredFile, file_id)
        assert record is not None
        db.session.expunge(record)
        return record


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["backup", *args])


@pytest.mark.config(BACKUP_MAX_ATTEMPTS=3)
def test_backup_bucket_missing_during_upload_is_completed_by_sync_with_backoff(
    app: Flask, s3: Any
) -> None:
    alice = add_user(app)
    s3.delete_bucket(Bucket=BACKUP)
    record = store(app, alice, "notes.txt", b"precious bytes")
    pending = row(app, record.id)
    assert pending.backup_state is BackupState.PENDING
    assert pending.backup_attempts == 1
    assert pending.backup_lease_until is None  # nobody holds it: the next sync copies it

    first = run(app, "sync")  # the upload's failure is retried at once, and fails again
    assert first.exit_code == 1
    assert "copied 0, failed 1" in first.output
    second = row(app, record.id)
    assert second.backup_attempts == 2
    assert second.backup_next_attempt_at is not None
    assert second.backup_next_attempt_at - utcnow() > timedelta(seconds=50)  # backoff: 1 min
    assert "copied 0, failed 0" in run(app, "sync").output  # not due yet

    assert run(app, "sync", "--now").exit_code == 1  # third attempt: gives up
    failed = row(app, record.id)
    assert failed.backup_state is BackupState.FAILED
    assert failed.backup_error == f"NoSuchBucket on s3://{BACKUP}/alice/notes.txt"
    assert "NoSuchBucket" in run(app, "verify").output  # verify needs both buckets

    s3.create_bucket(Bucket=BACKUP)
    report = run(app, "verify").output
    assert "backup missing: owner alice, key alice/notes.txt: no object (backup failed:" in report
    assert "0 done, 0 pending, 1 failed" in report
    done = run(app, "sync", "--now")
    assert done.exit_code == 0, done.output
    assert "copied 1, failed 0" in done.output
    assert row(app, record.id).backup_state is BackupState.DONE
    assert object_body(s3, BACKUP, "alice/notes.txt") == b"precious bytes"
    assert s3.head_object(Bucket=BACKUP, Key="alice/notes.txt")["Metadata"] == {
        "sha256": hashlib.sha256(b"precious bytes").hexdigest(),
        "owner": "alice",
        "filename": "notes.txt",
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_app(request: pytest.FixtureRequest, s3: Any, database_url: str) -> Any:
    """An app whose database two threads can share: the test's SQLite file or PostgreSQL."""
    url = database_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    application = create_app(base_config(url))
    if request.param == "postgresql":
        with application.app_context():
            upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


def test_two_concurrent_syncs_copy_every_pending_file_exactly_once(
    shared_app: Flask, s3: Any
) -> None:
    alice = add_user(shared_app)
    s3.delete_bucket(Bucket=BACKUP)
    ids = [store(shared_app, alice, f"f{n}.txt", b"x" * n).id for n in range(16)]
    s3.create_bucket(Bucket=BACKUP)
    with shared_app.app_context():
        client = storage.client
    real_copy = client.copy_object
    copies: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(2)

    def counted_copy(**kwargs: Any) -> Any:
        with lock:
            copies[kwargs["Key"]] += 1
        return real_copy(**kwargs)

    reports: list[backups.SyncReport] = []

    def one_run() -> None:
        with shared_app.app_context():
            start.wait()
            reports.append(backups.sync())

    with mock.patch.object(client, "copy_object", side_effect=counted_copy):
        runs = [threading.Thread(target=one_run) for _ in range(2)]
        for thread in runs:
            thread.start()
        for thread in runs:
            thread.join()
    assert len(reports) == 2
    assert sum(report.copied for report in reports) == 16
    assert copies == Counter({f"alice/f{n}.txt": 1 for n in range(16)})
    assert {row(shared_app, file_id).backup_state for file_id in ids} == {BackupState.DONE}


def test_verify_reports_every_fault_and_repair_fixes_them(
    app: Flask, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    alice = add_user(app)
    bodies = {name: name.encode() * 100 for name in ("ok", "gone", "bad", "lost", "torn")}
    for name, body in bodies.items():
        store(app, alice, name, body)
    s3.delete_object(Bucket=BACKUP, Key="alice/gone")
    s3.put_object(Bucket=BACKUP, Key="alice/bad", Body=b"bit rot")
    s3.delete_object(Bucket=PRIMARY, Key="alice/lost")
    s3.put_object(Bucket=PRIMARY, Key="alice/torn", Body=b"truncated")
    # A crash between the objects and the row: the commit fails and so does the clean-up.
    with (
        mock.patch(
            "securestore.files.lifecycle.db.session.commit",
            side_effect=OperationalError("INSERT", {}, Exception("disk I/O error")),
        ),
        mock.patch.object(
            s3_client(app),
            "delete_object",
            side_effect=ClientError({"Error": {"Code": "InternalError"}}, "DeleteObject"),
        ),
        pytest.raises(DatabaseError),
    ):
        store(app, alice, "crash.txt", b"no row")
    assert "orphan left at s3://test-primary/alice/crash.txt" in caplog.text
    assert "orphan left at s3://test-backup/alice/crash.txt" in caplog.text

    report = run(app, "verify")
    assert report.exit_code == 1
    lines = report.output.splitlines()
    assert "backup missing: owner alice, key alice/gone: no object" in lines
    assert any(
        line.startswith("backup mismatched: owner alice, key alice/bad: size 7") for line in lines
    )
    assert "primary missing: owner alice, key alice/lost: no object" in lines
    assert any(
        line.startswith("primary mismatched: owner alice, key alice/torn:") for line in lines
    )
    for copy in ("primary", "backup"):
        assert any(
            line.startswith(f"{copy} orphan: owner alice, key alice/crash.txt: 6 bytes")
            for line in lines
        )
    assert "checked 5, ok 1, missing 2, mismatched 2, orphans 2, fixed 0" in lines[-1]

    repaired = run(app, "verify", "--repair")
    assert repaired.exit_code == 1  # the orphan is only reported: repair never deletes
    assert "fixed 4" in repaired.output
    assert object_body(s3, PRIMARY, "alice/crash.txt") == b"no row"
    assert object_body(s3, BACKUP, "alice/crash.txt") == b"no row"

    cleaned = run(app, "verify", "--delete-orphans", "--orphan-min-age", "0")
    assert cleaned.exit_code == 0, cleaned.output
    assert "-> deleted" in cleaned.output
    deep = run(app, "verify", "--deep")
    assert deep.exit_code == 0, deep.output
    assert "checked 5, ok 5" in deep.output
    assert "5 verified" in deep.output
    for name, body in bodies.items():
        assert object_body(s3, PRIMARY, f"alice/{name}") == body
        assert object_body(s3, BACKUP, f"alice/{name}") == body
    assert bucket_keys(s3, PRIMARY) == sorted(f"alice/{name}" for name in bodies)
    assert bucket_keys(s3, BACKUP) == sorted(f"alice/{name}" for name in bodies)


def s3_client(app: Flask) -> Any:
    with app.app_context():
        return storage.client


def test_deep_verify_catches_corruption_that_keeps_size_and_metadata(app: Flask, s3: Any) -> None:
    alice = add_user(app)
    record = store(app, alice, "same-size.bin", b"A" * 64)
    metadata = s3.head_object(Bucket=BACKUP, Key=record.key)["Metadata"]
    s3.put_object(Bucket=BACKUP, Key=record.key, Body=b"B" * 64, Metadata=metadata)
    deep = run(app, "verify", "--deep", "--user", "alice")
    assert deep.exit_code == 1
    assert f"backup mismatched: owner alice, key {record.key}: content sha256" in deep.output
    assert run(app, "verify", "--deep", "--repair").exit_code == 0
    assert object_body(s3, BACKUP, record.key) == b"A" * 64


def test_verify_of_an_unknown_user_names_it(app: Flask) -> None:
    result = run(app, "verify", "--user", "ghost")
    assert result.exit_code == 1
    assert "No user named 'ghost'" in result.output


def test_download_falls_back_to_the_backup_when_the_primary_fails(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    auth.signed_up("alice")
    body = "résumé".encode() * 1000
    upload(client, ("cv.txt", body))
    with app.app_context():
        (record,) = db.session.scalars(db.select(StoredFile)).all()
    s3.delete_object(Bucket=PRIMARY, Key=record.key)
    missing = client.get(f"/files/{record.id}/download")
    assert missing.status_code == 200
    assert missing.data == body
    assert f"primary s3://{PRIMARY}/alice/cv.txt unavailable" in caplog.text

    real_get = s3_client(app).get_object

    def primary_unreachable(**kwargs: Any) -> Any:
        if kwargs["Bucket"] == PRIMARY:
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")
        return real_get(**kwargs)

    with mock.patch.object(s3_client(app), "get_object", side_effect=primary_unreachable):
        unreachable = client.get(f"/files/{record.id}/download")
    assert unreachable.status_code == 200
    assert unreachable.data == body
    assert client.get("/storage/health").json["backups"]["served_from_backup"] == 2

    s3.delete_object(Bucket=BACKUP, Key=record.key)
    both_gone = client.get(f"/files/{record.id}/download")
    assert both_gone.status_code == 502
    assert "no readable copy of alice/cv.txt" in caplog.text


def test_delete_then_restore_within_retention_keeps_the_backup_safe_from_new_uploads(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    upload(client, ("report.pdf", b"the original"))
    with app.app_context():
        (original,) = db.session.scalars(db.select(StoredFile)).all()
    token = csrf_token(client, "/files/")
    assert (
        client.post(f"/files/{original.id}/delete", data={"csrf_token": token}).status_code == 303
    )
    upload(client, ("report.pdf", b"a new upload"))  # the deleted file's name stays reserved
    assert object_body(s3, BACKUP, "alice/report.pdf") == b"the original"
    assert object_body(s3, BACKUP, "alice/report (2).pdf") == b"a new upload"

    page = client.get("/files/deleted").get_data(as_text=True)
    assert 'text-break">report.pdf<' in page
    assert f'action="/files/{original.id}/restore"' in page
    assert 'name="csrf_token"' in page
    assert client.post(f"/files/{original.id}/restore").status_code == 400  # no CSRF token
    assert client.get(f"/files/{original.id}/download").status_code == 404

    restored = client.post(f"/files/{original.id}/restore", data={"csrf_token": token})
    assert restored.status_code == 303
    assert object_body(s3, PRIMARY, "alice/report.pdf") == b"the original"
    assert client.get(f"/files/{original.id}/download").data == b"the original"
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert events.count("restore") == 1
    assert "Nothing deleted recently" in client.get("/files/deleted").get_data(as_text=True)
    listing = client.get("/files/").get_data(as_text=True)
    assert 'text-break">report.pdf<' in listing and 'text-break">report (2).pdf<' in listing

    assert (
        client.post(f"/files/{original.id}/delete", data={"csrf_token": token}).status_code == 303
    )
    auth.logout()
    auth.signed_up("mallory")
    token = csrf_token(client, "/files/")
    assert (
        client.post(f"/files/{original.id}/restore", data={"csrf_token": token}).status_code == 404
    )
    assert "report.pdf" not in client.get("/files/deleted").get_data(as_text=True)


@pytest.mark.config(BACKUP_RETENTION_DAYS=7)
def test_sync_purges_deleted_files_only_after_retention(app: Flask, s3: Any) -> None:
    alice = add_user(app)
    old = store(app, alice, "old.txt", b"old")
    recent = store(app, alice, "recent.txt", b"recent")
    with app.app_context():
        user = db.session.get(User, alice)
        files.delete_file(user, old.id, address=None)
        files.delete_file(user, recent.id, address=None)
        db.session.get(StoredFile, old.id).deleted_at = utcnow() - timedelta(days=8)
        db.session.commit()
    result = run(app, "sync")
    assert result.exit_code == 0, result.output
    assert "purged 1" in result.output
    with app.app_context():
        assert db.session.get(StoredFile, old.id) is None
    assert row(app, recent.id).deleted_at is not None
    assert bucket_keys(s3, BACKUP) == ["alice/recent.txt"]
    assert bucket_keys(s3, PRIMARY) == []


def test_delete_is_refused_while_the_only_copy_is_the_primary(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    s3.delete_bucket(Bucket=BACKUP)
    upload(client, ("only.txt", b"one copy"))
    with app.app_context():
        (record,) = db.session.scalars(db.select(StoredFile)).all()
    token = csrf_token(client, "/files/")
    refused = client.post(f"/files/{record.id}/delete", data={"csrf_token": token})
    assert refused.status_code == 503
    assert "could not be undone" in refused.get_data(as_text=True)
    assert object_body(s3, PRIMARY, "alice/only.txt") == b"one copy"
    s3.create_bucket(Bucket=BACKUP)
    assert client.post(f"/files/{record.id}/delete", data={"csrf_token": token}).status_code == 303
    assert object_body(s3, BACKUP, "alice/only.txt") == b"one copy"
    assert row(app, record.id).backup_state is BackupState.DONE


def test_restore_rebuilds_a_user_after_losing_the_database_and_the_primary(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    s3: Any,
    template_database: Path,
    tmp_path: Path,
) -> None:
    auth.signed_up("alice")
    bodies = {"résumé 2024.pdf": b"%PDF" * 500, "报告.txt": "报告".encode(), "a.bin": bytes(256)}
    upload(client, *bodies.items())
    for key in bucket_keys(s3, PRIMARY):
        s3.delete_object(Bucket=PRIMARY, Key=key)
    fresh = tmp_path / "after-disaster.db"
    fresh.write_bytes(template_database.read_bytes())
    recovered = create_app(base_config(f"sqlite:///{fresh}"))

    result = run(recovered, "restore", "--user", "alice")
    assert result.exit_code == 0, result.output
    assert "Created account alice with no usable password" in result.output
    assert "restored 3 files of alice" in result.output
    assert "restored 0 files" in run(recovered, "restore", "--user", "alice").output
    assert run(recovered, "verify", "--deep").exit_code == 0

    runner = recovered.test_cli_runner()
    runner.invoke(args=["users", "set-password", "alice", "--password", PASSWORD])
    browser = recovered.test_client()
    AuthActions(browser).login("alice")
    with recovered.app_context():
        records = {r.name: r for r in db.session.scalars(db.select(StoredFile))}
    assert set(records) == set(bodies)
    for name, body in bodies.items():
        assert browser.get(f"/files/{records[name].id}/download").data == body
        assert object_body(s3, PRIMARY, records[name].key) == body
    with recovered.app_context():
        db.engine.dispose()


FAULT_PRIMARY = "faults-primary"


FAULT_BACKUP = "faults-backup"


@pytest.mark.seaweedfs
@pytest.mark.config(S3_PRIMARY_BUCKET=FAULT_PRIMARY, S3_BACKUP_BUCKET=FAULT_BACKUP)
def test_backup_bucket_deleted_and_recreated_on_seaweedfs(
    seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    s3: Any = seaweedfs.client()
    s3.create_bucket(Bucket=FAULT_PRIMARY)
    s3.create_bucket(Bucket=FAULT_BACKUP)
    s3.delete_bucket(Bucket=FAULT_BACKUP)
    alice = add_user(seaweed_app, "vanishing")
    body = b"bytes that must survive" * 300
    record = store(seaweed_app, alice, "résumé.txt", body)
    assert row(seaweed_app, record.id).backup_state is BackupState.PENDING

    s3.create_bucket(Bucket=FAULT_BACKUP)
    synced = run(seaweed_app, "sync")
    assert synced.exit_code == 0, synced.output
    assert "copied 1" in synced.output
    assert row(seaweed_app, record.id).backup_state is BackupState.DONE
    assert object_body(s3, FAULT_BACKUP, record.key) == body
    assert run(seaweed_app, "verify", "--deep").exit_code == 0


@pytest.mark.seaweedfs
def test_objects_damaged_behind_the_apps_back_on_seaweedfs(
    seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    s3: Any = seaweedfs.client()
    client = seaweed_app.test_client()
    AuthActions(client).signed_up("weedfaults")
    with seaweed_app.app_context():
        user_id = db.session.scalars(db.select(User.id)).one()
    bodies = {name: name.encode() * 500 for name in ("gone", "rotten", "lost")}
    records = {name: store(seaweed_app, user_id, name, body) for name, body in bodies.items()}
    s3.delete_object(Bucket=BACKUP, Key="weedfaults/gone")
    s3.put_object(Bucket=BACKUP, Key="weedfaults/rotten", Body=b"x" * len(bodies["rotten"]))
    s3.delete_object(Bucket=PRIMARY, Key="weedfaults/lost")

    downloaded = client.get(f"/files/{records['lost'].id}/download")
    assert downloaded.status_code == 200
    assert downloaded.data == bodies["lost"]

    found = run(seaweed_app, "verify", "--user", "weedfaults")
    assert found.exit_code == 1
    assert "backup missing: owner weedfaults, key weedfaults/gone" in found.output
    assert "backup mismatched: owner weedfaults, key weedfaults/rotten" in found.output
    assert "primary missing: owner weedfaults, key weedfaults/lost" in found.output
    repaired = run(seaweed_app, "verify", "--user", "weedfaults", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert run(seaweed_app, "verify", "--user", "weedfaults", "--deep").exit_code == 0
    for name, body in bodies.items():
        assert object_body(s3, PRIMARY, f"weedfaults/{name}") == body
        assert object_body(s3, BACKUP, f"weedfaults/{name}") == body
