"""Settings the deployment relies on: proxy trust, cookie flags, start-up refusal, probes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from moto import mock_aws

from securestore import create_app
from securestore.config import ConfigError
from tests.deploy.harness import REPO_ROOT, gunicorn_command
from tests.fixtures.apps import base_config
from tests.fixtures.forms import AuthActions


def _app_with_echo(config: dict[str, Any]) -> Flask:
    """The real app plus one route that shows what it believes about the request."""
    app = create_app(config)

    @app.get("/_echo")
    def echo() -> dict[str, str | None]:
        return {"scheme": request.scheme, "remote": request.remote_addr, "host": request.host}

    return app


FORWARDED = {
    # A client forging its address, then nginx appending the real one.
    "X-Forwarded-For": "203.0.113.66, 198.51.100.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "files.example.org",
}


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(
    s3: Any, database_url: str
) -> None:
    app = _app_with_echo(base_config(database_url))

    seen = app.test_client().get("/_echo", headers=FORWARDED).get_json()

    assert seen == {"scheme": "http", "remote": "127.0.0.1", "host": "localhost"}


def test_behind_one_proxy_only_the_proxy_supplied_values_count(
    s3: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "1")
    app = _app_with_echo(base_config(database_url))

    seen = app.test_client().get("/_echo", headers=FORWARDED).get_json()

    assert seen == {"scheme": "https", "remote": "198.51.100.7", "host": "files.example.org"}


def _session_cookie_headers(app: Flask) -> list[str]:
    response = AuthActions(app.test_client()).register("carol")
    assert response.status_code == 302
    name = app.config["SESSION_COOKIE_NAME"]
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]


@pytest.mark.parametrize(
    ("environment", "secure_cookies", "expect_secure"),
    [
        ("production", None, True),
        ("production", "0", False),
        ("development", None, False),
        ("development", "yes", True),
    ],
)
def test_session_cookie_flags(
    s3: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    environment: str,
    secure_cookies: str | None,
    expect_secure: bool,
) -> None:
    monkeypatch.setenv("SECURESTORE_ENV", environment)
    if secure_cookies is not None:
        monkeypatch.setenv("SECURE_COOKIES", secure_cookies)
    app = create_app(base_config(database_url))

    (cookie,) = _session_cookie_headers(app)
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}

    assert "httponly" in flags and "samesite=lax" in flags
    assert ("secure" in flags) is expect_secure
    # Under HTTPS the __Host- prefix binds the cookie to this host, path / and HTTPS.
    assert cookie.startswith("__Host-session=") is expect_secure
    assert app.config["REMEMBER_COOKIE_SECURE"] is expect_secure
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    ("name", "value"),
    [("SECURE_COOKIES", "maybe"), ("TRUSTED_PROXY_COUNT", "-1"), ("TRUSTED_PROXY_COUNT", "one"),
     ("SECURESTORE_INSTANCE_PATH", "relative/dir")],
)
def test_bad_deploy_settings_stop_start_up_naming_the_variable(
    s3: Any, database_url: str, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        create_app(base_config(database_url))


def test_instance_path_comes_from_the_environment(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The installed package's default instance folder is inside the read-only virtualenv.
    monkeypatch.setenv("SECURESTORE_INSTANCE_PATH", str(tmp_path / "state"))
    config = {k: v for k, v in base_config("unused").items() if k != "SQLALCHEMY_DATABASE_URI"}
    app = create_app(config)

    assert app.instance_path == str(tmp_path / "state")
    assert (tmp_path / "state").is_dir()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/state/securestore.db"


def test_gunicorn_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "SECURESTORE_ENV": "production",
        "SECURESTORE_INSTANCE_PATH": str(tmp_path),
        "GUNICORN_WORKERS": "1",
    }
    result = subprocess.run(
        gunicorn_command(f"unix:{tmp_path / 'app.sock'}"),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stdout + result.stderr


def test_healthz_answers_without_touching_s3(database_url: str) -> None:
    # Nothing listens on port 9: any S3 call would fail.
    config = base_config(database_url, S3_ENDPOINT_URL="http://127.0.0.1:9")
    client = create_app(config).test_client()

    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").get_json() == {
        "status": "ok", "checks": {"database": {"ok": True}}
    }
    assert client.get("/storage/health").status_code == 503


def test_healthz_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    with mock_aws():
        config = base_config(f"sqlite:///{tmp_path}/missing/dir/securestore.db")
        answer = create_app(config).test_client().get("/healthz")

    assert answer.status_code == 503
    assert answer.get_json()["checks"]["database"]["ok"] is False


def test_wsgi_module_builds_the_app_from_the_environment() -> None:
    # gunicorn imports `wsgi:app`; it must be importable from the installed package.
    result = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('wsgi').origin)"],
        cwd="/", capture_output=True, text=True, check=True,
    )
    assert Path(result.stdout.strip()) == REPO_ROOT / "wsgi.py"
