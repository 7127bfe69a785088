"""Every /api/v1 endpoint: success, authentication, scopes, isolation and bad input."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from securestore.audit.models import AuditEvent
from securestore.auth import service as accounts
from securestore.auth.models import User
from securestore.extensions import db
from securestore.files.models import StoredFile
from securestore.tokens import service as tokens
from securestore.tokens.models import PersonalAccessToken
from tests import factories
from tests.api.conftest import MakeToken, bearer
from tests.fixtures.forms import AuthActions
from tests.fixtures.s3 import BACKUP, PRIMARY, bucket_keys, object_body

API = "/api/v1"


def upload_raw(
    client: FlaskClient, token: str, name: str | None, body: bytes, **headers: str
) -> TestResponse:
    query = "" if name is None else f"?name={name}"
    return client.post(
        f"{API}/files{query}",
        data=body,
        content_type="application/octet-stream",
        headers={**bearer(token), **headers},
    )


def upload_multipart(
    client: FlaskClient, token: str, *files: tuple[str, bytes], query: str = ""
) -> TestResponse:
    fields: MultiDict[str, Any] = MultiDict()
    for name, body in files:
        fields.add("file", FileStorage(BytesIO(body), filename=name, content_type="text/plain"))
    boundary, body = encode_multipart(fields)
    return client.post(
        f"{API}/files{query}",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=bearer(token),
    )


def error_of(response: TestResponse) -> tuple[int, str]:
    """The status and error code of a JSON error answer (asserting its shape)."""
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"]


def test_raw_upload_stores_the_bytes_and_returns_the_record(
    app: Flask, client: FlaskClient, token: str, s3: Any
) -> None:
    body = b"nightly dump\n" * 1000
    response = upload_raw(client, token, "dump.sql", body)
    assert response.status_code == 201
    record = response.get_json()
    assert record == {
        "id": record["id"],
        "name": "dump.sql",
        "folder_id": None,
        "path": "dump.sql",
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "checksum": None,
        "content_type": "application/octet-stream",
        "backup_state": "done",
        "created_at": record["created_at"],
    }
    assert datetime.fromisoformat(record["created_at"]).tzinfo is not None
    assert response.headers["Location"] == f"{API}/files/{record['id']}"
    assert object_body(s3, PRIMARY, "alice/dump.sql") == body
    assert object_body(s3, BACKUP, "alice/dump.sql") == body


def test_multipart_upload_keeps_both_files_of_the_same_name(
    client: FlaskClient, token: str, s3: Any
) -> None:
    first = upload_multipart(client, token, ("résumé.txt", b"one"))
    second = upload_multipart(client, token, ("résumé.txt", b"two"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["content_type"] == "text/plain"
    assert second.get_json()["name"] == "résumé (2).txt"
    assert object_body(s3, PRIMARY, "alice/résumé (2).txt") == b"two"


def test_multipart_part_without_filename_takes_the_query_name(
    client: FlaskClient, token: str
) -> None:
    response = upload_multipart(client, token, ("", b"x"), query="?name=named.txt")
    assert response.status_code == 201
    assert response.get_json()["name"] == "named.txt"


UNUSABLE_UPLOADS: list[tuple[str, Callable[[FlaskClient, str], TestResponse], str]] = [
    ("raw without name", lambda c, t: upload_raw(c, t, None, b"data"), "Name the file"),
    ("unusable name", lambda c, t: upload_raw(c, t, "..", b"data"), "no usable characters"),
    ("two parts", lambda c, t: upload_multipart(c, t, ("a", b"1"), ("b", b"2")), "one file per"),
    ("no part", lambda c, t: upload_multipart(c, t), "multipart field `file`"),
    ("part without name", lambda c, t: upload_multipart(c, t, ("", b"x")), "Name the file"),
]


def test_upload_refuses_unusable_input_with_400(client: FlaskClient, token: str, s3: Any) -> None:
    for case, send, message in UNUSABLE_UPLOADS:
        response = send(client, token)
        assert error_of(response) == (400, "invalid_input"), case
        assert message in response.get_json()["error"]["message"], case
    assert bucket_keys(s3, PRIMARY) == []


@pytest.mark.config(MAX_UPLOAD_BYTES=1000)
def test_upload_over_the_size_limit_is_413_and_leaves_nothing(
    client: FlaskClient, token: str, s3: Any
) -> None:
    assert error_of(upload_raw(client, token, "big.bin", b"x" * 1001))[0] == 413
    assert error_of(upload_multipart(client, token, ("big.bin", b"x" * 2000)))[0] == 413
    # Without a Content-Length the limit is enforced while streaming.
    chunked = client.post(
        f"{API}/files?name=big.bin",
        input_stream=BytesIO(b"x" * 5000),
        headers={**bearer(token), "Transfer-Encoding": "chunked"},
        content_type="application/octet-stream",
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it
    )
    assert error_of(chunked)[0] == 413
    assert bucket_keys(s3, PRIMARY) == []
    assert upload_raw(client, token, "ok.bin", b"x" * 1000).status_code == 201


def insert_files(app: Flask, username: str, count: int, name: str = "file") -> None:
    """Insert rows straight into the table: listing never reads the bytes."""
    with app.app_context():
        owner = db.session.scalar(db.select(User).where(User.username == username))
        assert owner is not None
        factories.add_files(
            factories.file_row(
                owner,
                f"{name}-{n:04d}.txt",
                size=n,
                # Pairs share a timestamp, so the id must break ties.
                created_at=factories.START + timedelta(seconds=n // 2),
            )
            for n in range(count)
        )


def test_pagination_walks_over_a_thousand_files_once_each_newest_first(
    app: Flask, client: FlaskClient, make_token: MakeToken
) -> None:
    token = make_token("alice")
    make_token("bob")
    insert_files(app, "alice", 1005)
    insert_files(app, "bob", 10)
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
        page = client.get(f"{API}/files{query}", headers=bearer(token)).get_json()
        seen.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 6
    assert len(seen) == 1005
    assert len({item["id"] for item in seen}) == 1005
    keys = [(item["created_at"], item["id"]) for item in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(item["name"].startswith("file-") for item in seen)  # none of bob's


def test_list_follows_the_requested_order(app: Flask, client: FlaskClient, token: str) -> None:
    insert_files(app, "alice", 5)
    for order, expected in [("largest", [4, 3, 2, 1, 0]), ("name", [0, 1, 2, 3, 4])]:
        url = f"{API}/files?order={order}&limit=2"
        sizes: list[int] = []
        while url:
            page = client.get(url, headers=bearer(token)).get_json()
            sizes += [item["size"] for item in page["items"]]
            url = (
                page["next_cursor"]
                and f"{API}/files?order={order}&limit=2&cursor={page['next_cursor']}"
            )
        assert sizes == expected, order


def test_default_page_size_is_fifty(app: Flask, client: FlaskClient, token: str) -> None:
    insert_files(app, "alice", 51)
    page = client.get(f"{API}/files", headers=bearer(token)).get_json()
    assert len(page["items"]) == 50 and page["next_cursor"]


def test_name_filter_ignores_case_and_treats_wildcards_literally(
    app: Flask, client: FlaskClient, token: str
) -> None:
    insert_files(app, "alice", 3, name="Report")
    insert_files(app, "alice", 2, name="100%_done")
    insert_files(app, "alice", 2, name="100xxdone")

    def names(q: str) -> list[str]:
        response = client.get(f"{API}/files", query_string={"q": q}, headers=bearer(token))
        return sorted(item["name"] for item in response.get_json()["items"])

    assert names("report-000") == ["Report-0000.txt", "Report-0001.txt", "Report-0002.txt"]
    assert names("%_") == ["100%_done-0000.txt", "100%_done-0001.txt"]
    assert names("nothing like it") == []


def cursor(*parts: object) -> str:
    """A hand-made cursor in the listing's own encoding, to check what it refuses."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_list_refuses_bad_parameters(client: FlaskClient, token: str) -> None:
    for query, expected in [
        ("cursor=not-a-cursor", (400, "invalid_input")),
        ("q=a%00b", (400, "invalid_input")),
        (f"cursor={cursor('newest', '2026-01-01T00:00:00', 1)}", (400, "invalid_input")),
        (f"cursor={cursor('newest', '2026-01-01T00:00:00+00:00', 2**64)}", (400, "invalid_input")),
        (f"order=largest&cursor={cursor('largest', 'big', 1)}", (400, "invalid_input")),
        (
            f"order=name&cursor={cursor('newest', '2026-01-01T00:00:00+00:00', 1)}",
            (400, "invalid_input"),
        ),
        ("order=sideways", (422, "unprocessable_entity")),
        ("limit=0", (422, "unprocessable_entity")),
        ("limit=201", (422, "unprocessable_entity")),
        ("limit=many", (422, "unprocessable_entity")),
    ]:
        response = client.get(f"{API}/files?{query}", headers=bearer(token))
        assert error_of(response) == expected, query
        if expected[0] == 422:
            field = query.split("=")[0]
            assert response.get_json()["error"]["message"].startswith(f"{field}: "), query


def test_get_content_and_delete_a_file(client: FlaskClient, token: str, s3: Any) -> None:
    body = bytes(range(256)) * 40
    file_id = upload_raw(client, token, "raw.bin", body).get_json()["id"]
    described = client.get(f"{API}/files/{file_id}", headers=bearer(token))
    assert described.status_code == 200
    assert described.get_json()["sha256"] == hashlib.sha256(body).hexdigest()
    content = client.get(f"{API}/files/{file_id}/content", headers=bearer(token))
    assert content.status_code == 200
    assert content.data == body
    assert content.headers["Content-Disposition"].startswith('attachment; filename="raw.bin"')
    assert content.headers["X-Content-Type-Options"] == "nosniff"
    deleted = client.delete(f"{API}/files/{file_id}", headers=bearer(token))
    assert (deleted.status_code, deleted.data) == (204, b"")
    assert bucket_keys(s3, PRIMARY) == []
    assert bucket_keys(s3, BACKUP) == ["alice/raw.bin"]
    assert error_of(client.get(f"{API}/files/{file_id}", headers=bearer(token))) == (
        404,
        "not_found",
    )


def test_content_honours_a_byte_range(client: FlaskClient, token: str) -> None:
    body = bytes(range(256)) * 4
    file_id = upload_raw(client, token, "ranged.bin", body).get_json()["id"]
    url = f"{API}/files/{file_id}/content"
    part = client.get(url, headers={**bearer(token), "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.data == body[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
    tail = client.get(url, headers={**bearer(token), "Range": "bytes=-5"})
    assert (tail.status_code, tail.data) == (206, body[-5:])
    beyond = client.get(url, headers={**bearer(token), "Range": f"bytes={len(body)}-"})
    assert error_of(beyond)[0] == 416


@pytest.mark.config(DOWNLOAD_MODE="redirect")
def test_content_redirects_to_a_presigned_url_in_redirect_mode(
    client: FlaskClient, token: str
) -> None:
    file_id = upload_raw(client, token, "far away.txt", b"x").get_json()["id"]
    response = client.get(f"{API}/files/{file_id}/content", headers=bearer(token))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"https://{PRIMARY}.s3.amazonaws.com/alice/far%20away.txt?")
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location


def test_another_users_file_is_not_found_everywhere(
    app: Flask, client: FlaskClient, make_token: MakeToken, s3: Any
) -> None:
    alice, bob = make_token("alice"), make_token("bob")
    file_id = upload_raw(client, alice, "secret.txt", b"alice only").get_json()["id"]
    for method, path in [
        ("GET", f"/files/{file_id}"),
        ("GET", f"/files/{file_id}/content"),
        ("DELETE", f"/files/{file_id}"),
    ]:
        response = client.open(API + path, method=method, headers=bearer(bob))
        assert error_of(response) == (404, "not_found"), path
    assert client.get(f"{API}/files", headers=bearer(bob)).get_json()["items"] == []
    assert bucket_keys(s3, PRIMARY) == ["alice/secret.txt"]


def test_ids_out_of_range_are_not_found(client: FlaskClient, token: str) -> None:
    for file_id in ("0", "9223372036854775808", "99999999999999999999999"):
        response = client.get(f"{API}/files/{file_id}", headers=bearer(token))
        assert error_of(response)[0] == 404, file_id


def test_me_names_the_user_and_token(client: FlaskClient, make_token: MakeToken) -> None:
    token = make_token("carol", scopes=["read"], expires_in_days=7)
    me = client.get(f"{API}/me", headers=bearer(token)).get_json()
    assert me["username"] == "carol"
    assert me["token"]["name"] == "carol test token" and me["token"]["scopes"] == ["read"]
    expires = datetime.fromisoformat(me["token"]["expires_at"])
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)


def test_health_needs_no_token_and_reports_a_missing_bucket(client: FlaskClient, s3: Any) -> None:
    healthy = client.get(f"{API}/health")
    assert healthy.status_code == 200 and healthy.get_json()["status"] == "ok"
    s3.delete_bucket(Bucket=BACKUP)
    broken = client.get(f"{API}/health")
    assert broken.status_code == 503
    assert broken.get_json()["checks"]["backup"] == {"ok": False, "error": "404"}


ENDPOINTS = [
    ("GET", "/files"),
    ("POST", "/files?name=x.txt"),
    ("GET", "/files/1"),
    ("GET", "/files/1/content"),
    ("DELETE", "/files/1"),
    ("GET", "/me"),
]


def expire(app: Flask, token: str) -> None:
    with app.app_context():
        record = db.session.scalar(
            db.select(PersonalAccessToken).where(PersonalAccessToken.selector == token[4:20])
        )
        record.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()


def revoke(app: Flask, token: str) -> None:
    with app.app_context():
        record = db.session.scalar(
            db.select(PersonalAccessToken).where(PersonalAccessToken.selector == token[4:20])
        )
        record.revoked_at = datetime.now(UTC)
        db.session.commit()


def assert_refused(client: FlaskClient, headers: dict[str, str], code: str, message: str) -> None:
    for method, path in ENDPOINTS:
        response = client.open(API + path, method=method, headers=headers, data=b"x")
        assert error_of(response) == (401, code), (method, path, headers)
        assert message in response.get_json()["error"]["message"]
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="SecureStore API"'


def test_every_endpoint_refuses_missing_or_invalid_credentials(
    client: FlaskClient, token: str
) -> None:
    assert_refused(client, {}, "unauthorized", "Send a personal access token")
    assert_refused(client, {"Authorization": f"Basic {token}"}, "unauthorized", "Send a")
    assert_refused(client, {"Authorization": "Bearer "}, "unauthorized", "Send a")
    assert_refused(client, bearer(token[:-2] + "xx"), "invalid_token", "not valid")
    assert_refused(client, bearer(token.replace("sst_", "ghp_")), "invalid_token", "not valid")


def test_every_endpoint_refuses_expired_and_revoked_tokens(
    app: Flask, client: FlaskClient, make_token: MakeToken
) -> None:
    expired, revoked = make_token("alice", expires_in_days=1), make_token("alice")
    expire(app, expired)
    revoke(app, revoked)
    assert_refused(client, bearer(expired), "invalid_token", "expired")
    assert_refused(client, bearer(revoked), "invalid_token", "revoked")


def test_scopes_limit_what_a_token_may_do(
    client: FlaskClient, make_token: MakeToken, s3: Any
) -> None:
    reader = make_token("alice", scopes=["read"])
    writer = make_token("alice", scopes=["write"])
    file_id = upload_raw(client, writer, "w.txt", b"w").get_json()["id"]
    assert error_of(upload_raw(client, reader, "r.txt", b"r")) == (403, "insufficient_scope")
    response = client.delete(f"{API}/files/{file_id}", headers=bearer(reader))
    assert error_of(response) == (403, "insufficient_scope")
    assert "'write' scope" in response.get_json()["error"]["message"]
    for path in ("/files", f"/files/{file_id}", f"/files/{file_id}/content"):
        assert error_of(client.get(API + path, headers=bearer(writer))) == (
            403,
            "insufficient_scope",
        )
        assert client.get(API + path, headers=bearer(reader)).status_code == 200
    assert client.get(f"{API}/me", headers=bearer(writer)).status_code == 200
    assert bucket_keys(s3, PRIMARY) == ["alice/w.txt"]


def audit_events(app: Flask, event: str) -> list[AuditEvent]:
    with app.app_context():
        query = db.select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)
        return list(db.session.scalars(query))


@pytest.mark.config(LOGIN_ADDRESS_LIMIT=3)
def test_guessing_tokens_is_throttled_and_audited_like_logins(
    app: Flask, client: FlaskClient, token: str
) -> None:
    """ASVS 2.2.1: wrong tokens count against the client address's login throttle."""
    wrong = bearer(token[:-2] + "xx")
    for _ in range(3):
        assert error_of(client.get(f"{API}/me", headers=wrong)) == (401, "invalid_token")
    throttled = client.get(f"{API}/me", headers=bearer(token))
    assert error_of(throttled) == (429, "throttled")
    assert int(throttled.headers["Retry-After"]) > 0
    assert "being throttled" in throttled.get_json()["error"]["message"]
    assert [e.outcome for e in audit_events(app, "api_auth")] == ["failed"] * 3 + ["throttled"]


def test_token_creation_and_revocation_are_audited(app: Flask, make_token: MakeToken) -> None:
    secret = make_token("alice", scopes=["read"])
    with app.app_context():
        user = accounts.find_user("alice")
        assert user is not None
        (record,) = tokens.list_tokens(user)
        tokens.revoke_token(user, record.id, address=None)
        tokens.revoke_token(user, record.id, address=None)  # revoking twice is recorded once
    (created,) = audit_events(app, "token_create")
    (revoked,) = audit_events(app, "token_revoke")
    assert created.user_id == revoked.user_id is not None
    assert "(read)" in (created.detail or "")
    assert secret not in (created.detail or "")


def test_a_browser_session_does_not_authenticate_the_api(
    client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    assert client.get("/files/").status_code == 200  # the session works for the site
    assert error_of(client.get(f"{API}/me"))[0] == 401
    # No CSRF token either: the answer is 401 (no credentials), not a CSRF failure.
    response = client.post(f"{API}/files?name=x.txt", data=b"x")
    assert error_of(response) == (401, "unauthorized")
    assert bucket_keys(s3, PRIMARY) == []


def test_unknown_api_paths_and_methods_answer_json(client: FlaskClient, token: str) -> None:
    assert error_of(client.get(f"{API}/nope", headers=bearer(token)))[0] == 404
    assert error_of(client.put(f"{API}/files", headers=bearer(token)))[0] == 405


def test_openapi_document_lists_exactly_the_api(client: FlaskClient) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert operations == {
        ("GET", "/api/v1/files"),
        ("POST", "/api/v1/files"),
        ("GET", "/api/v1/files/{file_id}"),
        ("GET", "/api/v1/files/{file_id}/content"),
        ("DELETE", "/api/v1/files/{file_id}"),
        ("PATCH", "/api/v1/files/{file_id}"),
        ("GET", "/api/v1/files/{file_id}/versions"),
        ("GET", "/api/v1/files/{file_id}/versions/{version_id}/content"),
        ("POST", "/api/v1/files/{file_id}/versions/{version_id}/restore"),
        ("POST", "/api/v1/folders"),
        ("GET", "/api/v1/folders"),
        ("GET", "/api/v1/folders/{folder_id}"),
        ("PATCH", "/api/v1/folders/{folder_id}"),
        ("DELETE", "/api/v1/folders/{folder_id}"),
        ("GET", "/api/v1/export"),
        ("POST", "/api/v1/shares"),
        ("GET", "/api/v1/shares"),
        ("DELETE", "/api/v1/shares/{share_id}"),
        ("POST", "/api/v1/uploads"),
        ("POST", "/api/v1/uploads/{upload_id}/parts"),
        ("GET", "/api/v1/uploads/{upload_id}"),
        ("POST", "/api/v1/uploads/{upload_id}/complete"),
        ("DELETE", "/api/v1/uploads/{upload_id}"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/health"),
    }
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["paths"]["/api/v1/health"]["get"]["security"] == []


def test_docs_page_uses_only_local_assets_and_no_inline_script(client: FlaskClient) -> None:
    page = client.get(f"{API}/docs").get_data(as_text=True)
    scripts = [line.strip() for line in page.splitlines() if "<script" in line]
    assert len(scripts) == 2
    assert all('src="/static/' in line and line.endswith("></script>") for line in scripts)
    assert "http" not in page.replace('name="viewport"', "")
    for asset in (
        "vendor/swagger-ui/swagger-ui-bundle.js",
        "vendor/swagger-ui/swagger-ui.css",
        "api-docs.js",
    ):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        response.close()
    assert 'data-spec-url="/api/v1/openapi.json"' in page


def test_two_files_in_one_upload_are_refused_and_the_first_is_undone_for_real(
    app: Flask, client: FlaskClient, token: str, s3: Any
) -> None:
    """The first file is stored before the second is seen: both copies and its row must go."""
    refused = upload_multipart(client, token, ("one.txt", b"first"), ("two.txt", b"second"))
    assert error_of(refused) == (400, "invalid_input")
    assert "none of these was kept" in refused.get_json()["error"]["message"]
    assert bucket_keys(s3, PRIMARY) == bucket_keys(s3, BACKUP) == []
    with app.app_context():
        assert db.session.scalars(db.select(StoredFile)).all() == []
    # Nothing stays restorable or keeps the name: the same name is free again.
    again = upload_multipart(client, token, ("one.txt", b"first"))
    assert again.status_code == 201
    assert again.get_json()["name"] == "one.txt"


def test_two_files_are_undone_even_when_the_first_backup_is_pending(
    app: Flask, client: FlaskClient, token: str, s3: Any
) -> None:
    """A soft delete would refuse (503, backup pending) and leave the first file live."""
    s3.delete_bucket(Bucket=BACKUP)
    refused = upload_multipart(client, token, ("one.txt", b"first"), ("two.txt", b"second"))
    assert error_of(refused) == (400, "invalid_input")
    assert bucket_keys(s3, PRIMARY) == []
    with app.app_context():
        assert db.session.scalars(db.select(StoredFile)).all() == []


def test_every_status_an_operation_can_answer_is_documented(client: FlaskClient) -> None:
    document = client.get(f"{API}/openapi.json").get_json()

    def statuses(path: str, method: str) -> set[str]:
        return set(document["paths"][path][method]["responses"])

    delete = statuses("/api/v1/files/{file_id}", "delete")
    assert {"204", "401", "403", "404", "429", "502", "503"} <= delete  # 503: backup pending
    assert "backup" in json.dumps(document["paths"]["/api/v1/files/{file_id}"]["delete"])
    upload = statuses("/api/v1/files", "post")
    assert {"201", "400", "401", "403", "409", "413", "422", "429", "502", "503"} <= upload
    assert {"200", "401", "429"} == statuses("/api/v1/me", "get")
