"""The instance role's policy grants exactly the S3 actions the app's code calls."""

from __future__ import annotations

import json
import re
from typing import Any

from securestore.config import settings_from_environ
from tests.deploy.harness import REPO_ROOT

POLICY = REPO_ROOT / "deploy" / "iam-policy.json"
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
    "copy_object": {"s3:GetObject", "s3:PutObject"},  # read the source, write the target
    # The managed copy: HeadObject on the source, multipart UploadPartCopy to the target,
    # abort on failure.
    "copy": {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"},
    "upload_fileobj": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "upload_file": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "get_object": {"s3:GetObject"},
    "head_object": {"s3:GetObject"},
    # A presigned GET (DOWNLOAD_MODE=redirect) is answered with the signer's permissions.
    "generate_presigned_url": {"s3:GetObject"},
    "download_fileobj": {"s3:GetObject"},
    "download_file": {"s3:GetObject"},
    "delete_object": {"s3:DeleteObject"},
    "delete_objects": {"s3:DeleteObject"},
    "head_bucket": {"s3:ListBucket"},
    "list_objects_v2": {"s3:ListBucket"},
    "get_paginator": {"s3:ListBucket"},
}
BUCKET_ACTIONS = {"s3:ListBucket"}
_CALL = re.compile(r"\bclient\.([a-z_0-9]+)\(")


def _methods_called() -> dict[str, list[str]]:
    calls: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in NOT_ROLE_CODE:
            continue
        for method in _CALL.findall(path.read_text()):
            calls.setdefault(method, []).append(str(path.relative_to(REPO_ROOT)))
    return calls


def _statements() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(POLICY.read_text())["Statement"]
    return statements


def test_policy_grants_exactly_the_actions_the_code_uses() -> None:
    calls = _methods_called()
    unknown = {method: where for method, where in calls.items() if method not in ACTIONS_FOR_METHOD}
    assert not unknown, (
        f"S3 calls with no known IAM mapping: {unknown}; add them to ACTIONS_FOR_METHOD and, "
        "if needed, to deploy/iam-policy.json"
    )
    needed = set().union(*(ACTIONS_FOR_METHOD[method] for method in calls))
    granted = {action for statement in _statements() for action in statement["Action"]}

    assert "head_bucket" in calls and "put_object" in calls  # the scan found the service
    assert granted == needed


def test_policy_is_scoped_to_the_two_buckets() -> None:
    defaults = settings_from_environ({}, "/unused")
    buckets = {defaults["S3_PRIMARY_BUCKET"], defaults["S3_BACKUP_BUCKET"]}

    for statement in _statements():
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in statement["Action"])
        bucket_level = set(statement["Action"]) <= BUCKET_ACTIONS
        expected = {f"arn:aws:s3:::{b}" + ("" if bucket_level else "/*") for b in buckets}
        assert set(statement["Resource"]) == expected, statement["Sid"]
        assert set(statement["Action"]) <= BUCKET_ACTIONS or not (
            set(statement["Action"]) & BUCKET_ACTIONS
        ), "bucket and object actions need separate statements"


def test_bucket_policy_denies_requests_without_tls() -> None:
    (plain, old_tls) = json.loads(BUCKET_POLICY.read_text())["Statement"]

    assert plain["Effect"] == "Deny" and plain["Principal"] == "*" and plain["Action"] == "s3:*"
    assert plain["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(plain["Resource"]) == {"arn:aws:s3:::BUCKET_NAME", "arn:aws:s3:::BUCKET_NAME/*"}
    assert old_tls["Effect"] == "Deny"
    assert old_tls["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


def test_policy_files_are_plain_json() -> None:
    for path in (REPO_ROOT / "deploy").glob("*.json"):
        assert json.loads(path.read_text())["Version"] == "2012-10-17", path
