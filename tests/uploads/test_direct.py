"""Direct uploads through the API, on moto and on a real SeaweedFS: the bytes go to S3 alone."""

from __future__ import annotations

import base64
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask

from securestore.backups import service as backups
from securestore.db_types import utcnow
from securestore.extensions import db, storage
from securestore.files.models import StoredFile
from securestore.uploads.models import PendingUpload
from tests.api.conftest import bearer, issue_token
from tests.fixtures.s3 import BACKUP, PRIMARY, object_body

MIB = 1024 * 1024
# Two parts at the tests' 5 MiB part size: a full one and a short last one.
BODY = bytes(range(256)) * (5 * MIB // 256) + b"the short last part"

BACKENDS = ["app", pytest.param("seaweed_app", marks=pytest.mark.seaweedfs)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Flask:
    """The app on moto, then on SeaweedFS."""
    application: Flask = request.getfixturevalue(request.param)
    return application


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def parts_of(body: bytes, part_size: int) -> dict[int, bytes]:
    return {n + 1: body[i : i + part_size] for n, i in enumerate(range(0, len(body), part_size))}


def put(url: str, data: bytes, checksum: str | None = None) -> requests.Response:
    """PUT a part to its presigned URL, as a browser would (the checksum as its header)."""
    headers = {"x-amz-checksum-sha256": checksum} if checksum else {}
    return requests.put(url, data=data, headers=headers, timeout=30)


class Uploader:
    """A script driving the API for one user."""

    def __init__(self, app: Flask) -> None:
        # A fresh name per test: the SeaweedFS buckets outlive a test, and names found there
        # are taken.
        self.username = "u" + secrets.token_hex(6)
        self.client = app.test_client()
        self.headers = bearer(issue_token(app, self.username))

    def start(self, size: int = len(BODY), name: str = "video.mp4", **extra: Any) -> Any:
        return self.client.post(
            "/api/v1/uploads", json={"name": name, "size": size, **extra}, headers=self.headers
        )

    def urls(
        self, upload_id: int, numbers: list[int], checksums: dict[str, str] | None = None
    ) -> Any:
        body: dict[str, Any] = {"part_numbers": numbers}
        if checksums is not None:
            body["checksums"] = checksums
        return self.client.post(
            f"/api/v1/uploads/{upload_id}/parts", json=body, headers=self.headers
        )

    def send(self, upload_id: int, parts: dict[int, bytes], *, checksummed: bool) -> None:
        checksums = {str(n): sha256_b64(data) for n, data in parts.items()}
        answer = self.urls(upload_id, list(parts), checksums if checksummed else None)
        assert answer.status_code == 200, answer.json
        for number, data in parts.items():
            checksum = checksums[str(number)] if checksummed else None
            assert put(answer.json["urls"][str(number)], data, checksum).status_code == 200

    def get(self, upload_id: int) -> Any:
        return self.client.get(f"/api/v1/uploads/{upload_id}", headers=self.headers)

    def complete(self, upload_id: int) -> Any:
        return self.client.post(f"/api/v1/uploads/{upload_id}/complete", headers=self.headers)

    def cancel(self, upload_id: int) -> Any:
        return self.client.delete(f"/api/v1/uploads/{upload_id}", headers=self.headers)


def open_uploads(app: Flask, uploader: Uploader) -> list[Any]:
    """The multipart uploads open under this test's user (SeaweedFS's buckets are shared by
    the whole session, other tests' included)."""
    with app.app_context():
        mine = f"{uploader.username}/"
        return [found for found in storage.direct.open_uploads() if found.key.startswith(mine)]


@pytest.mark.parametrize("checksummed", [True, False], ids=["checksums", "no-checksums"])
def test_a_direct_upload_becomes_a_file_with_its_backup_copy(
    backend: Flask, checksummed: bool
) -> None:
    uploader = Uploader(backend)
    started = uploader.start(content_type="video/mp4")
    assert started.status_code == 201
    assert started.json["part_size"] == 5 * MIB and started.json["part_count"] == 2
    upload_id = started.json["id"]
    uploader.send(upload_id, parts_of(BODY, started.json["part_size"]), checksummed=checksummed)
    done = uploader.complete(upload_id)
    assert done.status_code == 201, done.json
    assert done.json["name"] == "video.mp4" and done.json["size"] == len(BODY)
    assert done.json["sha256"] is None and done.json["backup_state"] == "done"
    assert done.headers["Location"].endswith(f"/api/v1/files/{done.json['id']}")
    with backend.app_context():
        client = storage.client
        assert object_body(client, PRIMARY, f"{uploader.username}/video.mp4") == BODY
        assert object_body(client, BACKUP, f"{uploader.username}/video.mp4") == BODY
        assert db.session.scalar(db.select(db.func.count()).select_from(PendingUpload)) == 0
    assert open_uploads(backend, uploader) == []
    assert uploader.get(upload_id).status_code == 404
    content = uploader.client.get(
        f"/api/v1/files/{done.json['id']}/content", headers=uploader.headers
    )
    assert content.data == BODY


@pytest.mark.seaweedfs
def test_the_record_keeps_s3s_composite_checksum_and_verify_checks_it(seaweed_app: Flask) -> None:
    uploader = Uploader(seaweed_app)
    started = uploader.start()
    parts = parts_of(BODY, started.json["part_size"])
    uploader.send(started.json["id"], parts, checksummed=True)
    done = uploader.complete(started.json["id"])
    composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts.values()))
    expected = f"SHA256:{base64.b64encode(composite.digest()).decode()}-2"
    assert done.json["checksum"] == expected
    verified = seaweed_app.test_cli_runner().invoke(
        args=["backup", "verify", "--user", uploader.username]
    )
    assert "mismatched 0" in verified.output and verified.exit_code == 0, verified.output


def test_an_interrupted_upload_resumes_with_the_parts_s3_lacks(backend: Flask) -> None:
    uploader = Uploader(backend)
    started = uploader.start(name="resumed.bin")
    upload_id, parts = started.json["id"], parts_of(BODY, started.json["part_size"])
    uploader.send(upload_id, {1: parts[1]}, checksummed=False)
    # A reload later: the client asks what S3 has and sends only the rest.
    seen = uploader.get(upload_id)
    assert seen.status_code == 200
    assert seen.json["name"] == "resumed.bin" and seen.json["size"] == len(BODY)
    assert [(p["part_number"], p["size"]) for p in seen.json["parts"]] == [(1, 5 * MIB)]
    assert seen.json["parts"][0]["etag"]
    uploader.send(upload_id, {2: parts[2]}, checksummed=False)
    assert [p["part_number"] for p in uploader.get(upload_id).json["parts"]] == [1, 2]
    assert uploader.complete(upload_id).status_code == 201


def test_cancel_aborts_in_s3_and_frees_the_name_and_the_quota(backend: Flask) -> None:
    uploader = Uploader(backend)
    started = uploader.start(size=len(BODY))
    uploader.send(started.json["id"], {1: BODY[: 5 * MIB]}, checksummed=True)
    assert uploader.cancel(started.json["id"]).status_code == 204
    assert open_uploads(backend, uploader) == []
    for answer in (uploader.get(started.json["id"]), uploader.cancel(started.json["id"]),
                   uploader.complete(started.json["id"])):  # fmt: skip
        assert answer.status_code == 404
    again = uploader.start(size=len(BODY))
    assert again.status_code == 201  # the same name is free again
    assert uploader.get(again.json["id"]).json["name"] == "video.mp4"
    # The cancelled upload's id is never handed out again (a page remembers ids to resume).
    assert again.json["id"] != started.json["id"]
    assert uploader.get(started.json["id"]).status_code == 404


def test_parts_that_do_not_make_the_declared_size_answer_409_and_nothing_is_kept(
    backend: Flask,
) -> None:
    uploader = Uploader(backend)
    started = uploader.start(size=len(BODY) + 1)  # one byte more than will come
    uploader.send(started.json["id"], parts_of(BODY, 5 * MIB), checksummed=False)
    answer = uploader.complete(started.json["id"])
    assert answer.status_code == 409 and answer.json["error"]["code"] == "upload_mismatch"
    assert open_uploads(backend, uploader) == []
    assert uploader.get(started.json["id"]).status_code == 404
    with backend.app_context():
        assert db.session.scalars(db.select(StoredFile)).all() == []  # a database per test
        keys = [o.key for o in storage.list_objects(PRIMARY, prefix=uploader.username)]
        assert keys == []


def test_missing_parts_answer_409(backend: Flask) -> None:
    uploader = Uploader(backend)
    started = uploader.start()
    uploader.send(started.json["id"], {2: BODY[5 * MIB :]}, checksummed=False)
    assert uploader.complete(started.json["id"]).status_code == 409
    assert uploader.complete(started.json["id"]).status_code == 404


@pytest.mark.config(MAX_UPLOAD_BYTES=10 * MIB, DEFAULT_QUOTA_BYTES=8 * MIB)
def test_size_limit_413_comes_before_quota_507_and_neither_touches_s3(app: Flask) -> None:
    uploader = Uploader(app)
    too_large = uploader.start(size=10 * MIB + 1)
    assert too_large.status_code == 413
    over_quota = uploader.start(size=9 * MIB)
    assert over_quota.status_code == 507
    assert over_quota.json["error"]["code"] == "quota_exceeded"
    held = uploader.start(size=6 * MIB)
    assert held.status_code == 201
    assert uploader.start(size=3 * MIB, name="second").status_code == 507  # room is reserved
    assert open_uploads(app, uploader) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PendingUpload)) == 1
    assert uploader.cancel(held.json["id"]).status_code == 204
    assert uploader.start(size=3 * MIB, name="second").status_code == 201


def test_another_users_upload_answers_404_on_every_route(backend: Flask) -> None:
    alice, mallory = Uploader(backend), Uploader(backend)
    upload_id = alice.start().json["id"]
    for answer in (
        mallory.urls(upload_id, [1]),
        mallory.get(upload_id),
        mallory.complete(upload_id),
        mallory.cancel(upload_id),
    ):
        assert answer.status_code == 404
        assert answer.json["error"]["code"] == "not_found"
    assert alice.get(upload_id).status_code == 200


def test_pending_uploads_hold_their_names(app: Flask) -> None:
    uploader = Uploader(app)
    first, second = uploader.start(), uploader.start()
    assert uploader.get(first.json["id"]).json["name"] == "video.mp4"
    assert uploader.get(second.json["id"]).json["name"] == "video (2).mp4"


@pytest.mark.config(S3_PART_BYTES=8 * MIB, MAX_UPLOAD_BYTES=2**50, DEFAULT_QUOTA_BYTES=None)
@pytest.mark.parametrize(
    ("size", "part_size", "part_count"),
    [
        (1, 8 * MIB, 1),
        (256 * MIB, 8 * MIB, 32),  # S3_PART_BYTES
        (1024 * MIB, 32 * MIB, 32),  # 32 parts
        (1024 * MIB + 1, 33 * MIB, 32),  # whole MiB
        (4096 * MIB, 64 * MIB, 64),  # at most 64 MiB
        (100 * 1024 * MIB, 64 * MIB, 1600),  # at most 64 MiB
        (1000 * 1024 * MIB, 103 * MIB, 9942),  # within S3's 10,000 parts
    ],
)
def test_large_files_go_in_fewer_larger_parts(
    app: Flask, size: int, part_size: int, part_count: int
) -> None:
    started = Uploader(app).start(size=size)
    assert started.status_code == 201, started.json
    assert (started.json["part_size"], started.json["part_count"]) == (part_size, part_count)


def test_part_requests_are_checked(app: Flask) -> None:
    uploader = Uploader(app)
    upload_id = uploader.start().json["id"]
    assert uploader.urls(upload_id, [3]).status_code == 400  # only 2 parts
    assert uploader.urls(upload_id, [1], {"1": "not base64 sha256"}).status_code == 400
    assert uploader.urls(upload_id, [1, 2], {"1": sha256_b64(b"x")}).status_code == 400
    assert uploader.urls(upload_id, [1], {"1": sha256_b64(b"x")}).status_code == 200
    # The first batch carried checksums: every later one must too.
    assert uploader.urls(upload_id, [2]).status_code == 400


def test_backup_sync_aborts_uploads_left_unfinished(backend: Flask) -> None:
    uploader = Uploader(backend)
    started = uploader.start()
    uploader.send(started.json["id"], {1: BODY[: 5 * MIB]}, checksummed=False)
    stray_key = f"{uploader.username}/stray"
    with backend.app_context():
        # A multipart upload no row knows (its row lost in a crash). moto dates every upload
        # back to 2010, so there it is old at once.
        storage.client.create_multipart_upload(Bucket=PRIMARY, Key=stray_key)
        first = backups.sync()
    assert uploader.get(started.json["id"]).status_code == 200  # not expired yet
    with backend.app_context():
        second = backups.sync(now=utcnow() + timedelta(hours=25))
    assert first.uploads_expired + second.uploads_expired >= 2
    assert uploader.get(started.json["id"]).status_code == 404
    assert open_uploads(backend, uploader) == []
    with backend.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PendingUpload)) == 0
    output = backend.test_cli_runner().invoke(args=["backup", "sync"]).output
    assert "uploads expired 0" in output


@pytest.mark.seaweedfs
def test_s3_refuses_a_tampered_url_and_bytes_that_differ_from_the_checksum(
    seaweed_app: Flask,
) -> None:
    uploader = Uploader(seaweed_app)
    upload_id = uploader.start().json["id"]
    part = BODY[: 5 * MIB]
    checksum = sha256_b64(part)
    url = uploader.urls(upload_id, [1], {"1": checksum}).json["urls"]["1"]
    assert put(url.replace("partNumber=1", "partNumber=2"), part, checksum).status_code == 403
    assert put(url.replace("/video.mp4", "/other.mp4"), part, checksum).status_code == 403
    assert put(url, part).status_code == 403  # the signed checksum header is missing
    tampered = bytes([part[0] ^ 1]) + part[1:]
    assert put(url, tampered, checksum).status_code == 400  # BadDigest
    assert uploader.get(upload_id).json["parts"] == []
    assert put(url, part, checksum).status_code == 200
    assert [p["part_number"] for p in uploader.get(upload_id).json["parts"]] == [1]
    assert uploader.cancel(upload_id).status_code == 204


def test_a_direct_upload_into_a_folder_lands_at_its_path_and_can_gain_versions(
    backend: Flask,
) -> None:
    uploader = Uploader(backend)
    folder = uploader.client.post(
        "/api/v1/folders", json={"name": "videos"}, headers=uploader.headers
    ).json
    started = uploader.start(folder_id=folder["id"])
    assert started.status_code == 201
    upload_id = started.json["id"]
    uploader.send(upload_id, parts_of(BODY, started.json["part_size"]), checksummed=False)
    record = uploader.complete(upload_id).json
    assert record["folder_id"] == folder["id"] and record["path"] == "videos/video.mp4"
    key = f"{uploader.username}/videos/video.mp4"
    with backend.app_context():
        assert object_body(storage.client, PRIMARY, key) == BODY
    replaced = uploader.client.post(
        "/api/v1/files?path=videos/video.mp4&on_conflict=replace",
        data=b"a new cut",
        content_type="application/octet-stream",
        headers=uploader.headers,
    )
    assert replaced.status_code == 201 and replaced.json["id"] == record["id"]
    versions = uploader.client.get(
        f"/api/v1/files/{record['id']}/versions", headers=uploader.headers
    ).json["versions"]
    assert [v["size"] for v in versions] == [len(BODY)]
    old = uploader.client.get(
        f"/api/v1/files/{record['id']}/versions/{versions[0]['id']}/content",
        headers=uploader.headers,
    )
    assert old.data == BODY


@pytest.mark.seaweedfs
def test_parallel_part_requests_start_one_s3_upload_and_keep_every_checksum(
    seaweed_app: Flask,
) -> None:
    """A page's (or a script's) workers ask for part URLs at once: one multipart upload
    starts, and no request's checksums overwrite another's, so the upload completes."""
    uploader = Uploader(seaweed_app)
    body = bytes(range(256)) * (15 * MIB // 256) + b"tail"
    started = uploader.start(size=len(body)).json
    parts = parts_of(body, started["part_size"])
    sums = {str(n): sha256_b64(data) for n, data in parts.items()}

    def ask(number: int) -> Any:
        client = seaweed_app.test_client()
        return client.post(
            f"/api/v1/uploads/{started['id']}/parts",
            json={"part_numbers": [number], "checksums": {str(number): sums[str(number)]}},
            headers=uploader.headers,
        ).json["urls"][str(number)]

    with ThreadPoolExecutor(len(parts)) as pool:
        urls = dict(zip(parts, pool.map(ask, parts), strict=True))
    for number, data in parts.items():
        assert put(urls[number], data, sums[str(number)]).status_code == 200
    assert len(open_uploads(seaweed_app, uploader)) == 1
    completed = uploader.complete(started["id"])
    assert completed.status_code == 201, completed.json
    assert open_uploads(seaweed_app, uploader) == []
