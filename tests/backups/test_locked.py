"""Backups under Object Lock (issue 19): what the app's own credentials cannot destroy.

The SeaweedFS tests run the app as `make run` does, under an identity without admin rights,
against a backup bucket with Object Lock; the admin identity plays the operator and S3's
lifecycle rules. moto covers what SeaweedFS cannot (KMS keys, refusing an unlocked bucket).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from flask import Flask

from securestore import create_app
from securestore.auth.models import User
from securestore.backups import service as backups
from securestore.config import ConfigError
from securestore.db_types import utcnow
from securestore.extensions import db, storage
from securestore.files import service as files
from securestore.files.models import StoredFile
from securestore.locals3 import LocalS3, lifecycle_rules
from securestore.storage import locks
from tests import factories
from tests.deploy.harness import REPO_ROOT
from tests.fixtures.apps import base_config
from tests.fixtures.s3 import BACKUP, LOCKED_BACKUP, LOCKED_PRIMARY, PRIMARY, object_body

DAY = timedelta(days=1)


def store(app: Flask, username: str, bodies: dict[str, bytes]) -> list[StoredFile]:
    """Create `username` and upload `bodies` through the files service."""
    with app.app_context():
        user = factories.add_user(username)
        records = [
            files.store_upload(
                user, files.Incoming(name, BytesIO(body), "text/plain", None), address=None
            )
            for name, body in bodies.items()
        ]
        for record in records:
            db.session.refresh(record)
            db.session.expunge(record)
        return records


def versions(s3: Any, bucket: str, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The versions and delete markers of exactly `key`."""
    answer = s3.list_object_versions(Bucket=bucket, Prefix=key)
    found = [v for v in answer.get("Versions", []) if v["Key"] == key]
    return found, [m for m in answer.get("DeleteMarkers", []) if m["Key"] == key]


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["backup", *args])


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    return str(error.value.response["Error"]["Code"])


@pytest.mark.seaweedfs
def test_the_apps_credentials_cannot_delete_unlock_or_bypass_a_backup_version(
    locked_seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    assert seaweedfs.app_key is not None
    app_s3, admin = seaweedfs.client(seaweedfs.app_key), seaweedfs.client()
    (record,) = store(locked_seaweed_app, "locksmith", {"deed.txt": b"the deed" * 100})
    (version,), _ = versions(app_s3, LOCKED_BACKUP, record.key)
    head = app_s3.head_object(Bucket=LOCKED_BACKUP, Key=record.key, VersionId=version["VersionId"])
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + 36 * DAY
    for bucket in (LOCKED_PRIMARY, LOCKED_BACKUP):
        assert app_s3.head_object(Bucket=bucket, Key=record.key)["ServerSideEncryption"] == (
            "AES256"
        )

    target = {"Bucket": LOCKED_BACKUP, "Key": record.key, "VersionId": version["VersionId"]}
    assert refused(app_s3.delete_object, **target) == "AccessDenied"
    assert refused(app_s3.delete_object, **target, BypassGovernanceRetention=True) == (
        "AccessDenied"
    )
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": datetime.now(UTC) + DAY}
    assert refused(app_s3.put_object_retention, **target, Retention=shorter) == "AccessDenied"
    lock = {"ObjectLockEnabled": "Enabled"}
    assert refused(
        app_s3.put_object_lock_configuration, Bucket=LOCKED_BACKUP, ObjectLockConfiguration=lock
    ) == ("AccessDenied")
    assert object_body(app_s3, LOCKED_BACKUP, record.key) == b"the deed" * 100
    # Governance, not compliance: the admin identity can still clear it by hand.
    admin.delete_object(**target, BypassGovernanceRetention=True)


@pytest.mark.seaweedfs
def test_recovery_drill_deleting_all_the_app_can_then_restoring_every_file(
    locked_seaweed_app: Flask, seaweedfs: LocalS3, template_database: Path, tmp_path: Path
) -> None:
    assert seaweedfs.app_key is not None
    app_s3 = seaweedfs.client(seaweedfs.app_key)
    bodies = {"résumé.pdf": b"%PDF" * 3000, "报告.txt": "报告".encode(), "zero.bin": bytes(64)}
    records = store(locked_seaweed_app, "drill", bodies)
    for record in records:  # everything the app's key may delete, in both buckets
        app_s3.delete_object(Bucket=LOCKED_PRIMARY, Key=record.key)
        app_s3.delete_object(Bucket=LOCKED_BACKUP, Key=record.key)  # a delete marker at most
        for version in versions(app_s3, LOCKED_BACKUP, record.key)[0]:
            assert refused(
                app_s3.delete_object,
                Bucket=LOCKED_BACKUP,
                Key=record.key,
                VersionId=version["VersionId"],
            ) == ("AccessDenied")
    assert app_s3.list_objects_v2(Bucket=LOCKED_BACKUP, Prefix="drill/").get("KeyCount") == 0
    fresh = tmp_path / "dropped.db"  # the database is gone too
    fresh.write_bytes(template_database.read_bytes())
    recovered = create_app(
        {**locked_seaweed_app.config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{fresh}"}
    )

    restored = run(recovered, "restore", "--user", "drill")
    assert restored.exit_code == 0, restored.output
    assert "restored 3 files of drill" in restored.output
    for name, body in bodies.items():
        assert object_body(app_s3, LOCKED_PRIMARY, f"drill/{name}") == body
    deep = run(recovered, "verify", "--deep", "--user", "drill")
    assert deep.exit_code == 0, deep.output
    assert "backup lock governance, at least 30 days" in deep.output
    with recovered.app_context():
        db.engine.dispose()


def apply_lifecycle(admin: Any, bucket: str, rules: dict[str, Any], now: datetime) -> None:
    """Do what S3's lifecycle does with `rules` on a day `now` (SeaweedFS does not run them).

    Tagged current versions past `Days` get a delete marker; noncurrent versions past
    `NoncurrentDays` are deleted, unless their lock refuses it (S3 then waits); markers with
    nothing left under them go.
    """
    answer = admin.list_object_versions(Bucket=bucket)
    for rule in rules["Rules"]:
        tag = rule["Filter"].get("Tag")
        for item in answer.get("Versions", []):
            tags = admin.get_object_tagging(
                Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"]
            )
            if tag and item["IsLatest"] and tag in tags["TagSet"]:
                if item["LastModified"] + rule["Expiration"]["Days"] * DAY <= now:
                    admin.delete_object(Bucket=bucket, Key=item["Key"])
        days = rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
        for item in answer.get("Versions", []):
            if days and not item["IsLatest"] and item["LastModified"] + days * DAY <= now:
                try:
                    admin.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
                except ClientError:
                    pass  # still locked: S3's lifecycle tries again later
    answer = admin.list_object_versions(Bucket=bucket)
    alive = {item["Key"] for item in answer.get("Versions", [])}
    for marker in answer.get("DeleteMarkers", []):
        if marker["Key"] not in alive:
            admin.delete_object(Bucket=bucket, Key=marker["Key"], VersionId=marker["VersionId"])


@pytest.mark.seaweedfs
@pytest.mark.config(BACKUP_RETENTION_DAYS=0)
def test_purge_tags_the_copy_and_only_lifecycle_rules_remove_it_after_its_lock(
    locked_seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    admin = seaweedfs.client()
    (gone, kept) = store(locked_seaweed_app, "purger", {"gone.txt": b"gone", "kept.txt": b"kept"})
    with locked_seaweed_app.app_context():
        files.delete_file(db.session.get(User, gone.owner_id), gone.id, address=None)
        real_delete = storage.client.delete_object
        with mock.patch.object(storage.client, "delete_object", side_effect=real_delete) as deletes:
            assert run(locked_seaweed_app, "sync").exit_code == 0
        assert all(call.kwargs["Bucket"] != LOCKED_BACKUP for call in deletes.call_args_list)
        assert db.session.get(StoredFile, gone.id) is None
    tags = admin.get_object_tagging(Bucket=LOCKED_BACKUP, Key=gone.key)["TagSet"]
    assert tags == [{"Key": "securestore", "Value": "purged"}]

    rules = lifecycle_rules(30)
    assert rules == json.loads((REPO_ROOT / "deploy" / "lifecycle-backup.json").read_text())
    apply_lifecycle(admin, LOCKED_BACKUP, rules, datetime.now(UTC) + 2 * DAY)
    (version,), (marker,) = versions(admin, LOCKED_BACKUP, gone.key)  # a marker, bytes kept
    assert marker["IsLatest"]
    apply_lifecycle(admin, LOCKED_BACKUP, rules, datetime.now(UTC) + 40 * DAY)
    assert len(versions(admin, LOCKED_BACKUP, gone.key)[0]) == 1  # still locked: kept
    # The lock runs out (the admin shortens it, standing in for 37 days passing).
    target = {"Bucket": LOCKED_BACKUP, "Key": gone.key, "VersionId": version["VersionId"]}
    admin.delete_object(**target, BypassGovernanceRetention=True)
    apply_lifecycle(admin, LOCKED_BACKUP, rules, datetime.now(UTC) + 40 * DAY)
    assert versions(admin, LOCKED_BACKUP, gone.key) == ([], [])
    assert object_body(admin, LOCKED_BACKUP, kept.key) == b"kept"  # live files untouched


@pytest.mark.seaweedfs
def test_sync_renews_locks_before_they_fall_below_the_minimum(
    locked_seaweed_app: Flask, seaweedfs: LocalS3
) -> None:
    admin = seaweedfs.client()
    (record,) = store(locked_seaweed_app, "keeper", {"years.txt": b"kept for years"})

    def lock_end() -> datetime:
        (version,), _ = versions(admin, LOCKED_BACKUP, record.key)
        head = admin.head_object(
            Bucket=LOCKED_BACKUP, Key=record.key, VersionId=version["VersionId"]
        )
        return head["ObjectLockRetainUntilDate"]

    first = lock_end()
    later = utcnow() + 9 * DAY  # 28 days of the lock left: under BACKUP_LOCK_DAYS (30)
    with mock.patch("securestore.backups.verify.utcnow", return_value=later):
        stale = run(locked_seaweed_app, "verify", "--user", "keeper")
        assert stale.exit_code == 1
        assert "backup unlocked: owner keeper, key keeper/years.txt: version" in stale.output
        assert "unlocked 1" in stale.output
    with locked_seaweed_app.app_context():
        assert backups.sync(now=utcnow() + 2 * DAY).renewed == 0  # 35 days left: not due
        assert backups.sync(now=later).renewed == 1
    assert lock_end() - first > 8 * DAY
    assert lock_end() >= later + 36 * DAY
    with mock.patch("securestore.backups.verify.utcnow", return_value=later):
        assert run(locked_seaweed_app, "verify", "--user", "keeper").exit_code == 0


def test_start_up_refuses_a_lock_mode_on_an_unlocked_bucket(s3: Any, database_url: str) -> None:
    with pytest.raises(ConfigError, match=f"S3 bucket {BACKUP} has no versioning enabled"):
        create_app(base_config(database_url, BACKUP_LOCK_MODE="compliance"))
    s3.put_bucket_versioning(Bucket=BACKUP, VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(
        ConfigError, match=f"BACKUP_LOCK_MODE=compliance .* {BACKUP} has no Object Lock"
    ):
        create_app(base_config(database_url, BACKUP_LOCK_MODE="compliance"))


def test_start_up_with_s3_unreachable_starts_and_health_says_why(database_url: str) -> None:
    """An outage at boot is logged, not fatal: workers must not crash-loop while S3 is away."""
    settings = base_config(
        database_url, BACKUP_LOCK_MODE="governance", S3_ENDPOINT_URL="http://127.0.0.1:9"
    )
    with mock.patch.object(locks.log, "warning") as warning:
        app = create_app(settings)
    assert warning.call_args.args[:2] == (
        "could not check Object Lock on s3://%s at start-up: %s",
        BACKUP,
    )
    assert app.test_client().get("/storage/health").status_code == 503
    with app.app_context():
        db.engine.dispose()


@pytest.mark.config(
    S3_SSE="aws:kms", S3_KMS_KEY_ID="primary-key", S3_BACKUP_KMS_KEY_ID="backup-key"
)
def test_every_write_asks_for_each_buckets_kms_key_and_verify_reports_others(
    locked_app: Flask, locked_s3: Any
) -> None:
    (record,) = store(locked_app, "kms", {"secret.txt": b"x" * 100})
    assert locked_s3.head_object(Bucket=PRIMARY, Key=record.key)["SSEKMSKeyId"] == "primary-key"
    head = locked_s3.head_object(Bucket=BACKUP, Key=record.key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", "backup-key")
    assert run(locked_app, "verify").exit_code == 0

    locked_s3.put_object(Bucket=PRIMARY, Key=record.key, Body=b"x" * 100)  # no encryption asked
    report = run(locked_app, "verify")
    assert report.exit_code == 1
    assert "primary unencrypted: owner kms, key kms/secret.txt: stored with" in report.output
    assert "expected aws:kms key primary-key" in report.output
    assert run(locked_app, "verify", "--repair").exit_code == 0
    assert locked_s3.head_object(Bucket=PRIMARY, Key=record.key)["SSEKMSKeyId"] == "primary-key"


def test_download_and_restore_read_the_version_under_a_delete_marker(
    locked_app: Flask, locked_s3: Any
) -> None:
    (record,) = store(locked_app, "marked", {"a.txt": b"the bytes"})
    locked_s3.delete_object(Bucket=BACKUP, Key=record.key)  # a delete marker on top
    locked_s3.put_object(Bucket=BACKUP, Key=record.key, Body=b"forged!!!")  # and a fake on top
    locked_s3.delete_object(Bucket=PRIMARY, Key=record.key)
    with locked_app.app_context():
        stored = db.session.get(StoredFile, record.id)
        assert b"".join(files.open_download(stored, address=None).chunks) == b"the bytes"
    repaired = run(locked_app, "verify", "--repair")
    assert "primary missing" in repaired.output and "restored from the backup" in repaired.output
    assert object_body(locked_s3, PRIMARY, record.key) == b"the bytes"
