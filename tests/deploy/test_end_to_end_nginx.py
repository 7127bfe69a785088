"""The whole production shape on loopback: nginx (shipped site) -> two gunicorns -> PostgreSQL
and SeaweedFS, driven over HTTPS the way a browser would.

Only ports and paths differ from production: nginx's listen ports, certificate and static
paths, and the upstream (two gunicorn unix sockets instead of systemd's one).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import requests

from securestore.locals3 import LocalS3
from tests.deploy.conftest import Certificate
from tests.deploy.harness import (
    NginxSite,
    app_environment,
    free_ports,
    running_gunicorn,
    running_nginx,
)
from tests.fixtures.apps import PASSWORD
from tests.fixtures.s3 import BACKUP, PRIMARY

UPLOAD_BYTES = 64 * 1024 * 1024
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_DOWNLOAD = re.compile(r'href="(/files/(\d+)/download)"')


class MultipartFile:
    """A multipart/form-data body streamed from disk, with a Content-Length as browsers send.

    requests would otherwise build a 64 MiB body in memory (or send it chunked).
    """

    def __init__(self, csrf_token: str, filename: str, path: Path) -> None:
        self.boundary = "----securestore" + secrets.token_hex(12)
        quoted = urllib.parse.quote(filename)
        self._head = (
            f"--{self.boundary}\r\n"
            'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{csrf_token}\r\n"
            f"--{self.boundary}\r\n"
            f"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''{quoted}; "
            f'filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._path = path

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._path.stat().st_size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        with open(self._path, "rb") as body:
            while chunk := body.read(1024 * 1024):
                yield chunk
        yield self._tail


def _random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(size // (1024 * 1024)):
            chunk = os.urandom(1024 * 1024)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _s3_sha256(client: Any, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key, ChecksumMode="DISABLED")["Body"]
    for chunk in body.iter_chunks(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


class Browser:
    """A requests session speaking HTTPS to nginx, fetching CSRF tokens from real forms."""

    def __init__(self, base: str, cert: Path) -> None:
        self.base = base
        self.session = requests.Session()
        # Passed on each call: this requests release ignores a string in Session.verify.
        self.verify = str(cert)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=120, verify=self.verify, **kwargs)

    def post(self, path: str, referer: str, **kwargs: Any) -> requests.Response:
        """POST like a browser: with the Referer that Flask-WTF insists on over HTTPS."""
        headers = {"Referer": self.base + referer, **kwargs.pop("headers", {})}
        return self.session.post(
            self.base + path, timeout=300, allow_redirects=False, verify=self.verify,
            headers=headers, **kwargs,
        )

    def csrf(self, path: str) -> str:
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code)
        match = _CSRF.search(page.text)
        assert match, f"no csrf_token on {path}"
        return match.group(1)

    def submit(self, path: str, form_page: str, **fields: str) -> requests.Response:
        return self.post(path, form_page, data={"csrf_token": self.csrf(form_page), **fields})


@pytest.mark.seaweedfs
def test_two_instances_behind_nginx_act_as_one_service(
    nginx: str,
    tls_certificate: Certificate,
    seaweedfs: LocalS3,
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    work = tmp_path_factory.mktemp("e2e")
    secret_key = secrets.token_urlsafe(32)  # shared by both instances, as in production
    env_a = app_environment(seaweedfs, (PRIMARY, BACKUP), postgres_url, secret_key, work / "a")
    env_b = app_environment(seaweedfs, (PRIMARY, BACKUP), postgres_url, secret_key, work / "b")

    # The deploy step, run like an operator would: from outside any checkout.
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "securestore", "db", "upgrade"],
        cwd=work, env=env_a, capture_output=True, text=True, timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr

    static_dir = Path(str(resources.files("securestore") / "static"))
    expected_css = (static_dir / "securestore.css").read_bytes()
    payload = work / "payload.bin"
    payload_sha = _random_file(payload, UPLOAD_BYTES)
    username = "e2e" + secrets.token_hex(4)
    filename = "résumé 2024.bin"

    with (
        running_gunicorn(work / "a.sock", env_a, work / "a.log") as app_a,
        running_gunicorn(work / "b.sock", env_b, work / "b.log") as app_b,
    ):
        http_port, https_port = free_ports(2)
        site = NginxSite(
            http_port=http_port,
            https_port=https_port,
            upstreams=(app_a.upstream, app_b.upstream),
            static_dir=static_dir,
            cert=tls_certificate.cert,
            key=tls_certificate.key,
        )
        with running_nginx(nginx, work / "nginx", site):
            browser = Browser(f"https://127.0.0.1:{site.https_port}", tls_certificate.cert)

            plain = requests.get(
                f"http://127.0.0.1:{site.http_port}/auth/login", allow_redirects=False, timeout=10
            )
            assert plain.status_code == 301
            assert plain.headers["Location"] == "https://127.0.0.1/auth/login"
            assert browser.get("/healthz").json()["status"] == "ok"
            assert browser.get("/storage/health").status_code == 200
            static = browser.get("/static/securestore.css")
            assert static.status_code == 200 and static.content == expected_css

            # Register and log in; the session cookie is __Host-, Secure, HttpOnly, SameSite=Lax.
            registered = browser.submit(
                "/auth/register", "/auth/register",
                username=username, password=PASSWORD, confirm_password=PASSWORD,
            )
            assert registered.status_code == 302, registered.text
            browser.submit("/auth/logout", "/files/")
            login = browser.submit(
                "/auth/login", "/auth/login", username=username, password=PASSWORD
            )
            assert login.status_code == 302
            set_cookies = login.raw.headers.getlist("Set-Cookie")
            (cookie,) = [c for c in set_cookies if c.startswith("__Host-session=")]
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"secure", "httponly", "samesite=lax"} <= flags

            # Upload 64 MiB through nginx (streamed: request buffering is off).
            body = MultipartFile(browser.csrf("/files/"), filename, payload)
            uploaded = browser.post(
                "/files/upload", "/files/", data=body, headers={"Content-Type": body.content_type}
            )
            assert uploaded.status_code == 303, uploaded.text[:2000]

            # The listing, answered by both instances in turn, shows the same user and file.
            for _ in range(4):
                listing = browser.get("/files/")
                assert listing.status_code == 200 and listing.url.endswith("/files/")
                assert username in listing.text and "résumé 2024.bin" in listing.text
            for app in (app_a, app_b):
                assert [line for line in app.access_lines('"GET /files/ ') if '" 200 ' in line]
                assert not app.access_lines("/static/")  # nginx served those itself

            match = _DOWNLOAD.search(listing.text)
            assert match, listing.text
            download_path, file_id = match.group(1), match.group(2)

            key = f"{username}/{filename}"
            s3 = seaweedfs.client()
            assert _s3_sha256(s3, PRIMARY, key) == payload_sha
            assert _s3_sha256(s3, BACKUP, key) == payload_sha

            downloaded = hashlib.sha256()
            with browser.get(download_path, stream=True) as r:
                assert r.status_code == 200
                assert "filename*=UTF-8''r%C3%A9sum%C3%A9%202024.bin" in r.headers[
                    "Content-Disposition"
                ]
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert r.headers["Strict-Transport-Security"].startswith("max-age=")
                for chunk in r.iter_content(1024 * 1024):
                    downloaded.update(chunk)
            assert downloaded.hexdigest() == payload_sha

            deleted = browser.submit(f"/files/{file_id}/delete", "/files/")
            assert deleted.status_code == 303
            assert download_path not in browser.get("/files/").text
            assert "Contents" not in s3.list_objects_v2(Bucket=PRIMARY, Prefix=username + "/")
            assert _s3_sha256(s3, BACKUP, key) == payload_sha  # the backup copy stays

            browser.submit("/auth/logout", "/files/")
            after = browser.get("/files/", allow_redirects=False)
            assert after.status_code == 302 and "/auth/login" in after.headers["Location"]
