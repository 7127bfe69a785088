"""Another user's folder id, wherever a request can carry one (path, query, body), answers 404
and changes nothing: the route sweeps of tests/security cover ids in paths only."""

from __future__ import annotations

from flask import Flask

from tests.api.conftest import issue_token
from tests.fixtures.forms import AuthActions
from tests.fixtures.s3 import PRIMARY
from tests.tree.conftest import Tree


def test_another_users_folder_id_answers_404_in_queries_and_bodies(
    moto_tree: Tree, app: Flask, auth: AuthActions
) -> None:
    private = moto_tree.folder("private")
    mallory = Tree(app, moto_tree.s3, "mallory", issue_token(app, "mallory"))
    own = mallory.upload(b"m", "name=m.txt")
    mine = mallory.folder("mine")
    attempts = [
        ("GET", f"/files?folder_id={private['id']}", None),
        ("GET", f"/folders?parent_id={private['id']}", None),
        ("POST", "/folders", {"name": "x", "parent_id": private["id"]}),
        ("PATCH", f"/files/{own['id']}", {"folder_id": private["id"]}),
        ("PATCH", f"/folders/{mine['id']}", {"parent_id": private["id"]}),
    ]
    for method, path, body in attempts:
        answer = mallory.call(method, path, json=body) if body else mallory.call(method, path)
        assert answer.status_code == 404, (method, path)
    upload = mallory.call(
        "POST",
        f"/files?name=y.txt&folder_id={private['id']}",
        data=b"y",
        content_type="application/octet-stream",
    )
    assert upload.status_code == 404
    assert moto_tree.keys(PRIMARY) == []
    assert mallory.keys(PRIMARY) == ["mallory/m.txt"]

    auth.signed_up("eve")
    page = auth.client.get(f"/files/?folder={private['id']}")
    assert page.status_code == 404
    assert b"private" not in page.get_data()
