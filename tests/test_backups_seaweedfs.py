"""Backup faults made real on a SeaweedFS server: a vanished bucket, objects damaged behind
the app's back."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from securestore.auth.models import User
from securestore.extensions import db
from securestore.files.models import BackupState
from securestore.locals3 import LocalS3
from tests.conftest import BACKUP, PRIMARY, AuthActions, object_body
from tests.test_backups import add_user, row, run, store

pytestmark = pytest.mark.seaweedfs
FAULT_PRIMARY = "faults-primary"
FAULT_BACKUP = "faults-backup"


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
