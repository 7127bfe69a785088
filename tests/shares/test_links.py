"""Share links end to end on moto: creation rules, the public page and download, every way a
link dies, passwords and their throttle, resumed downloads, revocation, the owner's pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from securestore.audit.models import AuditEvent
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.extensions import db
from securestore.files.models import StoredFile
from securestore.files.responses import ACCEL_LOCATION, FALLBACK_HEADER, OBJECT_URL_HEADER
from securestore.shares.models import ShareLink
from tests.api.conftest import bearer
from tests.fixtures.apps import PASSWORD
from tests.fixtures.forms import AuthActions, csrf_token
from tests.shares.conftest import CONTENT, Owner, make_owner

LINK_PASSWORD = "correct horse battery staple"
TOKEN_PATH = re.compile(r"/s/[A-Za-z0-9_-]{43}")


def unlock(client: FlaskClient, path: str, password: str) -> int:
    answer = client.post(path, data={"password": password, "csrf_token": csrf_token(client, path)})
    return answer.status_code


def test_a_new_link_has_an_absolute_url_with_256_random_bits_and_a_weeks_expiry(
    owner: Owner,
) -> None:
    before = datetime.now(UTC)
    body = owner.share(max_downloads=5)
    assert set(body) >= {"id", "url", "expires_at", "max_downloads", "downloads", "has_password"}
    assert body["url"].startswith("http://localhost/s/")
    assert TOKEN_PATH.fullmatch(body["url"].removeprefix("http://localhost"))
    assert (body["max_downloads"], body["downloads"], body["has_password"]) == (5, 0, False)
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=6.99) < expires - before < timedelta(days=7.01)
    token = body["url"].rsplit("/", 1)[1]
    with owner.app.app_context():
        stored = db.session.get(ShareLink, body["id"])
        assert stored is not None and token not in stored.token_hash  # only its hash is kept
    listed = owner.api.get("/api/v1/shares", headers=bearer(owner.token)).get_json()["items"]
    assert [(item["id"], item["state"]) for item in listed] == [(body["id"], "active")]
    assert "url" not in listed[0] and token not in str(listed)


@pytest.mark.config(PUBLIC_URL="https://files.example.com")
def test_the_url_starts_with_public_url(owner: Owner) -> None:
    assert owner.share()["url"].startswith("https://files.example.com/s/")


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"expires_in_days": 31}, 400, "1 to 30 days"),
        ({"expires_in_days": 0}, 400, "1 to 30 days"),
        ({"expires_in_days": "soon"}, 422, "expires_in_days"),
        ({"max_downloads": 0}, 400, "download limit"),
        ({"password": "short"}, 400, "at least 12"),
        ({"file_id": 999999}, 404, "not_found"),
    ],
)
def test_bad_requests_are_refused_not_capped(
    owner: Owner, fields: dict[str, object], status: int, words: str
) -> None:
    answer = owner.api.post(
        "/api/v1/shares", json={"file_id": owner.file_id, **fields}, headers=bearer(owner.token)
    )
    assert answer.status_code == status
    assert words in answer.get_data(as_text=True)
    with owner.app.app_context():
        assert db.session.scalar(db.select(db.func.count(ShareLink.id))) == 0


def test_another_users_file_cannot_be_shared_and_their_links_cannot_be_revoked(
    app: Flask, owner: Owner
) -> None:
    mallory = make_owner(app, "mallory")
    refused = mallory.api.post(
        "/api/v1/shares", json={"file_id": owner.file_id}, headers=bearer(mallory.token)
    )
    assert refused.status_code == 404
    link = owner.share()
    revoke = mallory.api.delete(f"/api/v1/shares/{link['id']}", headers=bearer(mallory.token))
    assert revoke.status_code == 404
    assert mallory.api.get("/api/v1/shares", headers=bearer(mallory.token)).get_json() == {
        "items": []
    }


@pytest.mark.config(SHARE_REQUIRE_PASSWORD=True)
def test_share_require_password_refuses_links_without_one(owner: Owner) -> None:
    refused = owner.share(expect=400)
    assert "requires a password" in refused["error"]["message"]
    assert owner.share(password=LINK_PASSWORD)["has_password"] is True


def test_the_public_page_shows_the_file_and_nothing_of_its_owner(app: Flask, owner: Owner) -> None:
    path = owner.path()
    visitor = app.test_client()
    page = visitor.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "figures.csv" in text and "2.7 KiB" in text
    assert "alice" not in text
    for answer in (page, visitor.get(path + "/download")):
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "noindex" in answer.headers["X-Robots-Tag"]
    download = visitor.get(path + "/download")
    assert download.status_code == 200
    assert download.data == CONTENT
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.config(DOWNLOAD_MODE="redirect")
def test_a_link_never_redirects_to_s3_where_the_key_names_the_owner(
    app: Flask, owner: Owner
) -> None:
    download = app.test_client().get(owner.path() + "/download")
    assert download.status_code == 200 and download.data == CONTENT


@pytest.mark.config(DOWNLOAD_MODE="accel")
def test_with_accel_a_link_s_download_is_counted_then_handed_to_nginx(
    app: Flask, owner: Owner
) -> None:
    path = owner.path(max_downloads=1)
    visitor = app.test_client()
    handed = visitor.get(path + "/download")
    assert handed.status_code == 200 and handed.data == b""
    assert handed.headers["X-Accel-Redirect"] == ACCEL_LOCATION
    assert "/alice/figures.csv?" in handed.headers[OBJECT_URL_HEADER]
    listed = owner.api.get("/api/v1/shares", headers=bearer(owner.token)).get_json()["items"]
    assert listed[0]["downloads"] == 1
    # nginx's fallback after S3 failed is a new request: it counts, and the limit holds.
    fallback = visitor.get(path + "/download", headers={FALLBACK_HEADER: "1"})
    assert fallback.status_code == 404 and OBJECT_URL_HEADER not in fallback.headers


def _expire(app: Flask, link_id: int) -> None:
    with app.app_context():
        link = db.session.get(ShareLink, link_id)
        assert link is not None
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def _disable_owner(app: Flask) -> None:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "alice"))
        assert user is not None
        user.disabled_at = utcnow()
        db.session.commit()


@pytest.mark.parametrize("death", ["expired", "revoked", "used up", "file deleted", "disabled"])
def test_a_dead_link_answers_404_on_its_page_and_download_and_names_nothing(
    app: Flask, owner: Owner, death: str
) -> None:
    link = owner.share(max_downloads=1)
    path = link["url"][link["url"].index("/s/") :]
    visitor = app.test_client()
    if death == "expired":
        _expire(app, link["id"])
    elif death == "revoked":
        gone = owner.api.delete(f"/api/v1/shares/{link['id']}", headers=bearer(owner.token))
        assert gone.status_code == 204
    elif death == "used up":
        assert visitor.get(path + "/download").status_code == 200
    elif death == "file deleted":
        headers = bearer(owner.token)
        assert (
            owner.api.delete(f"/api/v1/files/{owner.file_id}", headers=headers).status_code == 204
        )
    else:
        _disable_owner(app)
    for answer in (visitor.get(path), app.test_client().get(path + "/download")):
        assert answer.status_code == 404
        assert "figures.csv" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/s/" + "A" * 43, "/s/short", "/s/" + "A" * 43 + "/download"])
def test_an_unknown_or_malformed_token_answers_404(
    client: FlaskClient, owner: Owner, path: str
) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.config(SHARES_ENABLED=False)
def test_with_shares_off_the_feature_is_hidden_and_links_are_dead(app: Flask, owner: Owner) -> None:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "alice"))
        assert user is not None
        token = "B" * 43
        from securestore.shares.service import token_hash

        db.session.add(
            ShareLink(
                owner_id=user.id, file_id=owner.file_id, token_hash=token_hash(token),
                expires_at=utcnow() + timedelta(days=1),
            )
        )  # fmt: skip
        db.session.commit()
    assert app.test_client().get(f"/s/{token}").status_code == 404
    assert owner.share(expect=404)["error"]["code"] == "not_found"
    browser = app.test_client()
    AuthActions(browser).login("alice")
    assert browser.get("/shares/").status_code == 404
    assert 'data-action="share"' not in browser.get("/files/").get_data(as_text=True)


def test_a_password_link_shows_a_form_first_and_grants_only_the_browser_that_knew_it(
    app: Flask, owner: Owner
) -> None:
    path = owner.path(password=LINK_PASSWORD)
    visitor = app.test_client()
    page = visitor.get(path).get_data(as_text=True)
    assert 'type="password"' in page and "Download" not in page.split("</h1>", 1)[1][:200]
    assert visitor.get(path + "/download").status_code == 403
    assert visitor.post(path, data={"password": LINK_PASSWORD}).status_code == 400  # no CSRF
    assert unlock(visitor, path, "not the password at all") == 401
    assert unlock(visitor, path, LINK_PASSWORD) == 303
    assert visitor.get(path + "/download").data == CONTENT
    assert app.test_client().get(path + "/download").status_code == 403


@pytest.mark.config(SHARE_PASSWORD_LIMIT=3)
def test_wrong_passwords_are_throttled_per_link_without_locking_the_owner_out(
    app: Flask, owner: Owner
) -> None:
    path = owner.path(password=LINK_PASSWORD)
    visitor = app.test_client()
    assert [unlock(visitor, path, f"wrong guess number {n}") for n in range(3)] == [401] * 3
    assert unlock(visitor, path, LINK_PASSWORD) == 429
    assert unlock(app.test_client(), path, LINK_PASSWORD) == 429  # the link's own counter
    other = owner.path(password=LINK_PASSWORD)
    assert unlock(app.test_client(), other, LINK_PASSWORD) == 303  # other links are not
    assert AuthActions(app.test_client()).login("alice", PASSWORD).status_code == 302


def test_a_resumed_download_is_not_counted_again_but_a_new_one_is(app: Flask, owner: Owner) -> None:
    link = owner.share(max_downloads=1)
    path = link["url"][link["url"].index("/s/") :] + "/download"
    visitor = app.test_client()
    first = visitor.get(path, headers={"Range": "bytes=0-99"})
    assert (first.status_code, first.data) == (206, CONTENT[:100])
    rest = visitor.get(path, headers={"Range": "bytes=100-"})
    assert (rest.status_code, rest.data) == (206, CONTENT[100:])
    assert app.test_client().get(path, headers={"Range": "bytes=100-"}).status_code == 404
    assert visitor.get(path).status_code == 404  # from the start: a new download
    listed = owner.api.get("/api/v1/shares", headers=bearer(owner.token)).get_json()["items"]
    assert (listed[0]["downloads"], listed[0]["state"]) == (1, "exhausted")


def test_creation_downloads_and_revocation_are_in_the_owners_activity(
    app: Flask, owner: Owner
) -> None:
    link = owner.share()
    path = link["url"][link["url"].index("/s/") :]
    app.test_client().get(path)
    app.test_client().get(path + "/download")
    owner.api.delete(f"/api/v1/shares/{link['id']}", headers=bearer(owner.token))
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert [e for e in events if e.startswith("share_")] == [
        "share_create", "share_open", "share_download", "share_revoke"
    ]  # fmt: skip
    browser = app.test_client()
    AuthActions(browser).login("alice")
    assert "share download" in browser.get("/auth/activity").get_data(as_text=True)


def test_the_owner_creates_lists_and_revokes_links_from_the_pages(app: Flask, owner: Owner) -> None:
    browser = app.test_client()
    AuthActions(browser).login("alice")
    files_page = browser.get("/files/").get_data(as_text=True)
    assert f"/shares/?file_id={owner.file_id}" in files_page
    form_path = f"/shares/?file_id={owner.file_id}"
    fields = {"file_id": str(owner.file_id), "expires_in_days": "3", "max_downloads": "2"}
    assert browser.post("/shares/", data=fields).status_code == 400  # no CSRF token
    created = browser.post(
        "/shares/", data={**fields, "csrf_token": csrf_token(browser, form_path)}
    )
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    match = TOKEN_PATH.search(page)
    assert match and "data-copy" in page
    assert app.test_client().get(match.group(0)).status_code == 200
    listing = browser.get("/shares/").get_data(as_text=True)
    assert "0 of 2" in listing and match.group(0) not in listing
    with app.app_context():
        link_id = db.session.scalar(db.select(ShareLink.id))
    revoke = f"/shares/{link_id}/revoke"
    assert browser.post(revoke).status_code == 400  # no CSRF token
    done = browser.post(revoke, data={"csrf_token": csrf_token(browser, "/shares/")})
    assert done.status_code == 303
    assert app.test_client().get(match.group(0)).status_code == 404


def test_the_owner_pages_refuse_another_users_file_and_link(app: Flask, owner: Owner) -> None:
    owner.share()
    make_owner(app, "mallory")
    browser = app.test_client()
    AuthActions(browser).login("mallory")
    assert browser.get(f"/shares/?file_id={owner.file_id}").status_code == 404
    token = csrf_token(browser, "/shares/")
    stolen = browser.post("/shares/", data={"file_id": str(owner.file_id), "csrf_token": token,
                                           "expires_in_days": "7"})  # fmt: skip
    assert stolen.status_code == 404
    with app.app_context():
        link_id = db.session.scalar(db.select(ShareLink.id))
    assert browser.post(f"/shares/{link_id}/revoke", data={"csrf_token": token}).status_code == 404


def test_backup_sync_forgets_the_links_of_a_purged_file(app: Flask, owner: Owner) -> None:
    owner.share()
    with app.app_context():
        # A purge on SQLite, where no foreign key cascades: the row goes, the link stays.
        db.session.execute(db.delete(StoredFile).where(StoredFile.id == owner.file_id))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["backup", "sync"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(ShareLink.id))) == 0
