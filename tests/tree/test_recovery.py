"""Crashes part-way through a move are repaired (no duplicate, no loss), and the backup
bucket alone rebuilds the tree with current contents only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from securestore.auth.service import find_user
from securestore.extensions import db
from securestore.files import moves, organize
from securestore.files.models import FileVersion, Folder, PendingMove, StoredFile
from tests.fixtures.s3 import BACKUP, PRIMARY
from tests.tree.conftest import Tree


class Crash(Exception):
    """The process dying at that point (no handler of the app's catches it)."""


def crashing_after(original: Callable[..., Any]) -> Callable[..., Any]:
    def crash(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        raise Crash

    return crash


def rename_crashing(tree: Tree, file_id: int, new_name: str) -> None:
    with tree.app.app_context():
        user = find_user(tree.username)
        assert user is not None
        with pytest.raises(Crash):
            organize.change_file(user, file_id, name=new_name, address=None)
        db.session.rollback()


def journal(tree: Tree) -> list[tuple[str, str]]:
    with tree.app.app_context():
        return [(j.from_key, j.to_key) for j in db.session.scalars(sa.select(PendingMove))]


def test_a_move_that_crashed_between_copy_and_switch_is_undone(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tree.upload(b"precious", "name=old.txt")
    monkeypatch.setattr(moves, "_copy", crashing_after(moves._copy))
    rename_crashing(tree, record["id"], "new.txt")
    both = [f"{tree.username}/new.txt", f"{tree.username}/old.txt"]
    assert tree.keys(PRIMARY) == tree.keys(BACKUP) == both  # copied, not switched
    assert journal(tree) == [(both[1], both[0])]

    repaired = tree.app.test_cli_runner().invoke(
        args=["backup", "verify", "--repair", "--user", tree.username]
    )
    assert repaired.exit_code == 0, repaired.output
    assert tree.keys(PRIMARY) == tree.keys(BACKUP) == [f"{tree.username}/old.txt"]
    assert journal(tree) == []
    assert tree.call("GET", f"/files/{record['id']}").get_json()["name"] == "old.txt"
    assert tree.call("GET", f"/files/{record['id']}/content").get_data() == b"precious"


def test_a_move_that_crashed_after_the_switch_is_finished(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tree.upload(b"precious", "name=old.txt")
    with monkeypatch.context() as patch:
        patch.setattr(moves, "_finish", lambda journal: (_ for _ in ()).throw(Crash()))
        rename_crashing(tree, record["id"], "new.txt")
    assert tree.call("GET", f"/files/{record['id']}/content").get_data() == b"precious"
    assert len(tree.keys(PRIMARY)) == 2  # the old key is still there

    synced = tree.app.test_cli_runner().invoke(args=["backup", "sync"])
    assert synced.exit_code == 0, synced.output
    assert "moves repaired 1" in synced.output
    assert tree.keys(PRIMARY) == tree.keys(BACKUP) == [f"{tree.username}/new.txt"]
    assert tree.bodies("new.txt") == (b"precious", b"precious")
    assert journal(tree) == []


def test_a_folder_move_stopped_half_way_is_finished_by_sync(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = tree.folder("box")
    for n in range(3):
        tree.upload(f"file {n}".encode(), f"name={n}.txt&folder_id={box['id']}")
    calls = []
    original = moves.move

    def dies_on_the_second(*args: Any) -> None:
        calls.append(args)
        if len(calls) == 2:
            raise Crash
        original(*args)

    with monkeypatch.context() as patch:
        patch.setattr(moves, "move", dies_on_the_second)
        with tree.app.app_context():
            user = find_user(tree.username)
            assert user is not None
            with pytest.raises(Crash):
                organize.change_folder(user, box["id"], name="crate", address=None)
            db.session.rollback()
    assert len([k for k in tree.keys(PRIMARY) if "/crate/" in k]) == 1
    # Meanwhile every file stays downloadable, wherever its object is.
    listed = tree.call("GET", f"/files?folder_id={box['id']}").get_json()["items"]
    assert sorted(tree.call("GET", f"/files/{f['id']}/content").get_data() for f in listed) == [
        b"file 0",
        b"file 1",
        b"file 2",
    ]

    synced = tree.app.test_cli_runner().invoke(args=["backup", "sync"])
    assert "files moved 2" in synced.output
    expected = [f"{tree.username}/crate/{n}.txt" for n in range(3)]
    assert tree.keys(PRIMARY) == tree.keys(BACKUP) == expected


def test_backup_restore_rebuilds_the_tree_with_current_versions_only(tree: Tree) -> None:
    tree.upload(b"v1", "path=work/plans/plan.txt")
    tree.upload(b"v2", "path=work/plans/plan.txt&on_conflict=replace")
    tree.upload(b"top", "name=top.txt")
    tree.folder("empty")
    with tree.app.app_context():
        user = find_user(tree.username)
        assert user is not None
        # The database and the primary bucket are lost; only the backup bucket is left.
        for model in (FileVersion,):
            db.session.execute(sa.delete(model))
        db.session.execute(sa.delete(StoredFile).where(StoredFile.owner_id == user.id))
        db.session.execute(sa.delete(Folder).where(Folder.owner_id == user.id))
        db.session.commit()
    for key in tree.keys(PRIMARY):
        tree.s3.delete_object(Bucket=PRIMARY, Key=key)

    restored = tree.app.test_cli_runner().invoke(
        args=["backup", "restore", "--user", tree.username]
    )
    assert restored.exit_code == 0, restored.output
    root = tree.call("GET", "/files").get_json()["items"]
    assert [f["path"] for f in root] == ["top.txt"]
    found = tree.call("GET", "/files?q=plan&recursive=true").get_json()["items"]
    assert [f["path"] for f in found] == ["work/plans/plan.txt"]
    assert tree.call("GET", f"/files/{found[0]['id']}/content").get_data() == b"v2"
    assert tree.call("GET", f"/files/{found[0]['id']}/versions").get_json()["versions"] == []
    folders = tree.call("GET", "/folders").get_json()["items"]
    assert [f["path"] for f in folders] == ["work"]  # an empty folder has no object to restore
