"""The shipped systemd units: accepted by systemd itself, and sandboxed as the issue asks."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.harness import SYSTEMD_DIR, UnixHTTPConnection
from tests.fixtures.apps import TEST_SECRET_KEY

SERVICE = SYSTEMD_DIR / "securestore.service"
SOCKET = SYSTEMD_DIR / "securestore.socket"
SHIPPED_GUNICORN = "/opt/securestore/venv/bin/gunicorn"


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Parse a unit file, keeping repeated keys (systemd allows them) as lists."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (make test installs Debian's systemd)")
    # verify checks that ExecStart exists; point it at this run's gunicorn, nothing else.
    gunicorn = Path(sys.executable).with_name("gunicorn")
    assert gunicorn.exists(), "gunicorn must be installed in the test environment"
    service = tmp_path / SERVICE.name
    service.write_text(SERVICE.read_text().replace(SHIPPED_GUNICORN, str(gunicorn)))
    shutil.copy(SOCKET, tmp_path / SOCKET.name)

    result = subprocess.run(
        [tool, "verify", str(service), str(tmp_path / SOCKET.name)],
        capture_output=True, text=True,
    )

    # verify exits 0 even for keys it ignores, so any message at all is a failure.
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr


def test_systemd_rates_the_sandbox_as_ok(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (make test installs Debian's systemd)")
    shutil.copy(SERVICE, tmp_path / SERVICE.name)
    # Exposure 0 (locked down) .. 10 (unsandboxed); systemd labels <= 2.0 as "OK".
    result = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", str(tmp_path / SERVICE.name)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_service_runs_gunicorn_unprivileged_and_sandboxed() -> None:
    unit = _unit(SERVICE)
    service = unit["Service"]

    assert service["User"] == ["securestore"] and service["Group"] == ["securestore"]
    assert service["ExecStart"] == [
        f"{SHIPPED_GUNICORN} --config python:securestore.gunicorn_conf wsgi:app"
    ]
    assert service["Restart"] == ["on-failure"]
    assert service["EnvironmentFile"] == ["/etc/securestore/securestore.env"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "RestrictSUIDSGID": "yes",
        "ReadWritePaths": "/var/lib/securestore",
    }.items():
        assert service.get(key) == [value], key
    assert "Requires" in unit["Unit"] and "securestore.socket" in unit["Unit"]["Requires"][0]


def test_no_secret_or_public_address_in_the_units() -> None:
    service = _unit(SERVICE)["Service"]
    socket_unit = _unit(SOCKET)["Socket"]

    environment = " ".join(service.get("Environment", []))
    for name in ("SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"):
        assert name not in environment
    assert socket_unit["ListenStream"] == ["/run/securestore.sock"]
    assert socket_unit["SocketUser"] == ["www-data"]
    assert socket_unit["SocketMode"] == ["0600"]
    assert "0.0.0.0" not in SERVICE.read_text() + SOCKET.read_text()


def test_graceful_stop_outlasts_gunicorn_graceful_timeout() -> None:
    from securestore import gunicorn_conf

    service = _unit(SERVICE)["Service"]
    assert int(service["TimeoutStopSec"][0]) > gunicorn_conf.graceful_timeout
    assert service["KillMode"] == ["mixed"]



def test_execstart_serves_the_socket_systemd_passes_and_reports_ready(
    tmp_path: Path, database_url: str
) -> None:
    """Run the unit's ExecStart the way systemd would: socket-activated, Type=notify."""
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        pytest.skip("systemd-socket-activate is not installed (Debian's systemd package)")
    argv = shlex.split(_unit(SERVICE)["Service"]["ExecStart"][0])
    argv[0] = str(Path(sys.executable).with_name("gunicorn"))
    app_socket, notify_path = tmp_path / "app.sock", tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(60)
    environment = {
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": database_url,
        "SECURESTORE_INSTANCE_PATH": str(tmp_path),
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "S3_REGION": "us-east-1",
        "GUNICORN_WORKERS": "1",
        "NOTIFY_SOCKET": str(notify_path),
        "PATH": os.environ["PATH"],
    }
    command = [activate, "--listen", str(app_socket)]
    command += [f"--setenv={name}={value}" for name, value in environment.items()]
    with open(tmp_path / "gunicorn.log", "wb") as log:
        process = subprocess.Popen(command + argv, cwd=tmp_path, stdout=log, stderr=log)
    try:
        while not app_socket.exists():
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.1)
        # The first connection makes systemd-socket-activate start gunicorn on that socket.
        connection = UnixHTTPConnection(app_socket, timeout=60)
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
        connection.close()
        assert b"READY=1" in notify.recv(4096)
    finally:
        process.terminate()  # SIGTERM, as systemctl stop sends it: gunicorn exits gracefully
        returncode = process.wait(60)
        notify.close()
    assert returncode == 0, (tmp_path / "gunicorn.log").read_text()
