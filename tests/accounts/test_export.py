"""The export: every live file and a manifest in one streamed ZIP, in bounded memory."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from securestore.locals3 import LocalS3
from tests.api.conftest import bearer, issue_token
from tests.fixtures.forms import AuthActions, GeneratedForm, csrf_token, upload

MIB = 1024 * 1024
FILES = {"report.pdf": b"%PDF-1.7 " * 1000, "Ünïcode name.txt": b"hello", "empty.bin": b""}


def manifest_of(archive: zipfile.ZipFile) -> dict[str, dict[str, Any]]:
    entries = json.loads(archive.read("manifest.json"))["files"]
    return {entry["name"]: entry for entry in entries}


def test_the_browser_export_holds_every_file_and_a_matching_manifest(
    app: Flask, client: FlaskClient, auth: AuthActions, s3: Any
) -> None:
    auth.signed_up("alice")
    for name, body in FILES.items():
        assert upload(client, (name, body)).status_code == 303
    deleted = upload(client, ("deleted.txt", b"not exported"), Accept="application/json")
    file_id = deleted.get_json()["files"][0]["id"]
    client.post(f"/files/{file_id}/delete", data={"csrf_token": csrf_token(client, "/files/")})

    response = client.get("/files/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "securestore-alice-" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert response.content_length == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == sorted([*FILES, "manifest.json"])
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    manifest = manifest_of(archive)
    for name, content in FILES.items():
        assert archive.read(name) == content
        assert manifest[name] == {
            "name": name,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    for page in ("/files/", "/auth/account"):
        assert 'href="/files/export"' in client.get(page).get_data(as_text=True), page


def test_the_api_export_needs_the_read_scope_and_only_has_the_callers_files(
    app: Flask, client: FlaskClient, s3: Any
) -> None:
    alice = issue_token(app, "alice")
    bob = issue_token(app, "bob")
    write_only = issue_token(app, "alice", scopes=["write"])
    client.post(
        "/api/v1/files?name=a.txt",
        data=b"alice's",
        headers=bearer(alice),
        content_type="application/octet-stream",
    )
    client.post(
        "/api/v1/files?name=b.txt",
        data=b"bob's",
        headers=bearer(bob),
        content_type="application/octet-stream",
    )
    response = client.get("/api/v1/export", headers=bearer(alice))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.namelist() == ["a.txt", "manifest.json"]
    assert client.get("/api/v1/export", headers=bearer(write_only)).status_code == 403
    assert client.get("/api/v1/export").status_code == 401


def test_export_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/files/export").status_code == 302


EXPORT_FILES = 3
EXPORT_FILE_BYTES = 24 * MIB
MEMORY_CAP = 17 * MIB


@pytest.mark.seaweedfs
def test_an_export_larger_than_the_memory_allowed_streams(
    seaweed_app: Flask, seaweedfs: LocalS3, tmp_path: Path
) -> None:
    client = seaweed_app.test_client()
    AuthActions(client).signed_up("exporter")
    for n in range(EXPORT_FILES):
        form = GeneratedForm(csrf_token(client, "/files/"), f"part{n}.bin", EXPORT_FILE_BYTES)
        assert form.post(client).status_code == 303
    target = tmp_path / "export.zip"
    tracemalloc.start()
    try:
        response = client.get("/files/export", buffered=False)
        with target.open("wb") as out:
            for chunk in response.response:
                out.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()
    total = target.stat().st_size
    assert total > EXPORT_FILES * EXPORT_FILE_BYTES > 4 * MEMORY_CAP
    assert peak < MEMORY_CAP, f"peak {peak / MIB:.1f} MiB for a {total / MIB:.0f} MiB export"
    expected = hashlib.sha256(GeneratedForm.file_bytes(EXPORT_FILE_BYTES)).hexdigest()
    with zipfile.ZipFile(target) as archive:
        manifest = manifest_of(archive)
        for n in range(EXPORT_FILES):
            name = f"part{n}.bin"
            digest = hashlib.sha256()
            with archive.open(name) as member:
                while block := member.read(MIB):
                    digest.update(block)
            assert digest.hexdigest() == manifest[name]["sha256"] == expected
