"""Links to folders: the page lists the folder's files (paths below it, nothing above), each
downloads alone or all in one streamed ZIP equal to the files, every download counts once,
and the link dies with the folder."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import bearer, issue_token
from tests.tree.conftest import Tree

FILES = {
    "report.pdf": b"%PDF report",
    "photos/beach.jpg": b"\xff\xd8 beach",
    "photos/x/y.txt": b"y",
}


@pytest.fixture
def shared(app: Flask, s3: Any) -> tuple[Tree, dict[str, Any], dict[str, int]]:
    """alice's folder `work/trip` holding FILES, and a file beside it."""
    moto_tree = Tree(app, s3, "alice", issue_token(app, "alice"))
    ids = {}
    for path, body in FILES.items():
        ids[path] = moto_tree.upload(body, f"path=work/trip/{path}")["id"]
    moto_tree.upload(b"not shared", "path=work/secret.txt")
    trip = next(
        folder
        for folder in moto_tree.call("GET", "/folders?parent_id=1").get_json()["items"]
        if folder["name"] == "trip"
    )
    return moto_tree, trip, ids


def link_to(tree: Tree, folder_id: int, **fields: Any) -> tuple[dict[str, Any], str]:
    answer = tree.call("POST", "/shares", json={"folder_id": folder_id, **fields})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    return body, body["url"][body["url"].index("/s/") :]


def test_a_folder_links_page_lists_its_files_and_its_zip_equals_them(
    app: Flask, shared: tuple[Tree, dict[str, Any], dict[str, int]]
) -> None:
    tree, trip, ids = shared
    body, path = link_to(tree, trip["id"])
    assert body["folder_id"] == trip["id"] and body["file_id"] is None
    visitor = app.test_client()
    page = visitor.get(path).get_data(as_text=True)
    for name in FILES:
        assert name in page
    assert "secret.txt" not in page and "work/" not in page and "alice" not in page

    archive = visitor.get(path + "/download")
    assert archive.status_code == 200
    assert archive.headers["Content-Disposition"].startswith("attachment;")
    assert archive.headers["Referrer-Policy"] == "no-referrer"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as unpacked:
        assert {name: unpacked.read(name) for name in FILES} == FILES
        assert sorted(unpacked.namelist()) == sorted([*FILES, "manifest.json"])
        assert len(json.loads(unpacked.read("manifest.json"))["files"]) == 3

    one = visitor.get(f"{path}/files/{ids['photos/beach.jpg']}/download")
    assert one.status_code == 200 and one.data == FILES["photos/beach.jpg"]
    assert tree.call("GET", "/shares").get_json()["items"][0]["downloads"] == 2


def test_a_file_outside_the_folder_is_404_through_its_link(
    app: Flask, shared: tuple[Tree, dict[str, Any], dict[str, int]]
) -> None:
    tree, trip, _ = shared
    _, path = link_to(tree, trip["id"])
    outside = tree.call("GET", "/files?q=secret&recursive=true").get_json()["items"][0]
    answer = app.test_client().get(f"{path}/files/{outside['id']}/download")
    assert answer.status_code == 404
    assert b"secret" not in answer.data


def test_a_folder_links_limit_counts_every_download(
    app: Flask, shared: tuple[Tree, dict[str, Any], dict[str, int]]
) -> None:
    tree, trip, ids = shared
    _, path = link_to(tree, trip["id"], max_downloads=2)
    visitor = app.test_client()
    assert visitor.get(f"{path}/files/{ids['report.pdf']}/download").status_code == 200
    assert visitor.get(path + "/download").status_code == 200
    assert visitor.get(path + "/download").status_code == 404
    assert visitor.get(path).status_code == 404


def test_a_folder_link_dies_with_the_folder_and_another_users_folder_is_404(
    app: Flask, shared: tuple[Tree, dict[str, Any], dict[str, int]]
) -> None:
    tree, trip, _ = shared
    _, path = link_to(tree, trip["id"])
    mallory = issue_token(app, "mallory")
    refused = app.test_client().post(
        "/api/v1/shares", json={"folder_id": trip["id"]}, headers=bearer(mallory)
    )
    assert refused.status_code == 404
    both = tree.call("POST", "/shares", json={"folder_id": trip["id"], "file_id": 1})
    assert both.status_code == 400
    assert tree.call("DELETE", f"/folders/{trip['id']}").status_code == 204
    visitor = app.test_client()
    assert visitor.get(path).status_code == 404
    assert visitor.get(path + "/download").status_code == 404


def test_a_password_folder_link_hides_its_contents_until_unlocked(
    app: Flask, shared: tuple[Tree, dict[str, Any], dict[str, int]]
) -> None:
    tree, trip, ids = shared
    _, path = link_to(tree, trip["id"], password="correct horse battery")
    visitor = app.test_client()
    page = visitor.get(path).get_data(as_text=True)
    assert "beach.jpg" not in page and "password" in page
    assert visitor.get(path + "/download").status_code == 403
    assert visitor.get(f"{path}/files/{ids['report.pdf']}/download").status_code == 403
