"""The benchmark's browser-like client: a logged-in user talking HTTPS to nginx.

Also the hop nginx itself makes (HTTP over gunicorn's unix socket), to time the app alone.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from pathlib import Path

import requests

from bench.payload import MIB, MultipartForm
from bench.stack import Stack, local_app
from securestore.auth import registration

PASSWORD = "a long enough benchmark password"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """One logged-in user talking HTTPS to nginx, as a browser does."""

    def __init__(self, stack: Stack, username: str, *, create: bool = True) -> None:
        """Create the account as `flask users create` does (unless `create` is false: it
        exists), then log in through the form.

        Not through the registration form: registering looks for objects left under the
        name in the backup bucket, which the runs without a backup copy make unreachable.
        """
        self.username = username
        self.base = stack.base_url
        self.session = requests.Session()
        self.session.verify = str(stack.cert)
        if create:
            with local_app(stack).app_context():
                registration.create_user(username, PASSWORD)
        token = self._token("/auth/login")
        answer = self.session.post(
            self.base + "/auth/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token},
            headers={"Referer": self.base + "/auth/login"},
            allow_redirects=False,
            verify=str(stack.cert),
        )
        if answer.status_code != 302:
            raise RuntimeError(f"login failed: {answer.status_code} {answer.text[:300]}")

    def _token(self, path: str) -> str:
        page = self.session.get(self.base + path, verify=self.session.verify)
        match = _CSRF.search(page.text)
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def upload(self, name: str, size: int) -> float:
        """Upload like the form does; return the seconds until the app answered."""
        form = MultipartForm(self._token("/files/"), name, size)
        started = time.perf_counter()
        answer = self.session.post(
            self.base + "/files/upload",
            # An iterable with a length: requests streams it with a Content-Length, as a
            # browser sends a form (a bare generator would go chunked).
            data=form,
            headers={
                "Content-Type": f"multipart/form-data; boundary={form.BOUNDARY}",
                "Referer": self.base + "/files/",
            },
            allow_redirects=False,
            verify=self.session.verify,
            timeout=900,
        )
        elapsed = time.perf_counter() - started
        if answer.status_code != 303:
            raise RuntimeError(f"upload of {name}: {answer.status_code} {answer.text[:2000]}")
        return elapsed

    def download(self, file_id: int, size: int) -> float:
        started = time.perf_counter()
        with self.session.get(
            f"{self.base}/files/{file_id}/download",
            stream=True,
            verify=self.session.verify,
            timeout=900,
        ) as answer:
            received = sum(len(chunk) for chunk in answer.iter_content(MIB))
        elapsed = time.perf_counter() - started
        if received != size:
            raise RuntimeError(f"download of {file_id} gave {received} of {size} bytes")
        return elapsed


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over gunicorn's unix socket, the hop nginx makes."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(self._path))


def download_direct(stack: Stack, browser: Browser, file_id: int, size: int) -> float:
    """Download straight from gunicorn's socket, as nginx asks for it (no TLS, no proxy): how
    fast the app itself serves, to tell its share from nginx's and the client's."""
    host = browser.base.removeprefix("https://")
    cookies = "; ".join(f"{name}={value}" for name, value in browser.session.cookies.items())
    connection = _UnixConnection(stack.root / "gunicorn.sock")
    started = time.perf_counter()
    connection.request(
        "GET",
        f"/files/{file_id}/download",
        headers={"Host": host, "Cookie": cookies, "X-Forwarded-For": "127.0.0.1",
                 "X-Forwarded-Proto": "https", "X-Forwarded-Host": host},
    )  # fmt: skip
    answer = connection.getresponse()
    buffer = memoryview(bytearray(MIB))
    received = 0
    while count := answer.readinto(buffer):
        received += count
    elapsed = time.perf_counter() - started
    connection.close()
    if answer.status != 200 or received != size:
        raise RuntimeError(f"direct download of {file_id}: {answer.status}, {received} bytes")
    return elapsed
