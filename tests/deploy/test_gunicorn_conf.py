"""The shipped gunicorn settings, as gunicorn itself reads them."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import tempfile

import pytest

from tests.deploy.harness import REPO_ROOT
from tests.fixtures.apps import TEST_SECRET_KEY


def _print_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # --print-config loads the app too, so it gets what the service's environment holds.
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "python:securestore.gunicorn_conf",
         "--print-config", "wsgi:app"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "SECRET_KEY": TEST_SECRET_KEY, "S3_REGION": "us-east-1",
             "SECURESTORE_INSTANCE_PATH": tempfile.gettempdir(), **env},
    )


def _effective(env: dict[str, str] | None = None) -> dict[str, str]:
    """Ask gunicorn for the settings it would run with."""
    result = _print_config(env or {})
    assert result.returncode == 0, result.stderr
    settings = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            settings[name.strip()] = value.strip()
    return settings


@pytest.fixture(scope="module")
def shipped() -> dict[str, str]:
    """The settings with no GUNICORN_* variables set (read once: gunicorn loads the app)."""
    return _effective({"GUNICORN_WORKERS": "", "GUNICORN_THREADS": ""})


def test_each_worker_builds_its_own_app_and_s3_client(shipped: dict[str, str]) -> None:
    # No preloading: create_app (and with it the boto3 client, its connection pool and its
    # refreshable credentials) runs in each worker after the fork, never in the master.
    settings = shipped

    assert settings["preload_app"] == "False"
    assert settings["worker_class"] == "gthread"


def test_long_uploads_and_logging_settings(shipped: dict[str, str]) -> None:
    settings = shipped

    # gthread workers heartbeat while threads stream a large upload: timeout only catches
    # a hung process; graceful_timeout lets in-flight requests finish on stop/restart.
    assert int(settings["timeout"]) >= 60
    assert int(settings["graceful_timeout"]) >= 60
    assert settings["accesslog"] == "-" and settings["errorlog"] == "-"
    assert settings["control_socket_disable"] == "True"
    assert int(settings["workers"]) == 2 * len(os.sched_getaffinity(0)) + 1
    assert settings["threads"] == "4"
    assert settings["bind"] == "['127.0.0.1:8000']"


def test_worker_count_comes_from_the_environment() -> None:
    assert _effective({"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "8"})["workers"] == "3"


@pytest.mark.parametrize("value", ["many", "0"])
def test_bad_worker_count_is_refused_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUNICORN_WORKERS", value)
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS"):
        runpy.run_module("securestore.gunicorn_conf")
