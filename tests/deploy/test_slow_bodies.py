"""Slow request bodies cannot hold the app: the shipped nginx in front of a gunicorn of two
threads, 40 anonymous clients trickling bodies, and the site still answers at once.

nginx buffers every small body before passing it on, so a client trickling a login form
holds an nginx connection, never an app thread; on the upload routes (unbuffered, so that
uploads stream) the app refuses an anonymous body at once, unread. Measured figures are in
docs/security.md ("Request bodies").
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import Certificate
from tests.deploy.harness import running_gunicorn, running_nginx, site_for_one_app
from tests.fixtures.apps import TEST_SECRET_KEY

SLOW_CLIENTS = 40
# A thread held by a slow body would make these wait for nginx's 10 s body timeout.
PROMPT_SECONDS = 2.0


@contextmanager
def trickling(port: int, cert: Path, path: str, count: int) -> Iterator[list[ssl.SSLSocket]]:
    """`count` HTTPS clients that send a POST's headers and the first bytes of its body."""
    context = ssl.create_default_context(cafile=str(cert))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nuser"
    ).encode()
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            raw = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
            client = stack.enter_context(context.wrap_socket(raw, server_hostname="127.0.0.1"))
            client.sendall(head)
            clients.append(client)
        yield clients


def _timed_get(url: str, cert: Path) -> tuple[int, float]:
    started = time.monotonic()
    status = requests.get(url, verify=str(cert), timeout=30).status_code
    return status, time.monotonic() - started


@pytest.mark.parametrize("path", ["/auth/login", "/files/upload"])
def test_forty_slow_anonymous_bodies_leave_the_app_answering(
    nginx: str, tls_certificate: Certificate, database_url: str, tmp_path: Path, path: str
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": database_url,
        "SECURESTORE_INSTANCE_PATH": str(tmp_path),
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "S3_REGION": "us-east-1",
        "TRUSTED_PROXY_COUNT": "1",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
    }
    with running_gunicorn(tmp_path / "app.sock", env, tmp_path / "gunicorn.log") as app:
        site = site_for_one_app(app, tls_certificate.cert, tls_certificate.key)
        base = f"https://127.0.0.1:{site.https_port}"
        with (
            running_nginx(nginx, tmp_path / "nginx", site),
            trickling(site.https_port, tls_certificate.cert, path, SLOW_CLIENTS),
        ):
            time.sleep(1)  # let every slow body reach nginx (and, unbuffered, the app)
            answers = [_timed_get(f"{base}/healthz", tls_certificate.cert) for _ in range(5)]
    assert [status for status, _ in answers] == [200] * 5
    assert max(seconds for _, seconds in answers) < PROMPT_SECONDS, answers
