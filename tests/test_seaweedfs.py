"""The whole user flow against a real S3 server (SeaweedFS), not a mock."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask

from securestore.extensions import db
from securestore.files.models import BackupState, StoredFile
from securestore.locals3 import LocalS3
from tests.conftest import BACKUP, PRIMARY, AuthActions, csrf_token, object_body, upload

pytestmark = pytest.mark.seaweedfs
MIB = 1024 * 1024


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


def test_health_reports_both_seaweedfs_buckets(seaweed_app: Flask) -> None:
    response = seaweed_app.test_client().get("/storage/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_seaweedfs_refuses_to_overwrite_an_existing_key(
    seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    s3: Any = seaweedfs.client()
    s3.put_object(Bucket=PRIMARY, Key="orphan/notes.txt", Body=b"older")
    client = seaweed_app.test_client()
    AuthActions(client).signed_up("orphan")
    assert upload(client, ("notes.txt", b"newer")).status_code == 303
    assert object_body(s3, PRIMARY, "orphan/notes.txt") == b"older"
    assert object_body(s3, PRIMARY, "orphan/notes (2).txt") == b"newer"
