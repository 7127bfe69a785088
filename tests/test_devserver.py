"""`make run`'s generated settings: created once, private, and reused."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import BytesIO
from pathlib import Path

import psutil
import pytest
from flask_migrate import upgrade

from securestore import create_app
from securestore.devserver import (
    BACKUP_BUCKET,
    LOCKED_BACKUP_BUCKET,
    PRIMARY_BUCKET,
    ensure_local_settings,
    lock_backups,
    read_env,
    seaweedfs_for,
    write_private_env,
)
from securestore.extensions import db
from securestore.files import service as files
from securestore.locals3 import LocalS3, free_ports, port_is_free
from tests.factories import add_user
from tests.fixtures.apps import TEST_SECRET_KEY


def test_local_settings_are_generated_once_with_mode_0600(tmp_path: Path) -> None:
    ensure_local_settings(tmp_path, 8333)
    s3_env = (tmp_path / "local-s3.env").read_text()
    keys = [line.split("=", 1)[0] for line in s3_env.splitlines()]
    assert keys == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "S3_ADMIN_ACCESS_KEY_ID",
        "S3_ADMIN_SECRET_ACCESS_KEY",
        "S3_ENDPOINT_URL",
        "S3_PRIMARY_BUCKET",
        "S3_BACKUP_BUCKET",
        "BACKUP_LOCK_MODE",
    ]
    settings = read_env(tmp_path / "local-s3.env")
    assert settings["AWS_ACCESS_KEY_ID"] != settings["S3_ADMIN_ACCESS_KEY_ID"]
    assert settings["BACKUP_LOCK_MODE"] == "governance"
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


@pytest.mark.seaweedfs
def test_make_run_serves_with_gunicorn_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """What `make run` starts: SeaweedFS, migrations, gunicorn with the shipped config; the
    environment reaches the app (`REGISTRATION=invite make run`), and the CLI beside it hands
    out invitation links to it."""
    port = free_ports()["s3.port"]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "S3_", "SECURESTORE_", "GUNICORN_", "PUBLIC_URL"))
    }
    env["PORT"] = str(port)
    env["REGISTRATION"] = "invite"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "securestore.devserver",
            "--instance",
            str(tmp_path),
            "--free-ports",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert server.stdout is not None
    try:
        output = _read_until(server, b"SecureStore is running on")
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
            assert answer.headers["Server"].startswith("gunicorn")
        with urllib.request.urlopen(f"{base}/storage/health", timeout=10) as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError) as closed:
            urllib.request.urlopen(f"{base}/auth/register", timeout=10)
        assert closed.value.code == 403
        closed.value.close()
        cli_env = {
            **env,
            "SECURESTORE_ENV": "development",
            "SECURESTORE_INSTANCE_PATH": str(tmp_path),
        }
        invited = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "securestore", "invites", "create"],
            env=cli_env,
            capture_output=True,
            text=True,
            check=True,
        )
        url = invited.stdout.splitlines()[-1]
        assert url.startswith(f"{base}/auth/invite/")
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200
        children = psutil.Process(server.pid).children(recursive=True)
        assert any("gunicorn" in " ".join(child.cmdline()) for child in children), output
    finally:
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert server.wait(60) == 0
        server.stdout.close()
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert port_is_free(port)
    assert (tmp_path / "securestore.db").exists()


def _read_until(server: subprocess.Popen[bytes], marker: bytes) -> bytes:
    assert server.stdout is not None
    seen = b""
    deadline = time.monotonic() + 120
    while marker not in seen:
        line = server.stdout.readline()
        assert line and time.monotonic() < deadline, seen.decode(errors="replace")
        seen += line
    return seen


@pytest.mark.seaweedfs
def test_lock_backups_moves_an_old_instance_to_a_locked_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instance/ from before Object Lock: one key, an unlocked backup bucket."""
    ports = free_ports()
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    old = {
        "AWS_ACCESS_KEY_ID": "localold",
        "AWS_SECRET_ACCESS_KEY": "old-secret",
        "S3_ENDPOINT_URL": endpoint,
        "S3_PRIMARY_BUCKET": PRIMARY_BUCKET,
        "S3_BACKUP_BUCKET": BACKUP_BUCKET,
    }
    write_private_env(tmp_path / "local-s3.env", old)
    for name, value in {
        **old,
        "SECURESTORE_ENV": "development",
        "SECRET_KEY": TEST_SECRET_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECURESTORE_INSTANCE_PATH", str(tmp_path))
    server = seaweedfs_for(tmp_path, old, ports)
    assert server.app_key is None and server.buckets == (PRIMARY_BUCKET, BACKUP_BUCKET)
    server.start()
    app = create_app()
    with app.app_context():
        upgrade()
        files.store_upload(
            add_user("old"), files.Incoming("a.txt", BytesIO(b"kept"), None, None), address=None
        )
        db.engine.dispose()
    server.stop()

    assert lock_backups(tmp_path, ports) == 0
    moved = read_env(tmp_path / "local-s3.env")
    assert moved["S3_ADMIN_ACCESS_KEY_ID"] == "localold"
    assert moved["AWS_ACCESS_KEY_ID"] != "localold"
    assert (moved["S3_BACKUP_BUCKET"], moved["BACKUP_LOCK_MODE"]) == (
        LOCKED_BACKUP_BUCKET,
        "governance",
    )
    server = seaweedfs_for(tmp_path, moved, ports)
    server.start()
    try:
        head = server.client().head_object(Bucket=LOCKED_BACKUP_BUCKET, Key="old/a.txt")
        assert head["ObjectLockMode"] == "GOVERNANCE"
        assert (
            server.client().get_object(Bucket=LOCKED_BACKUP_BUCKET, Key="old/a.txt")["Body"].read()
            == b"kept"
        )
    finally:
        server.stop()
