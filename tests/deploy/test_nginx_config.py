"""The shipped nginx site: valid, redirects to HTTPS, and sends its security headers."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import requests

from tests.deploy.conftest import Certificate
from tests.deploy.harness import (
    NGINX_CONF,
    NginxSite,
    free_ports,
    nginx_command,
    running_nginx,
    write_nginx_prefix,
)

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _site(tmp_path: Path, tls_certificate: Certificate, upstreams: tuple[str, ...]) -> NginxSite:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body { color: black; }\n")
    http_port, https_port = free_ports(2)
    return NginxSite(
        http_port=http_port,
        https_port=https_port,
        upstreams=upstreams,
        static_dir=static,
        cert=tls_certificate.cert,
        key=tls_certificate.key,
    )


def test_nginx_accepts_the_shipped_site(
    nginx: str, tmp_path: Path, tls_certificate: Certificate
) -> None:
    site = _site(tmp_path, tls_certificate, ("unix:/run/securestore-test.sock",))
    prefix = tmp_path / "nginx"
    write_nginx_prefix(nginx, prefix, site)

    result = subprocess.run(nginx_command(nginx, prefix, "-t"), capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_plain_http_redirects_to_https_and_https_sends_security_headers(
    nginx: str, tmp_path: Path, tls_certificate: Certificate
) -> None:
    # No app behind it: nginx still answers the redirect, static files and a 502 page.
    site = _site(tmp_path, tls_certificate, (f"unix:{tmp_path / 'absent.sock'}",))
    with running_nginx(nginx, tmp_path / "nginx", site):
        plain = requests.get(
            f"http://127.0.0.1:{site.http_port}/files/?page=2", allow_redirects=False, timeout=10
        )
        static = requests.get(
            f"https://127.0.0.1:{site.https_port}/static/app.css",
            verify=tls_certificate.cert, timeout=10,
        )
        proxied = requests.get(
            f"https://127.0.0.1:{site.https_port}/auth/login",
            verify=tls_certificate.cert, timeout=10,
        )

    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/files/?page=2"
    assert static.status_code == 200
    assert static.text == "body { color: black; }\n"
    assert "max-age=" in static.headers["Cache-Control"]
    assert proxied.status_code == 502
    for response in (static, proxied):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.url, name)
        assert "nginx/" not in response.headers.get("Server", "")


def _size_in_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value.lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def test_body_limits_match_the_app_small_everywhere_large_only_for_uploads() -> None:
    from securestore.config import DEFAULT_MAX_UPLOAD_BYTES
    from securestore.config.table import BY_NAME

    text = NGINX_CONF.read_text()
    server, _, upload = text.partition("location ~ ^/(files/upload|api/v1/files)$ {")
    upload = upload.split("}", 1)[0]
    limit = re.compile(r"^\s*client_max_body_size\s+(\S+);", re.MULTILINE)

    assert [_size_in_bytes(v) for v in limit.findall(server)] == [
        int(BY_NAME["MAX_REQUEST_BYTES"].default or 0)
    ]
    assert [_size_in_bytes(v) for v in limit.findall(upload)] == [DEFAULT_MAX_UPLOAD_BYTES]
    # Only uploads stream to the app unbuffered, in 1 MiB pieces (docs/performance.md).
    assert re.search(r"^\s*proxy_request_buffering\s+off;", upload, re.MULTILINE)
    assert not re.search(r"proxy_request_buffering\s+off;", server)
    assert re.search(r"^\s*client_body_buffer_size\s+1m;", upload, re.MULTILINE)
    assert re.search(r"^\s*limit_conn\s+securestore_per_address\s+\d+;", server, re.MULTILINE)
    # Over a connection limit the client is told to slow down, not that the site is down.
    assert re.search(r"^limit_conn_status\s+429;", text, re.MULTILINE)
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert re.search(rf"^\s*proxy_set_header\s+{header}\s", text, re.MULTILINE), header
