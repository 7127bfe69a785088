"""`DOWNLOAD_MODE=accel` on the production shape: the shipped nginx site fetches a download
the app has authorized straight from SeaweedFS, and asks the app again when S3 cannot serve it.

Each check reads gunicorn's access log too: it tells whether the bytes crossed the app (the
logged response size) and how often nginx asked it. The tests share one stack and file, in
order: the last one deletes the file's primary object.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from securestore.locals3 import LocalS3
from tests.deploy.conftest import Certificate
from tests.deploy.harness import (
    Gunicorn,
    app_environment,
    running_gunicorn,
    running_nginx,
    site_for_one_app,
)
from tests.fixtures.apps import PASSWORD
from tests.fixtures.s3 import BACKUP, PRIMARY

# gunicorn_conf.access_log_format: ... "GET /path HTTP/1.0" 200 <bytes> <ms>ms "<agent>"
_LOGGED_SIZE = re.compile(r'" \d{3} (\S+) \d+ms "')
BODY = os.urandom(3 * 1024 * 1024 + 17)
NAME = "report 2026 ü.bin"


@dataclass
class Site:
    """The running stack, an API token of one user, and that user's uploaded file."""

    base: str
    cert: Path
    app: Gunicorn
    token: str
    file_id: int
    key: str

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(
            self.base + path, headers={"Authorization": f"Bearer {self.token}", **headers},
            verify=str(self.cert), timeout=60,
        )  # fmt: skip

    def app_answers(self, path: str) -> list[int]:
        """The response size the app logged for each request of `path`, in order."""
        sizes = (_LOGGED_SIZE.search(line) for line in self.app.access_lines(path))
        return [int(match.group(1).replace("-", "0")) for match in sizes if match]


def _flask(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "securestore", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture(scope="module")
def site(
    nginx: str,
    tls_certificate: Certificate,
    seaweedfs: LocalS3,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("accel")
    env = app_environment(
        seaweedfs, (PRIMARY, BACKUP), f"sqlite:///{work / 'app.db'}",
        secrets.token_urlsafe(32), work / "instance",
    )  # fmt: skip
    env["DOWNLOAD_MODE"] = "accel"
    username = "accel" + secrets.token_hex(3)
    _flask(env, work, "db", "upgrade")
    _flask(env, work, "users", "create", username, "--password", PASSWORD)
    token = _flask(env, work, "tokens", "create", "--user", username, "--name", "test")
    with running_gunicorn(work / "app.sock", env, work / "app.log") as app:
        nginx_site = site_for_one_app(app, tls_certificate.cert, tls_certificate.key)
        with running_nginx(nginx, work / "nginx", nginx_site):
            base = f"https://127.0.0.1:{nginx_site.https_port}"
            uploaded = requests.post(
                base + "/api/v1/files", files={"file": (NAME, BODY)},
                headers={"Authorization": f"Bearer {token}"},
                verify=str(tls_certificate.cert), timeout=60,
            )  # fmt: skip
            assert uploaded.status_code == 201, uploaded.text
            record: dict[str, Any] = uploaded.json()
            yield Site(base, tls_certificate.cert, app, token, record["id"], f"{username}/{NAME}")


@pytest.mark.seaweedfs
def test_nginx_sends_the_file_from_s3_with_the_app_s_headers_and_none_of_s3_s(
    site: Site,
) -> None:
    path = f"/api/v1/files/{site.file_id}/content"
    # The token reaches the app only: S3 refuses a presigned URL that comes with a second
    # credential, which nginx would then hand back to the app to stream.
    answer = site.get(path, Cookie="session=anything")
    assert answer.status_code == 200
    assert answer.content == BODY
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert "report%202026%20%C3%BC.bin" in answer.headers["Content-Disposition"]
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Security-Policy"] == "sandbox"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    assert not [name for name in answer.headers if name.lower().startswith("x-amz-")]
    assert "X-SecureStore-Object-Url" not in answer.headers
    assert site.app_answers(path) == [0]  # asked once, and the bytes came from S3


@pytest.mark.seaweedfs
def test_a_range_is_answered_by_s3_and_one_past_the_end_by_the_app(site: Site) -> None:
    path = f"/api/v1/files/{site.file_id}/content"
    before = len(site.app_answers(path))
    partial = site.get(path, Range="bytes=1000-1999")
    assert partial.status_code == 206
    assert partial.content == BODY[1000:2000]
    assert partial.headers["Content-Range"] == f"bytes 1000-1999/{len(BODY)}"
    assert site.get(path, Range=f"bytes={len(BODY)}-").status_code == 416
    assert site.app_answers(path)[before:][0] == 0


@pytest.mark.seaweedfs
def test_clients_cannot_reach_the_internal_location_or_forge_the_fallback(site: Site) -> None:
    assert site.get("/_securestore/s3").status_code == 404
    path = f"/api/v1/files/{site.file_id}/content"
    before = len(site.app_answers(path))
    forged = site.get(path, **{"X-SecureStore-Accel-Fallback": "1"})
    assert forged.status_code == 200 and forged.content == BODY
    assert site.app_answers(path)[before:] == [0]  # nginx dropped the header: not streamed


@pytest.mark.seaweedfs
def test_a_share_link_s_visitor_gets_the_file_from_s3_through_nginx(site: Site) -> None:
    created = requests.post(
        site.base + "/api/v1/shares", json={"file_id": site.file_id},
        headers={"Authorization": f"Bearer {site.token}"}, verify=str(site.cert), timeout=60,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    url: str = created.json()["url"]
    path = url[url.index("/s/") :] + "/download"
    answer = requests.get(site.base + path, verify=str(site.cert), timeout=60)
    assert answer.status_code == 200 and answer.content == BODY
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.headers["Cache-Control"] == "no-store"
    assert site.app_answers(path) == [0]


@pytest.mark.seaweedfs
def test_a_primary_object_s3_cannot_serve_is_streamed_by_the_app_from_the_backup(
    site: Site, seaweedfs: LocalS3
) -> None:
    s3 = seaweedfs.client()
    assert (
        hashlib.sha256(s3.get_object(Bucket=BACKUP, Key=site.key)["Body"].read()).digest()
        == hashlib.sha256(BODY).digest()
    )
    s3.delete_object(Bucket=PRIMARY, Key=site.key)
    path = f"/api/v1/files/{site.file_id}/content"
    before = len(site.app_answers(path))
    answer = site.get(path)
    assert answer.status_code == 200
    assert answer.content == BODY
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert site.app_answers(path)[before:] == [0, len(BODY)]  # handed to nginx, then streamed
