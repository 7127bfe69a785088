"""Folders through the API: keys in both buckets follow every create, upload, rename, move and
delete; collisions and impossible moves are refused; search spans folders."""

from __future__ import annotations

import pytest

from tests.fixtures.s3 import BACKUP, PRIMARY
from tests.tree.conftest import Tree


def test_files_in_nested_folders_sit_at_their_paths_in_both_buckets(tree: Tree) -> None:
    docs = tree.folder("docs")
    year = tree.folder("2026", docs["id"])
    assert year == {**year, "name": "2026", "parent_id": docs["id"], "path": "docs/2026"}
    into = tree.upload(b"report", f"name=report.pdf&folder_id={year['id']}")
    by_path = tree.upload(b"notes", "path=docs/2026/q1/notes.txt")  # q1 is created on the way
    top = tree.upload(b"top", "name=top.txt")

    assert into["folder_id"] == year["id"] and into["path"] == "docs/2026/report.pdf"
    assert by_path["path"] == "docs/2026/q1/notes.txt"
    expected = [
        f"{tree.username}/{path}"
        for path in ("docs/2026/q1/notes.txt", "docs/2026/report.pdf", "top.txt")
    ]
    assert tree.keys(PRIMARY) == expected and tree.keys(BACKUP) == expected
    assert tree.bodies("docs/2026/report.pdf") == (b"report", b"report")

    root = tree.call("GET", "/files").get_json()["items"]
    assert [item["id"] for item in root] == [top["id"]]  # the root only, since folders
    inside = tree.call("GET", f"/files?folder_id={year['id']}").get_json()["items"]
    assert [item["name"] for item in inside] == ["report.pdf"]
    subfolders = tree.call("GET", f"/folders?parent_id={year['id']}").get_json()["items"]
    assert [(f["name"], f["path"]) for f in subfolders] == [("q1", "docs/2026/q1")]
    assert [f["name"] for f in tree.call("GET", "/folders").get_json()["items"]] == ["docs"]
    assert tree.call("GET", f"/folders/{year['id']}").get_json()["path"] == "docs/2026"


def test_renaming_and_moving_a_file_moves_its_objects(tree: Tree) -> None:
    archive = tree.folder("archive")
    record = tree.upload(b"contents", "name=draft.txt")

    renamed = tree.call("PATCH", f"/files/{record['id']}", json={"name": "final.txt"})
    assert renamed.status_code == 200
    assert renamed.get_json()["path"] == "final.txt"
    moved = tree.call("PATCH", f"/files/{record['id']}", json={"folder_id": archive["id"]})
    assert moved.get_json() == {**moved.get_json(), "id": record["id"], "path": "archive/final.txt"}
    assert tree.keys(PRIMARY) == tree.keys(BACKUP) == [f"{tree.username}/archive/final.txt"]
    assert tree.bodies("archive/final.txt") == (b"contents", b"contents")

    back = tree.call("PATCH", f"/files/{record['id']}", json={"folder_id": None, "name": "x.txt"})
    assert back.get_json()["folder_id"] is None
    assert tree.keys(PRIMARY) == tree.keys(BACKUP) == [f"{tree.username}/x.txt"]
    download = tree.call("GET", f"/files/{record['id']}/content")
    assert download.get_data() == b"contents"


def test_moving_and_renaming_a_folder_moves_its_whole_tree(tree: Tree) -> None:
    projects = tree.folder("projects")
    site = tree.folder("site", projects["id"])
    tree.upload(b"index", f"name=index.html&folder_id={site['id']}")
    tree.upload(b"logo", "path=projects/site/img/logo.png")
    tree.folder("empty", site["id"])
    old = tree.folder("old")

    answer = tree.call(
        "PATCH", f"/folders/{site['id']}", json={"parent_id": old["id"], "name": "web"}
    )
    assert answer.status_code == 200
    assert answer.get_json() == {**answer.get_json(), "path": "old/web", "parent_id": old["id"]}
    expected = [f"{tree.username}/old/web/img/logo.png", f"{tree.username}/old/web/index.html"]
    assert tree.keys(PRIMARY) == expected and tree.keys(BACKUP) == expected
    assert tree.bodies("old/web/img/logo.png") == (b"logo", b"logo")
    paths = {
        f["path"] for f in tree.call("GET", f"/folders?parent_id={site['id']}").get_json()["items"]
    }
    assert paths == {"old/web/img", "old/web/empty"}
    found = tree.call("GET", "/files?q=logo&recursive=true").get_json()["items"]
    assert [item["path"] for item in found] == ["old/web/img/logo.png"]


def test_a_name_is_one_thing_in_a_folder(tree: Tree) -> None:
    tree.folder("docs")
    record = tree.upload(b"x", "name=notes")
    for method, path, body in [
        ("POST", "/folders", {"name": "notes", "parent_id": None}),
        ("POST", "/folders", {"name": "docs", "parent_id": None}),
        ("PATCH", f"/files/{record['id']}", {"name": "docs"}),
    ]:
        answer = tree.call(method, path, json=body)
        assert answer.status_code == 409, (path, body)
        assert answer.get_json()["error"]["code"] == "name_taken"
    # An upload never takes a folder's name: it gets the next free one.
    assert tree.upload(b"y", "name=docs")["name"] == "docs (2)"


def test_a_folder_cannot_move_into_itself_or_below_itself(tree: Tree) -> None:
    top = tree.folder("top")
    below = tree.folder("below", top["id"])
    for parent in (top["id"], below["id"]):
        answer = tree.call("PATCH", f"/folders/{top['id']}", json={"parent_id": parent})
        assert answer.status_code == 409
        assert answer.get_json()["error"]["code"] == "invalid_move"
    assert tree.call("GET", f"/folders/{top['id']}").get_json()["parent_id"] is None


def test_a_deleted_folder_is_one_entry_restored_as_a_tree(tree: Tree) -> None:
    trip = tree.folder("trip")
    photo = tree.upload(b"photo", "path=trip/day1/photo.jpg")
    plan = tree.upload(b"plan", f"name=plan.txt&folder_id={trip['id']}")
    assert tree.call("DELETE", f"/folders/{trip['id']}").status_code == 204

    assert tree.call("GET", f"/folders/{trip['id']}").status_code == 404
    for record in (photo, plan):
        assert tree.call("GET", f"/files/{record['id']}").status_code == 404
    assert tree.keys(PRIMARY) == []
    assert len(tree.keys(BACKUP)) == 2  # the backups stay for a restore

    with tree.app.app_context():
        from securestore.auth.service import find_user
        from securestore.files import organize

        user = find_user(tree.username)
        assert user is not None
        entries = organize.list_deleted(user)
        assert [(e.folder.path if e.folder else None, e.file) for e in entries] == [("trip", None)]
        organize.restore_folder(user, trip["id"], address=None)
    assert tree.call("GET", f"/files/{photo['id']}/content").get_data() == b"photo"
    assert tree.keys(PRIMARY) == [
        f"{tree.username}/trip/day1/photo.jpg",
        f"{tree.username}/trip/plan.txt",
    ]
    day1 = tree.call("GET", f"/folders?parent_id={trip['id']}").get_json()["items"]
    assert [f["name"] for f in day1] == ["day1"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": ""}, 400),
        ({"name": "..", "parent_id": None}, 400),
        ({"name": "a", "parent_id": 999_999}, 404),
        ({"parent_id": None}, 422),
    ],
)
def test_bad_folder_requests_say_what_is_wrong(
    moto_tree: Tree, body: dict[str, object], status: int
) -> None:
    answer = moto_tree.call("POST", "/folders", json=body)
    assert answer.status_code == status
    assert answer.get_json()["error"]["message"]


def test_a_path_too_long_or_climbing_out_is_refused(moto_tree: Tree) -> None:
    long_path = "/".join(["f" * 200] * 6) + "/x.txt"
    for path, status in ((long_path, 400), ("../x.txt", 400), ("a/../../x.txt", 400)):
        answer = moto_tree.call(
            "POST", f"/files?path={path}", data=b"x", content_type="application/octet-stream"
        )
        assert answer.status_code == status, path
    assert moto_tree.keys(PRIMARY) == []
