"""Deleting an account: everything ends at once, backups follow retention, the name waits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from securestore.auth.models import User
from securestore.backups import service as backups
from securestore.db_types import utcnow
from securestore.extensions import db, storage
from tests.api.conftest import bearer, issue_token
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions, csrf_token, upload
from tests.fixtures.s3 import BACKUP, PRIMARY, bucket_keys, object_body
from tests.fixtures.two_factor import enable_two_factor, next_code


def delete_own(client: FlaskClient, password: str, code: str | None = None) -> Any:
    data = {"password": password, "csrf_token": csrf_token(client, "/auth/delete-account")}
    if code is not None:
        data["code"] = code
    return client.post("/auth/delete-account", data=data)


def sync_after_retention(app: Flask) -> backups.SyncReport:
    days = app.config["BACKUP_RETENTION_DAYS"]
    with app.app_context():
        return backups.sync(now=utcnow() + timedelta(days=days, minutes=1))


def test_deletion_with_a_wrong_password_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("bob")
    upload(client, ("notes.txt", b"keep me"))
    refused = delete_own(client, PASSWORD + "x")
    assert refused.status_code == 401
    assert "Your password is not right." in refused.get_data(as_text=True)
    assert client.get("/files/").status_code == 200
    assert bucket_keys(s3, PRIMARY) == ["bob/notes.txt"]


def test_self_service_deletion_ends_everything_and_the_name_waits_for_the_backups(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("bob")
    upload(client, ("notes.txt", b"gone soon"))
    token = issue_token(app, "bob")
    other = app.test_client()
    AuthActions(other).login("bob")

    response = delete_own(client, PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/login"
    assert other.get("/files/").status_code == 302  # every session ended
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert bucket_keys(s3, PRIMARY) == []  # out of the primary bucket at once
    assert bucket_keys(s3, BACKUP) == ["bob/notes.txt"]  # kept like a deleted file's
    login = AuthActions(app.test_client()).login("bob")
    assert "Wrong username or password." in login.get_data(as_text=True)  # as if unknown

    again = AuthActions(app.test_client()).register("bob")
    assert again.status_code == 409
    assert "taken" in again.get_data(as_text=True)

    report = sync_after_retention(app)
    assert (report.purged, report.accounts_forgotten) == (1, 1)
    assert bucket_keys(s3, BACKUP) == []
    assert AuthActions(app.test_client()).register("bob").status_code == 302
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401  # new bob


def test_a_leftover_object_keeps_a_deleted_name_taken(
    app: Flask, runner: FlaskCliRunner, s3: Any
) -> None:
    runner.invoke(args=["users", "create", "bob", "--password", PASSWORD])
    assert runner.invoke(args=["users", "delete", "bob", "--yes"]).exit_code == 0
    s3.put_object(Bucket=BACKUP, Key="bob/restored-by-hand.txt", Body=b"x")
    assert sync_after_retention(app).accounts_forgotten == 0
    assert AuthActions(app.test_client()).register("bob").status_code == 409
    with app.app_context():
        assert db.session.scalar(db.select(User.deleted_at)) is not None


def test_deletion_with_two_factor_needs_a_code(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("bob")
    totp, _ = enable_two_factor(client)
    page = client.get("/auth/delete-account").get_data(as_text=True)
    assert 'name="code"' in page
    assert delete_own(client, PASSWORD).status_code == 401
    assert delete_own(client, PASSWORD, "000000").status_code == 401
    assert client.get("/files/").status_code == 200
    assert delete_own(client, PASSWORD, next_code(totp)).status_code == 303


def test_the_last_admin_cannot_delete_their_own_account(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["users", "create", "root", "--admin", "--password", PASSWORD])
    client = app.test_client()
    AuthActions(client).login("root")
    refused = delete_own(client, PASSWORD)
    assert refused.status_code == 409
    assert "last administrator" in refused.get_data(as_text=True)
    assert client.get("/files/").status_code == 200


def test_deletion_needs_the_csrf_token(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("bob")
    response = client.post("/auth/delete-account", data={"password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/files/").status_code == 200


def test_a_file_without_its_backup_copy_waits_and_backup_sync_finishes_the_deletion(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("bob")
    with app.app_context():
        s3_client = storage.client
    outage = ClientError({"Error": {"Code": "InternalError"}}, "CopyObject")
    with mock.patch.object(s3_client, "copy_object", side_effect=outage):
        upload(client, ("only-copy.txt", b"precious"))
        assert delete_own(client, PASSWORD).status_code == 303
        assert bucket_keys(s3, PRIMARY) == ["bob/only-copy.txt"]  # the only copy stays
    with app.app_context():
        report = backups.sync(ignore_backoff=True)
    assert (report.copied, report.waiting_deletions) == (1, 0)
    assert bucket_keys(s3, PRIMARY) == []
    assert object_body(s3, BACKUP, "bob/only-copy.txt") == b"precious"
