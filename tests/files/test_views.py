"""The file manager's server side: JSON uploads, the paged/sorted/filtered list, confirm pages."""

from __future__ import annotations

import gc
import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from securestore.auth.models import User
from securestore.extensions import db
from securestore.files import listing
from securestore.files.models import StoredFile
from securestore.navigation import ACCOUNT_LINKS
from tests import factories
from tests.fixtures.forms import AuthActions, csrf_token, upload

TEMPLATES = Path(__file__).resolve().parents[2] / "securestore" / "templates"
START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def add_files(app: Flask, username: str, count: int, *, prefix: str = "file") -> None:
    """Insert `count` file rows straight into the database (no objects: list tests only)."""
    with app.app_context():
        owner = db.session.scalar(db.select(User).where(User.username == username))
        assert owner is not None
        factories.add_files(
            factories.file_row(
                owner,
                f"{prefix}-{n:05d}.txt",
                size=(n * 7919) % 100_000,  # sizes out of name order, some equal
                created_at=START + timedelta(seconds=n // 2),  # ties on the time
            )
            for n in range(count)
        )


def uploaded_file_id(app: Flask, client: FlaskClient, name: str) -> int:
    """Upload one small file and return its id."""
    assert upload(client, (name, b"x")).status_code == 303
    with app.app_context():
        file_id = db.session.scalar(db.select(StoredFile.id).where(StoredFile.name == name))
    assert file_id is not None
    return file_id


def every_page(app: Flask, username: str, order: str, **options: str) -> list[StoredFile]:
    """Follow the cursors from the first page to the last, collecting every row once."""
    rows: list[StoredFile] = []
    cursor = None
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        while True:
            page = listing.list_page(user, cursor=cursor, limit=7, order=order, **options)
            rows.extend(page.items)
            if page.next_cursor is None:
                return rows
            cursor = page.next_cursor


def test_json_upload_answers_each_stored_file(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice")
    upload(client, ("a.txt", b"first"))
    response = upload(client, ("a.txt", b"second"), ("b.bin", b"12345"), Accept="application/json")
    assert response.status_code == 201
    files = response.json["files"]
    assert [(f["name"], f["size"], f["backup_state"]) for f in files] == [
        ("a (2).txt", 6, "done"),
        ("b.bin", 5, "done"),
    ]
    assert all(isinstance(f["id"], int) for f in files)
    assert response.json["errors"] == []
    # Answered as JSON, so nothing waits to be flashed on the next page.
    assert "Uploaded 2 files" not in client.get("/files/").get_data(as_text=True)


def test_json_upload_reports_a_refused_name_and_keeps_the_others(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    response = upload(client, ("ok.txt", b"fine"), ("..", b"nameless"), Accept="application/json")
    assert response.status_code == 400
    assert [f["name"] for f in response.json["files"]] == ["ok.txt"]
    (error,) = response.json["errors"]
    assert error["name"] == ".."
    assert error["code"] == "invalid_input"
    assert error["status"] == 400
    assert "no usable characters" in error["message"]
    with app.app_context():
        assert db.session.scalars(db.select(StoredFile.name)).all() == ["ok.txt"]


@pytest.mark.config(MAX_UPLOAD_BYTES=1000)
def test_json_upload_over_the_limit_answers_413_with_the_limit(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    response = upload(client, ("big.bin", b"x" * 2000), Accept="application/json")
    assert response.status_code == 413
    assert "larger than the 1000 B this server accepts" in response.json["error"]["message"]


def test_the_form_upload_still_redirects_to_the_list(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    response = upload(client, ("plain.txt", b"x"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/files/")


@pytest.mark.parametrize(
    ("order", "key"),
    [
        ("newest", lambda f: (-f.created_at.timestamp(), -f.id)),
        ("oldest", lambda f: (f.created_at.timestamp(), f.id)),
        ("name", lambda f: (f.name.lower(), f.id)),
        ("largest", lambda f: (-f.size, -f.id)),
        ("smallest", lambda f: (f.size, f.id)),
    ],
)
def test_pages_in_every_order_list_each_file_once_in_order(
    app: Flask, auth: AuthActions, order: str, key: object
) -> None:
    auth.signed_up("alice")
    add_files(app, "alice", 52)
    rows = every_page(app, "alice", order)
    assert len(rows) == len({r.id for r in rows}) == 52
    assert rows == sorted(rows, key=key)  # type: ignore[arg-type]


def test_name_order_ignores_case_and_reverses(app: Flask, auth: AuthActions) -> None:
    auth.signed_up("alice")
    for name in ("beta.txt", "Alpha.txt", "gamma.txt"):
        upload(auth.client, (name, b"x"))
    assert [r.name for r in every_page(app, "alice", "name")] == [
        "Alpha.txt",
        "beta.txt",
        "gamma.txt",
    ]
    assert [r.name for r in every_page(app, "alice", "name_desc")][0] == "gamma.txt"


def test_the_name_filter_matches_any_case_and_literal_wildcards(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    for name in ("Report 100%.pdf", "report_2.pdf", "reportX2.pdf", "notes.txt"):
        upload(client, (name, b"x"))
    assert {r.name for r in every_page(app, "alice", "name", name_filter="REPORT")} == {
        "Report 100%.pdf",
        "report_2.pdf",
        "reportX2.pdf",
    }
    assert [r.name for r in every_page(app, "alice", "name", name_filter="100%")] == [
        "Report 100%.pdf"
    ]
    assert [r.name for r in every_page(app, "alice", "name", name_filter="t_2")] == ["report_2.pdf"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("order=biggest", "Unknown order"),
        ("cursor=not-a-cursor", "page link is out of date"),
        # A cursor made for one order is refused by another.
        ("order=name&cursor=WyJuZXdlc3QiLCAiMjAyNS0wMy0xNFQwOTowMDowMCswMDowMCIsIDFd", "out of"),
    ],
)
def test_a_bad_order_or_cursor_is_a_clear_400(
    client: FlaskClient, auth: AuthActions, query: str, message: str
) -> None:
    auth.signed_up("alice")
    response = client.get(f"/files/?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_ten_thousand_files_render_one_page_and_a_link_to_the_next(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    add_files(app, "alice", 10_000)
    page = client.get("/files/?order=name").get_data(as_text=True)
    assert page.count("<tr data-file-id=") == 50
    assert "10000 files" in page
    more = re.search(r'data-load-more href="([^"]+)"', page)
    assert more, "no link to the next page"
    following = client.get(more.group(1).replace("&amp;", "&")).get_data(as_text=True)
    names = re.findall(r'text-break">(file-\d+\.txt)<', following)
    assert names[0] == "file-00050.txt" and len(names) == 50


def test_the_listing_fragment_has_the_rows_and_the_sort_state(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    add_files(app, "alice", 3)
    fragment = client.get("/files/listing?order=largest&q=file").get_data(as_text=True)
    assert "<html" not in fragment
    assert fragment.count("<tr data-file-id=") == 3
    assert 'aria-sort="descending"' in fragment
    # Clicking the active column again reverses it; the filter is kept.
    assert 'href="/files/?order=smallest&amp;q=file"' in fragment
    assert 'title="2025-03-14 09:00:00 UTC"' in fragment
    assert 'data-bs-toggle="tooltip"' in fragment


def test_an_empty_list_tells_a_new_user_what_to_do(client: FlaskClient, auth: AuthActions) -> None:
    auth.signed_up("alice")
    page = client.get("/files/").get_data(as_text=True)
    assert "No files yet" in page
    assert "Drop files or a whole folder" in page
    filtered = client.get("/files/listing?q=zzz").get_data(as_text=True)
    assert "No file names contain “zzz”" in filtered


def test_delete_asks_first_on_a_page_of_its_own(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    file_id = uploaded_file_id(app, client, "keep me?.txt")
    page = client.get(f"/files/{file_id}/delete").get_data(as_text=True)
    assert "Delete this file?" in page
    assert f'action="/files/{file_id}/delete"' in page
    assert 'name="csrf_token"' in page
    assert client.get(f"/files/{file_id}/download").status_code == 200  # nothing deleted yet
    auth.logout()
    auth.signed_up("mallory")
    assert client.get(f"/files/{file_id}/delete").status_code == 404


def test_delete_without_its_csrf_token_is_refused(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    file_id = uploaded_file_id(app, client, "a.txt")
    assert client.post(f"/files/{file_id}/delete").status_code == 400
    token = csrf_token(client, "/files/")
    assert client.post(f"/files/{file_id}/delete", data={"csrf_token": token}).status_code == 303


def test_the_account_menu_links_to_every_settings_page(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    page = client.get("/files/").get_data(as_text=True)
    for label, _, endpoint in ACCOUNT_LINKS:
        assert endpoint in app.view_functions, endpoint
        with app.test_request_context():
            assert f'href="{url_for(endpoint)}"' in page, label
        assert label in page
    assert 'href="/auth/activity"' in page
    assert 'data-testid="logout"' in page


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_templates_have_no_inline_script_style_or_handler(template: Path) -> None:
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"\sstyle=", text), "inline style attribute"
    assert not re.search(r"<style", text), "inline <style>"
    assert not re.search(r"\son[a-z]+=", text), "inline event handler"


def test_an_upload_cut_short_leaves_no_temporary_file_open(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.signed_up("alice")
    token = csrf_token(client, "/files/")
    boundary = "cutshort"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sent = head + b"x" * 200_000
    # The browser promised more bytes than it sent: the user pressed cancel mid-upload.
    response = client.post(
        "/files/upload",
        input_stream=BytesIO(sent),
        content_type=f"multipart/form-data; boundary={boundary}",
        content_length=len(sent) + 100_000,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    gc.collect()  # an unclosed temporary file would warn here, and -W error fails the test
