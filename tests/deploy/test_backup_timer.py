"""The systemd service and timer that run `backup sync`: valid, periodic, and sandboxed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.harness import SYSTEMD_DIR

SERVICE = SYSTEMD_DIR / "securestore-backup-sync.service"
TIMER = SYSTEMD_DIR / "securestore-backup-sync.timer"
WEB_SERVICE = SYSTEMD_DIR / "securestore.service"
SHIPPED_FLASK = "/opt/securestore/venv/bin/flask"
SANDBOX = (
    "User",
    "Group",
    "EnvironmentFile",
    "NoNewPrivileges",
    "ProtectSystem",
    "ProtectHome",
    "PrivateTmp",
    "PrivateDevices",
    "CapabilityBoundingSet",
    "RestrictSUIDSGID",
    "ReadWritePaths",
    "RestrictAddressFamilies",
)


def unit(path: Path) -> configparser.RawConfigParser:
    """Read a unit file; repeated keys keep their last value, enough for these checks."""
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_service_runs_backup_sync_once_as_the_app_user_in_the_sandbox() -> None:
    service = unit(SERVICE)["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == f"{SHIPPED_FLASK} --app securestore backup sync"
    assert service["User"] == "securestore"
    assert service["EnvironmentFile"] == "/etc/securestore/securestore.env"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == ""


def test_service_sandbox_matches_the_web_service() -> None:
    web, backup = unit(WEB_SERVICE)["Service"], unit(SERVICE)["Service"]
    assert {key: backup.get(key) for key in SANDBOX} == {key: web.get(key) for key in SANDBOX}


def test_timer_starts_the_service_every_minute() -> None:
    timer = unit(TIMER)
    assert timer["Timer"]["Unit"] == SERVICE.name
    assert timer["Timer"]["OnUnitActiveSec"] == "1min"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_systemd_accepts_the_units_and_rates_the_sandbox_ok(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this run's flask.
    flask = Path(sys.executable).with_name("flask")
    service = tmp_path / SERVICE.name
    service.write_text(SERVICE.read_text().replace(SHIPPED_FLASK, str(flask)))
    shutil.copy(TIMER, tmp_path / TIMER.name)
    verify = subprocess.run(
        [tool, "verify", str(service), str(tmp_path / TIMER.name)], capture_output=True, text=True
    )
    assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(), verify.stderr
    security = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", str(service)],
        capture_output=True,
        text=True,
    )
    assert security.returncode == 0, security.stdout + security.stderr
