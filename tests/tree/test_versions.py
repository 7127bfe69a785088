"""Versions: a replacing upload keeps the old content (with its backup copy), listed newest
first, downloadable, restorable byte for byte, pruned beyond MAX_VERSIONS, counted in usage,
and never part of a user's prefix."""

from __future__ import annotations

import hashlib

import pytest

from tests.fixtures.s3 import BACKUP, PRIMARY, object_body
from tests.tree.conftest import Tree


def replace(tree: Tree, body: bytes, query: str = "name=report.txt") -> dict[str, object]:
    return tree.upload(body, f"{query}&on_conflict=replace")


def test_replacing_keeps_versions_that_download_and_restore_byte_for_byte(tree: Tree) -> None:
    first = tree.upload(b"one", "name=report.txt")
    second = replace(tree, b"two two")
    third = replace(tree, b"three 333")
    assert first["id"] == second["id"] == third["id"]
    assert third["sha256"] == hashlib.sha256(b"three 333").hexdigest()
    assert tree.bodies("report.txt") == (b"three 333", b"three 333")

    listed = tree.call("GET", f"/files/{first['id']}/versions").get_json()["versions"]
    assert [(v["size"], v["sha256"]) for v in listed] == [
        (7, hashlib.sha256(b"two two").hexdigest()),
        (3, hashlib.sha256(b"one").hexdigest()),
    ]
    contents = [
        tree.call("GET", f"/files/{first['id']}/versions/{v['id']}/content").get_data()
        for v in listed
    ]
    assert contents == [b"two two", b"one"]
    # Each version has its backup copy, outside the user's prefix.
    assert len(tree.version_keys(PRIMARY)) == len(tree.version_keys(BACKUP)) == 2
    assert tree.keys(PRIMARY) == tree.keys(BACKUP) == [f"{tree.username}/report.txt"]
    assert sorted(object_body(tree.s3, BACKUP, key) for key in tree.version_keys(BACKUP)) == [
        b"one",
        b"two two",
    ]

    oldest = listed[1]["id"]
    restored = tree.call("POST", f"/files/{first['id']}/versions/{oldest}/restore")
    assert restored.status_code == 200
    assert restored.get_json()["sha256"] == hashlib.sha256(b"one").hexdigest()
    assert tree.call("GET", f"/files/{first['id']}/content").get_data() == b"one"
    assert tree.bodies("report.txt") == (b"one", b"one")
    after = tree.call("GET", f"/files/{first['id']}/versions").get_json()["versions"]
    assert [v["size"] for v in after] == [9, 7]  # the replaced content is now the newest
    assert oldest not in [v["id"] for v in after]
    assert len(tree.version_keys(PRIMARY)) == len(tree.version_keys(BACKUP)) == 2


def test_the_default_on_a_name_clash_is_still_a_numbered_name(tree: Tree) -> None:
    tree.upload(b"a", "name=same.txt")
    assert tree.upload(b"b", "name=same.txt")["name"] == "same (2).txt"
    assert tree.bodies("same.txt") == (b"a", b"a")


@pytest.mark.config(MAX_VERSIONS=2)
def test_versions_beyond_max_versions_are_pruned_in_both_buckets(moto_tree: Tree) -> None:
    record = moto_tree.upload(b"v1", "name=log.txt")
    for body in (b"v2", b"v3", b"v4", b"v5"):
        replace(moto_tree, body, "name=log.txt")
    listed = moto_tree.call("GET", f"/files/{record['id']}/versions").get_json()["versions"]
    kept = [
        moto_tree.call("GET", f"/files/{record['id']}/versions/{v['id']}/content").get_data()
        for v in listed
    ]
    assert kept == [b"v4", b"v3"]
    assert len(moto_tree.version_keys(PRIMARY)) == len(moto_tree.version_keys(BACKUP)) == 2


def test_versions_count_in_usage_and_against_the_quota(moto_tree: Tree) -> None:
    moto_tree.upload(b"x" * 100, "name=big.bin")
    replace(moto_tree, b"y" * 150, "name=big.bin")
    assert moto_tree.call("GET", "/me").get_json()["usage_bytes"] == 250
    with moto_tree.app.app_context():
        from securestore.auth.service import find_user
        from securestore.extensions import db

        user = find_user("alice")
        assert user is not None
        user.quota_bytes = 300
        db.session.commit()
    refused = moto_tree.call(
        "POST",
        "/files?name=big.bin&on_conflict=replace",
        data=b"z" * 60,
        content_type="application/octet-stream",
    )
    assert refused.status_code == 507
    assert moto_tree.bodies("big.bin")[0] == b"y" * 150


def test_a_replacing_upload_into_a_folder_by_path(tree: Tree) -> None:
    first = tree.upload(b"old", "path=a/b/c.txt")
    again = replace(tree, b"new", "path=a/b/c.txt")
    assert again["id"] == first["id"] and again["path"] == "a/b/c.txt"
    assert tree.bodies("a/b/c.txt") == (b"new", b"new")


def test_another_files_version_answers_404(moto_tree: Tree) -> None:
    one = moto_tree.upload(b"1", "name=one.txt")
    replace(moto_tree, b"11", "name=one.txt")
    two = moto_tree.upload(b"2", "name=two.txt")
    version = moto_tree.call("GET", f"/files/{one['id']}/versions").get_json()["versions"][0]
    for method, suffix in (("GET", "content"), ("POST", "restore")):
        path = f"/files/{two['id']}/versions/{version['id']}/{suffix}"
        assert moto_tree.call(method, path).status_code == 404
