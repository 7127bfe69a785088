"""Fixtures for the deployment tests: nginx, shellcheck and a throwaway TLS certificate."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.harness import nginx_binary


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def nginx() -> str:
    """Path of nginx; `make test` installs it, elsewhere the nginx tests skip."""
    path = nginx_binary()
    if path is None:
        pytest.skip("nginx is not installed (make test installs it with apt-get)")
    return path


@pytest.fixture(scope="session")
def shellcheck() -> str:
    """Path of shellcheck; `make test` installs Debian's package, elsewhere those tests skip."""
    path = shutil.which("shellcheck")
    if path is None:
        pytest.skip("shellcheck is not installed (make test installs it with apt-get)")
    return path


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made for this test session only."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (make test installs it with apt-get)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=securestore.example.com",
            "-addext", "subjectAltName=DNS:securestore.example.com,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)
