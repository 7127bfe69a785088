"""Each IAM policy grants exactly what the app calls in its mode, bucket by bucket.

Every S3 request the app makes during a run through each code path (uploads single and
multipart, a refused multipart, downloads streamed, signed and from the backup, a multipart
copy, delete, restore, purge, lock renewal on a moved clock, verify with repairs and orphans,
restore from the backup bucket alone, health) is recorded from botocore's events and mapped
to the IAM action and resource it needs. The set must equal what `deploy/iam-policy.json`
grants with the lock off, and what `deploy/iam-policy-locked.json` grants with it on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from flask import Flask

from securestore import create_app
from securestore.backups import service as backups
from securestore.backups.recovery import restore_user
from securestore.backups.verify import verify
from securestore.db_types import utcnow
from securestore.errors import TooLargeError
from securestore.extensions import db, storage
from securestore.files import service as files
from securestore.files.models import StoredFile
from securestore.uploads import service as uploads
from tests import factories
from tests.deploy.harness import REPO_ROOT
from tests.fixtures.apps import base_config
from tests.fixtures.s3 import BACKUP, PRIMARY

MIB = 1024 * 1024
Grant = tuple[str, str]  # (IAM action, resource ARN)


def _arn(bucket: str, objects: bool) -> str:
    # The policies name the default buckets; the tests' buckets stand for them.
    name = {PRIMARY: "securestore-primary", BACKUP: "securestore-backup"}[bucket]
    return f"arn:aws:s3:::{name}" + ("/*" if objects else "")


def _source(params: dict[str, Any]) -> Grant:
    source = params["CopySource"]
    if isinstance(source, str):  # botocore's own form: "bucket/key?versionId=..."
        bucket, _, rest = source.partition("/")
        source = {"Bucket": bucket, "VersionId": "?versionId=" in rest}
    action = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
    return action, _arn(source["Bucket"], True)


def grants_for(operation: str, params: dict[str, Any], locked: bool) -> set[Grant]:
    """The IAM actions and resources one S3 request needs (AWS's service authorization)."""
    bucket = params["Bucket"]
    objects, whole = _arn(bucket, True), _arn(bucket, False)
    versioned = bool(params.get("VersionId"))
    read = "s3:GetObjectVersion" if versioned else "s3:GetObject"
    if operation in {"HeadObject", "GetObject"}:
        grants = {(read, objects)}
        if locked and bucket == BACKUP:
            grants.add(("s3:GetObjectRetention", objects))  # HEAD shows the lock only then
        return grants
    if operation in {"CopyObject", "UploadPartCopy"}:
        return {("s3:PutObject", objects), _source(params)}
    single = {
        "PutObject": "s3:PutObject",
        "CreateMultipartUpload": "s3:PutObject",
        "UploadPart": "s3:PutObject",
        "CompleteMultipartUpload": "s3:PutObject",
        "AbortMultipartUpload": "s3:AbortMultipartUpload",
        "ListParts": "s3:ListMultipartUploadParts",
        "DeleteObject": "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject",
        "PutObjectRetention": "s3:PutObjectRetention",
        "PutObjectTagging": "s3:PutObjectVersionTagging" if versioned else "s3:PutObjectTagging",
    }
    if operation in single:
        assert not params.get("BypassGovernanceRetention"), operation
        return {(single[operation], objects)}
    bucket_level = {
        "HeadBucket": "s3:ListBucket",
        "ListObjectsV2": "s3:ListBucket",
        "ListObjectVersions": "s3:ListBucketVersions",
        "ListMultipartUploads": "s3:ListBucketMultipartUploads",
        "GetBucketVersioning": "s3:GetBucketVersioning",
        "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    }
    return {(bucket_level[operation], whole)}


def granted(policy: str) -> set[Grant]:
    statements = json.loads((REPO_ROOT / "deploy" / policy).read_text())["Statement"]
    return {
        (action, resource)
        for statement in statements
        for action in statement["Action"]
        for resource in statement["Resource"]
    }


def every_code_path(app: Flask, raw: Any, tmp_path: Path) -> None:
    """Drive the app through every S3 call it can make (moto), on the given app."""
    with app.app_context():
        alice = factories.add_user("alice")
        small = files.store_upload(
            alice, files.Incoming("small.txt", BytesIO(b"small"), None, None), address=None
        )
        big = files.store_upload(
            alice, files.Incoming("big.bin", BytesIO(b"b" * 9 * MIB), None, None), address=None
        )
        with pytest.raises(TooLargeError):
            storage.upload("alice/refused", BytesIO(b"r" * 11 * MIB), content_type="x/y",
                           max_bytes=6 * MIB)  # fmt: skip
        b"".join(files.open_download(small, address=None).chunks)
        files.download_url(small, address=None)
        raw.delete_object(Bucket=PRIMARY, Key=small.key)
        b"".join(files.open_download(small, address=None).chunks)  # from the backup
        with mock.patch("securestore.storage.copying.COPY_OBJECT_LIMIT", MIB):
            files.store_upload(
                alice,
                files.Incoming("copied.bin", BytesIO(b"c" * 9 * MIB), None, None),
                address=None,
            )
            refused = ClientError({"Error": {"Code": "InternalError"}}, "UploadPartCopy")
            with mock.patch.object(storage.client, "upload_part_copy", side_effect=refused):
                # The multipart copy fails and is aborted; the next sync copies the file.
                files.store_upload(
                    alice,
                    files.Incoming("late.bin", BytesIO(b"l" * 9 * MIB), None, None),
                    address=None,
                )
        pending = uploads.start_upload(alice, uploads.UploadRequest("direct.bin", 5))
        uploads.sign_parts(alice, pending.id, [1], {})
        raw.upload_part(Bucket=PRIMARY, Key=pending.key, UploadId=pending.upload_id,
                        PartNumber=1, Body=b"d" * 5)  # fmt: skip
        uploads.describe(alice, pending.id)
        uploads.complete(alice, pending.id, address=None)
        files.delete_file(alice, big.id, address=None)
        files.restore_file(alice, big.id, address=None)
        files.delete_file(alice, big.id, address=None)
        db.session.get(StoredFile, big.id).deleted_at = utcnow() - timedelta(days=60)
        db.session.commit()
        backups.sync(now=utcnow() + timedelta(days=25))  # purge, and renew locks running low
        raw.put_object(Bucket=BACKUP, Key=small.key, Body=b"rot")
        raw.put_object(Bucket=PRIMARY, Key="alice/orphan", Body=b"o")
        raw.put_object(Bucket=BACKUP, Key="alice/orphan", Body=b"o")
        verify(repair=True, delete_orphans=True, orphan_min_age=timedelta(0))
    fresh = tmp_path / "fresh.db"
    fresh.write_bytes((tmp_path / "securestore.db").read_bytes())
    recovered = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{fresh}"})
    with recovered.app_context():
        db.session.execute(db.delete(StoredFile))
        db.session.commit()
        restore_user("alice")
        db.engine.dispose()


@pytest.fixture
def recorded() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every S3 request made by any client created meanwhile, as (operation, parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    real = boto3.session.Session.client

    def recording_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = real(self, *args, **kwargs)
        client.meta.events.register(
            "before-parameter-build.s3",
            lambda params, model, **_: calls.append((model.name, dict(params))),
        )
        return client

    with mock.patch("boto3.session.Session.client", recording_client):
        yield calls


@pytest.mark.parametrize("mode", ["off", "governance"])
def test_each_policy_grants_exactly_the_calls_of_its_mode(
    mode: str,
    s3: Any,
    database_url: str,
    tmp_path: Path,
    recorded: list[tuple[str, dict[str, Any]]],
) -> None:
    locked = mode != "off"
    if locked:
        s3.delete_bucket(Bucket=BACKUP)
        s3.create_bucket(Bucket=BACKUP, ObjectLockEnabledForBucket=True)
    app = create_app(base_config(database_url, BACKUP_LOCK_MODE=mode))
    every_code_path(app, s3, tmp_path)
    with app.app_context():
        storage.health()
        db.engine.dispose()

    needed = set().union(*(grants_for(op, params, locked) for op, params in recorded))
    operations = {op for op, _ in recorded}
    assert {"UploadPartCopy", "AbortMultipartUpload", "CopyObject"} <= operations
    if locked:
        assert {"PutObjectRetention", "PutObjectTagging", "ListObjectVersions"} <= operations
    assert needed == granted("iam-policy-locked.json" if locked else "iam-policy.json")
