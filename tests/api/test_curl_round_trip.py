"""A script's view of the API: plain `curl` against the app served on a free port, on SeaweedFS."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from securestore.locals3 import LocalS3
from tests.api.conftest import issue_token
from tests.fixtures.s3 import BACKUP, PRIMARY, object_body
from tests.fixtures.servers import served

pytestmark = pytest.mark.seaweedfs
MIB = 1024 * 1024


@pytest.fixture
def base_url(seaweed_app: Flask) -> Iterator[str]:
    """The SeaweedFS-backed app over HTTP on a free port."""
    with served(seaweed_app) as url:
        yield url


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run curl quietly; `-w` prints the status on stdout's last line."""
    command = [shutil.which("curl") or "curl", "--silent", "--show-error", "--max-time", "60"]
    return subprocess.run([*command, *args], capture_output=True, check=True, timeout=90)


def test_curl_upload_list_download_delete(
    base_url: str, seaweed_app: Flask, seaweedfs: LocalS3, tmp_path: Path
) -> None:
    s3: Any = seaweedfs.client()
    auth = f"Authorization: Bearer {issue_token(seaweed_app, 'curler')}"
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (6 * MIB // 256 + 5))  # a multipart S3 upload
    small = tmp_path / "notes.txt"
    small.write_bytes("résumé notes\n".encode() * 100)

    raw = curl(
        "-H",
        auth,
        "--data-binary",
        f"@{big}",
        "-H",
        "Content-Type: application/octet-stream",
        f"{base_url}/api/v1/files?name=big.bin",
    )
    form = curl("-H", auth, "-F", f"file=@{small};filename=notes.txt", f"{base_url}/api/v1/files")
    uploaded = {item["name"]: item for item in map(json.loads, (raw.stdout, form.stdout))}
    assert set(uploaded) == {"big.bin", "notes.txt"}
    assert uploaded["big.bin"]["size"] == big.stat().st_size

    listing = json.loads(curl("-H", auth, f"{base_url}/api/v1/files?q=BIG").stdout)
    assert [item["name"] for item in listing["items"]] == ["big.bin"]
    assert listing["next_cursor"] is None

    for name, source in (("big.bin", big), ("notes.txt", small)):
        target = tmp_path / f"downloaded-{name}"
        curl(
            "-H",
            auth,
            "--fail",
            "-o",
            str(target),
            f"{base_url}/api/v1/files/{uploaded[name]['id']}/content",
        )
        assert target.read_bytes() == source.read_bytes()
        assert object_body(s3, BACKUP, f"curler/{name}") == source.read_bytes()

    deleted = curl(
        "-H",
        auth,
        "-X",
        "DELETE",
        "-w",
        "%{http_code}",
        f"{base_url}/api/v1/files/{uploaded['big.bin']['id']}",
    )
    assert deleted.stdout == b"204"
    gone = curl(
        "-H", auth, "-w", "\n%{http_code}", f"{base_url}/api/v1/files/{uploaded['big.bin']['id']}"
    )
    assert gone.stdout.splitlines()[-1] == b"404"
    # The session's SeaweedFS holds other tests' files too: look at this user's prefix only.
    left = s3.list_objects_v2(Bucket=PRIMARY, Prefix="curler/")["Contents"]
    assert sorted(item["Key"] for item in left) == ["curler/notes.txt"]
    unauthenticated = curl("-w", "\n%{http_code}", f"{base_url}/api/v1/files")
    assert unauthenticated.stdout.splitlines()[-1] == b"401"
