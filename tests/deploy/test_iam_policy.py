"""The instance role's policies grant exactly the S3 actions the app's code calls.

The per-mode, per-bucket equality is proven by recording the calls (test_iam_calls.py); this
scan keeps every client method in the code mapped, so no call escapes that recording.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from securestore.config import settings_from_environ
from tests.deploy.harness import REPO_ROOT

POLICY = REPO_ROOT / "deploy" / "iam-policy.json"
LOCKED_POLICY = REPO_ROOT / "deploy" / "iam-policy-locked.json"
BUCKET_POLICY = REPO_ROOT / "deploy" / "bucket-policy.json"
PACKAGE = REPO_ROOT / "securestore"
# The local SeaweedFS helper signs with its own key, never with the instance role.
NOT_ROLE_CODE = {PACKAGE / "locals3.py"}

# IAM actions each boto3 S3 client method needs (AWS's "Actions, resources, and condition
# keys for Amazon S3"). Bucket-level actions apply to the bucket ARN, the rest to objects.
ACTIONS_FOR_METHOD: dict[str, set[str]] = {
    "put_object": {"s3:PutObject"},
    "create_multipart_upload": {"s3:PutObject"},
    "upload_part": {"s3:PutObject"},
    "complete_multipart_upload": {"s3:PutObject"},
    "abort_multipart_upload": {"s3:AbortMultipartUpload"},
    "list_parts": {"s3:ListMultipartUploadParts"},
    # Read the source (or one version of it), write the target.
    "copy_object": {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"},
    # The managed copy: HeadObject on the source, multipart UploadPartCopy to the target,
    # abort on failure.
    "copy": {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"},
    "upload_fileobj": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "upload_file": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "get_object": {"s3:GetObject", "s3:GetObjectVersion"},
    "head_object": {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention"},
    # A presigned GET (DOWNLOAD_MODE=redirect) is answered with the signer's permissions.
    "generate_presigned_url": {"s3:GetObject"},
    "download_fileobj": {"s3:GetObject"},
    "download_file": {"s3:GetObject"},
    "delete_object": {"s3:DeleteObject"},
    "delete_objects": {"s3:DeleteObject"},
    "put_object_retention": {"s3:PutObjectRetention"},
    "put_object_tagging": {"s3:PutObjectTagging"},
    "head_bucket": {"s3:ListBucket"},
    "list_objects_v2": {"s3:ListBucket"},
    # list_objects_v2, list_object_versions, list_parts and list_multipart_uploads pages.
    "get_paginator": {
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListMultipartUploadParts",
        "s3:ListBucketMultipartUploads",
    },
    "get_bucket_versioning": {"s3:GetBucketVersioning"},
    "get_object_lock_configuration": {"s3:GetBucketObjectLockConfiguration"},
}
BUCKET_ACTIONS = {
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListBucketVersions",
    "s3:GetBucketVersioning",
    "s3:GetBucketObjectLockConfiguration",
}
# What the locked mode must never be able to do to the backup bucket (issue 19).
FORBIDDEN_ON_LOCKED_BACKUP = {
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketPolicy",
}
_CALL = re.compile(r"\bclient\.([a-z_0-9]+)\(")


def _methods_called() -> dict[str, list[str]]:
    calls: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in NOT_ROLE_CODE:
            continue
        for method in _CALL.findall(path.read_text()):
            calls.setdefault(method, []).append(str(path.relative_to(REPO_ROOT)))
    return calls


def _statements(policy: Path = POLICY) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(policy.read_text())["Statement"]
    return statements


def test_policy_grants_exactly_the_actions_the_code_uses() -> None:
    calls = _methods_called()
    unknown = {method: where for method, where in calls.items() if method not in ACTIONS_FOR_METHOD}
    assert not unknown, (
        f"S3 calls with no known IAM mapping: {unknown}; add them to ACTIONS_FOR_METHOD and, "
        "if needed, to deploy/iam-policy.json"
    )
    needed = set().union(*(ACTIONS_FOR_METHOD[method] for method in calls))
    granted = {
        action
        for policy in (POLICY, LOCKED_POLICY)
        for statement in _statements(policy)
        for action in statement["Action"]
    }

    assert "head_bucket" in calls and "put_object" in calls  # the scan found the service
    assert granted == needed


@pytest.mark.parametrize("policy", [POLICY, LOCKED_POLICY], ids=lambda path: path.name)
def test_policy_is_scoped_to_the_two_buckets(policy: Path) -> None:
    defaults = settings_from_environ({}, "/unused")
    arns = {f"arn:aws:s3:::{defaults[name]}" for name in ("S3_PRIMARY_BUCKET", "S3_BACKUP_BUCKET")}

    for statement in _statements(policy):
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in statement["Action"])
        assert not any(action.startswith("kms:") for action in statement["Action"])
        bucket_level = set(statement["Action"]) <= BUCKET_ACTIONS
        resources = set(statement["Resource"])
        assert resources <= ({*arns} if bucket_level else {arn + "/*" for arn in arns})
        assert set(statement["Action"]) <= BUCKET_ACTIONS or not (
            set(statement["Action"]) & BUCKET_ACTIONS
        ), "bucket and object actions need separate statements"


def test_the_locked_policy_cannot_delete_or_unlock_backups() -> None:
    backup = "arn:aws:s3:::" + settings_from_environ({}, "/unused")["S3_BACKUP_BUCKET"]
    on_backup = {
        action
        for statement in _statements(LOCKED_POLICY)
        if {backup, backup + "/*"} & set(statement["Resource"])
        for action in statement["Action"]
    }
    assert on_backup and not on_backup & FORBIDDEN_ON_LOCKED_BACKUP


def test_kms_policy_grants_the_two_keys_through_s3_only() -> None:
    (statement,) = _statements(REPO_ROOT / "deploy" / "iam-policy-kms.json")
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert [r.rsplit("/", 1)[1] for r in statement["Resource"]] == [
        "PRIMARY_KEY_ID",
        "BACKUP_KEY_ID",
    ]
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": "s3.REGION.amazonaws.com"}}


def test_backup_bucket_policy_adds_encryption_and_lock_denials_to_tls() -> None:
    tls = json.loads(BUCKET_POLICY.read_text())["Statement"]
    statements = json.loads((REPO_ROOT / "deploy" / "backup-bucket-policy.json").read_text())[
        "Statement"
    ]
    assert statements[: len(tls)] == tls
    by_sid = {statement["Sid"]: statement for statement in statements[len(tls) :]}
    assert by_sid["DenyOtherEncryptionThanTheBucketsOwn"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "SSE_ALGORITHM"}
    }
    assert by_sid["DenyLocksShorterThanTheMinimum"]["Condition"] == {
        "NumericLessThan": {"s3:object-lock-remaining-retention-days": "LOCK_DAYS"}
    }
    assert all(s["Effect"] == "Deny" and s["Principal"] == "*" for s in by_sid.values())


def test_bucket_policy_denies_requests_without_tls() -> None:
    (plain, old_tls) = json.loads(BUCKET_POLICY.read_text())["Statement"]

    assert plain["Effect"] == "Deny" and plain["Principal"] == "*" and plain["Action"] == "s3:*"
    assert plain["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(plain["Resource"]) == {"arn:aws:s3:::BUCKET_NAME", "arn:aws:s3:::BUCKET_NAME/*"}
    assert old_tls["Effect"] == "Deny"
    assert old_tls["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


def test_policy_files_are_plain_json() -> None:
    for path in (REPO_ROOT / "deploy").glob("*policy*.json"):
        assert json.loads(path.read_text())["Version"] == "2012-10-17", path
