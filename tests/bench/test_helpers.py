"""The benchmark's pure helpers: the part plan of a direct upload and the ceiling server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.direct import part_lengths
from bench.stack import BenchSite
from tests.deploy.harness import NGINX_CONF

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("size", "parts"),
    [(8 * MIB, [8 * MIB]), (17 * MIB, [8 * MIB, 8 * MIB, MIB]), (1, [1])],
)
def test_part_lengths_leave_the_rest_to_the_last_part(size: int, parts: list[int]) -> None:
    assert part_lengths(size, 8 * MIB) == parts


def test_the_ceiling_server_keeps_the_shipped_tls_and_proxies_s3_alone(tmp_path: Path) -> None:
    site = BenchSite(
        http_port=8080, https_port=8443, upstreams=("unix:/tmp/app.sock",),
        static_dir=tmp_path, cert=tmp_path / "c.pem", key=tmp_path / "k.pem",
        ceiling_port=9443, s3_endpoint="http://127.0.0.1:8333",
    )  # fmt: skip
    rendered = site.render(NGINX_CONF.read_text())
    ceiling = rendered[rendered.index("listen 127.0.0.1:9443 ssl;") :]
    for setting in ("ssl_protocols TLSv1.2 TLSv1.3;", "proxy_max_temp_file_size 0;",
                    f"ssl_certificate     {tmp_path / 'c.pem'};"):  # fmt: skip
        assert setting in ceiling
    assert "proxy_pass http://127.0.0.1:8333;" in ceiling
    assert "proxy_set_header Host 127.0.0.1:8333;" in ceiling
    assert "securestore_app" not in ceiling and "/static/" not in ceiling
    assert "listen 127.0.0.1:8443 ssl;" in rendered  # the app's server is still there
