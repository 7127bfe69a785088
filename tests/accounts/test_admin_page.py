"""`/admin/`: 404 for anyone else, counts and sizes only, each action audited and CSRF-checked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from securestore.audit.models import AuditEvent
from securestore.extensions import db
from tests.accounts.conftest import account, logged_in, make_account
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions, csrf_token, upload

SECRET_NAME = "diary-of-a-secret-name.txt"
ADMIN_POSTS = [
    "/admin/users",
    "/admin/users/1/quota",
    "/admin/users/1/disable",
    "/admin/users/1/enable",
    "/admin/users/1/promote",
    "/admin/users/1/demote",
    "/admin/users/1/delete",
    "/admin/invitations",
    "/admin/invitations/1/revoke",
]


def post(client: FlaskClient, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/"), **data})


def row_of(page: str, username: str) -> str:
    match = re.search(rf'<tr data-username="{username}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {username}"
    return match.group(1)


def test_non_admins_and_strangers_get_404_everywhere(app: Flask, client: FlaskClient) -> None:
    assert client.get("/admin/").status_code == 404
    user = logged_in(app, "bob")
    assert user.get("/admin/").status_code == 404
    token = csrf_token(user, "/files/")
    for path in ADMIN_POSTS:
        assert user.post(path, data={"csrf_token": token}).status_code == 404, path
    assert "Administration" not in user.get("/files/").get_data(as_text=True)


def test_admins_see_counts_and_sizes_but_no_file_names(app: Flask, s3: Any) -> None:
    owner = logged_in(app, "bob")
    assert upload(owner, (SECRET_NAME, b"x" * 2048)).status_code == 303
    admin = logged_in(app, "root", admin=True)
    assert 'href="/admin/"' in admin.get("/files/").get_data(as_text=True)
    response = admin.get("/admin/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert SECRET_NAME not in page
    assert "diary" not in page
    row = row_of(page, "bob")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[1] == "1"  # files
    assert cells[2] == "2.0 KiB"  # used
    assert "never" not in cells[4]  # logged in
    assert "off" in cells[5]  # 2FA
    assert "active" in cells[6]
    assert "storage-health" in page
    csp = response.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )


def test_admin_actions_take_effect_and_are_audited_naming_the_admin(app: Flask, s3: Any) -> None:
    make_account(app, "bob")
    bob_id = account(app, "bob").id
    admin = logged_in(app, "root", admin=True)
    assert post(admin, f"/admin/users/{bob_id}/quota", quota="5MB").status_code == 303
    assert account(app, "bob").quota_bytes == 5_000_000
    assert post(admin, f"/admin/users/{bob_id}/quota", quota="lots").status_code == 400
    assert post(admin, f"/admin/users/{bob_id}/disable").status_code == 303
    assert account(app, "bob").disabled_at is not None
    assert AuthActions(app.test_client()).login("bob").status_code == 403
    assert post(admin, f"/admin/users/{bob_id}/enable").status_code == 303
    assert post(admin, f"/admin/users/{bob_id}/promote").status_code == 303
    assert account(app, "bob").is_admin
    bob = app.test_client()
    AuthActions(bob).login("bob")
    activity = bob.get("/auth/activity").get_data(as_text=True)
    for change in (
        "quota set to 4.8 MiB",
        "account disabled",
        "account enabled again",
        "promoted to administrator",
    ):
        assert f"{change} by administrator root" in activity
    refused = post(admin, f"/admin/users/{bob_id}/delete", confirm="not-bob")
    assert refused.status_code == 400
    assert post(admin, f"/admin/users/{bob_id}/delete", confirm="bob").status_code == 303
    assert account(app, "bob").deleted_at is not None
    assert 'data-username="bob"' not in admin.get("/admin/").get_data(as_text=True)
    assert post(admin, f"/admin/users/{bob_id}/disable").status_code == 404


def test_the_last_admin_cannot_demote_or_disable_themself(app: Flask) -> None:
    admin = logged_in(app, "root", admin=True)
    root_id = account(app, "root").id
    for action in ("demote", "disable"):
        refused = post(admin, f"/admin/users/{root_id}/{action}")
        assert refused.status_code == 409
        assert "last administrator" in refused.get_data(as_text=True)
    assert account(app, "root").is_admin


def test_admins_create_accounts_and_invitations(app: Flask, s3: Any) -> None:
    admin = logged_in(app, "root", admin=True)
    created = post(admin, "/admin/users", username="carol", password=PASSWORD)
    assert created.status_code == 303
    assert AuthActions(app.test_client()).login("carol").status_code == 302
    taken = post(admin, "/admin/users", username="carol", password=PASSWORD)
    assert taken.status_code == 409

    made = post(admin, "/admin/invitations", days="2", note="for dave")
    assert made.status_code == 201
    page = made.get_data(as_text=True)
    url = re.search(r'id="new-invitation-url"[^>]*value="([^"]+)"', page)
    assert url and url.group(1).startswith("http://localhost/auth/invite/")
    assert "for dave" in page
    invitation_id = re.search(r'data-invitation-id="(\d+)"', page).group(1)  # type: ignore[union-attr]
    assert post(admin, "/admin/invitations", days="400").status_code == 400
    assert post(admin, f"/admin/invitations/{invitation_id}/revoke").status_code == 303
    path = "/" + url.group(1).split("/", 3)[3]
    assert app.test_client().get(path).status_code == 410
    with app.app_context():
        details = db.session.scalars(
            db.select(AuditEvent.detail).where(AuditEvent.event == "invitation")
        ).all()
    assert any("by administrator root" in detail for detail in details)


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_admin_forms_need_the_csrf_token(app: Flask, path: str) -> None:
    admin = logged_in(app, "root", admin=True)
    assert admin.post(path, data={"quota": "1MB", "confirm": "root"}).status_code == 400


def test_storage_health_details_reach_logged_in_admins(app: Flask, s3: Any) -> None:
    admin = logged_in(app, "root", admin=True)
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert "checks" in admin.get("/storage/health", environ_base=remote).get_json()
    user = logged_in(app, "bob")
    assert "checks" not in user.get("/storage/health", environ_base=remote).get_json()
