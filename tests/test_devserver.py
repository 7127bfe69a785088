"""`make run`'s generated settings: created once, private, and reused."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

from securestore.devserver import ensure_local_settings
from securestore.locals3 import LocalS3, free_ports


def test_local_settings_are_generated_once_with_mode_0600(tmp_path: Path) -> None:
    ensure_local_settings(tmp_path, 8333)
    s3_env = (tmp_path / "local-s3.env").read_text()
    keys = [line.split("=", 1)[0] for line in s3_env.splitlines()]
    assert keys == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "S3_ENDPOINT_URL",
        "S3_PRIMARY_BUCKET",
        "S3_BACKUP_BUCKET",
    ]
    assert "S3_ENDPOINT_URL=http://127.0.0.1:8333" in s3_env
    for name in ("local-s3.env", "secret.env"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    ensure_local_settings(tmp_path, 8333)
    assert (tmp_path / "local-s3.env").read_text() == s3_env


def test_a_taken_port_is_named(tmp_path: Path) -> None:
    # free_ports() picks a port whose gRPC twin (port + 10000) is free too, so only the
    # port this test occupies can be reported.
    port = free_ports()["s3.port"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        server = LocalS3(tmp_path, ("a-bucket",), "k", "s", ports={"s3.port": port})
        assert server.taken_ports() == [f"{port} (s3.port)"]
