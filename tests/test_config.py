"""Settings come from the environment and bad ones stop start-up with a clear message."""

from __future__ import annotations

import importlib
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from securestore import create_app
from securestore.config import ConfigError, document
from securestore.config.keys import weak_key_message
from securestore.config.table import BY_NAME
from tests.fixtures.apps import TEST_SECRET_KEY


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite")
    return monkeypatch


def test_settings_are_read_from_the_environment(production_env: pytest.MonkeyPatch) -> None:
    production_env.setenv("S3_PRIMARY_BUCKET", "p-bucket")
    production_env.setenv("S3_BACKUP_BUCKET", "b-bucket")
    production_env.setenv("MAX_UPLOAD_BYTES", "1_000_000")
    production_env.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:1")
    app = create_app()
    assert app.config["SECRET_KEY"] == TEST_SECRET_KEY
    assert app.config["S3_PRIMARY_BUCKET"] == "p-bucket"
    assert app.config["MAX_UPLOAD_BYTES"] == 1_000_000
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024  # MAX_REQUEST_BYTES
    assert app.config["BACKUP_RETENTION_DAYS"] == 30


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@db.example/store", "postgresql+psycopg://u@db.example/store"),
        (
            "postgresql://u:p%40ss@db.example:5433/store",
            "postgresql+psycopg://u:p%40ss@db.example:5433/store",
        ),
        ("postgresql+psycopg://u@db/store", "postgresql+psycopg://u@db/store"),
        (
            "sqlite:////var/lib/securestore/securestore.db",
            "sqlite:////var/lib/securestore/securestore.db",
        ),
    ],
)
def test_postgresql_urls_pick_the_installed_psycopg_driver(
    production_env: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    """SQLAlchemy 2.0 reads a bare postgresql:// as psycopg2, which is not installed."""
    production_env.setenv("DATABASE_URL", url)
    uri = create_app().config["SQLALCHEMY_DATABASE_URI"]
    assert uri == expected
    if expected.startswith("postgresql"):
        assert make_url(uri).get_dialect().driver == "psycopg"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SECRET_KEY", "", "SECRET_KEY is required"),
        ("SECRET_KEY", "x", "SECRET_KEY holds about 0 bits"),
        ("SECRET_KEY", "0123456789abcdef" * 2, "SECRET_KEY holds about 128 bits"),
        ("SECRET_KEY", "correct horse battery staple", "secrets.token_hex"),
        ("SECRET_KEY_FALLBACKS", "0123456789abcdef", "SECRET_KEY_FALLBACKS holds"),
        ("S3_BACKUP_BUCKET", "securestore-primary", "must be different buckets"),
        ("MAX_UPLOAD_BYTES", "lots", "MAX_UPLOAD_BYTES must be a whole number"),
        ("MAX_UPLOAD_BYTES", "0", "MAX_UPLOAD_BYTES must be a positive"),
        ("S3_PART_BYTES", "1024", "S3_PART_BYTES must be at least"),
        ("S3_PART_BYTES", str(6 * 1024**3), "at most 5 GiB"),
        ("S3_UPLOAD_CONCURRENCY", "0", "S3_UPLOAD_CONCURRENCY must be at least 1"),
        ("S3_MAX_POOL_CONNECTIONS", "1", "S3_MAX_POOL_CONNECTIONS must be at least"),
        ("DOWNLOAD_MODE", "teleport", "DOWNLOAD_MODE must be one of stream, redirect, accel"),
        ("DOWNLOAD_URL_SECONDS", "0", "DOWNLOAD_URL_SECONDS must be between"),
        ("SECURESTORE_ENV", "staging", "SECURESTORE_ENV must be one of"),
        ("BACKUP_RETENTION_DAYS", "-1", "BACKUP_RETENTION_DAYS must be 0 or more"),
        ("BACKUP_MAX_ATTEMPTS", "0", "BACKUP_MAX_ATTEMPTS must be at least 1"),
    ],
)
def test_bad_settings_stop_start_up_naming_the_variable(
    production_env: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    production_env.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        create_app()


def test_development_reads_the_files_make_run_generated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret.env").write_text("SECRET_KEY=generated-once\n")
    (instance / "local-s3.env").write_text("S3_PRIMARY_BUCKET=local-primary\n")
    monkeypatch.setenv("SECURESTORE_ENV", "development")
    monkeypatch.setenv("S3_BACKUP_BUCKET", "already-set")
    from securestore.config import load_development_env

    load_development_env(str(instance))
    import os

    assert os.environ["SECRET_KEY"] == "generated-once"
    assert os.environ["S3_PRIMARY_BUCKET"] == "local-primary"
    assert os.environ["S3_BACKUP_BUCKET"] == "already-set"


def test_the_s3_pool_has_a_connection_for_every_part_of_every_gunicorn_thread(
    production_env: pytest.MonkeyPatch,
) -> None:
    import securestore.gunicorn_conf as gunicorn_conf

    production_env.delenv("GUNICORN_THREADS", raising=False)
    default_threads = importlib.reload(gunicorn_conf).threads
    assert create_app().config["S3_MAX_POOL_CONNECTIONS"] == default_threads * 2
    production_env.setenv("GUNICORN_THREADS", "8")
    production_env.setenv("S3_UPLOAD_CONCURRENCY", "3")
    assert create_app().config["S3_MAX_POOL_CONNECTIONS"] == 24
    production_env.setenv("S3_MAX_POOL_CONNECTIONS", "50")
    assert create_app().config["S3_MAX_POOL_CONNECTIONS"] == 50


REPO = Path(__file__).resolve().parents[1]
# `os.environ.get("NAME"` or `_int_env("NAME"` anywhere in the package: a setting it reads.
_READS = re.compile(r"""(?:environ\.get|_int_env)\(\s*["']([A-Z0-9_]+)["']""")


def test_env_example_and_the_settings_page_are_written_from_the_table() -> None:
    """One table of settings; run `python -m securestore.config.document` after changing it."""
    assert (REPO / ".env.example").read_text() == document.env_example()
    page = (REPO / "docs" / "configuration.md").read_text()
    assert document.with_table(page) == page


def test_every_variable_the_code_reads_is_in_the_settings_table() -> None:
    read = {
        name
        for path in (REPO / "securestore").rglob("*.py")
        for name in _READS.findall(path.read_text())
    }
    assert read  # the pattern still finds them
    outside = {"SECURESTORE_ENV"}  # read by is_development() too, and in the table
    assert read - outside <= set(BY_NAME), read - set(BY_NAME)


def test_the_production_env_template_names_only_known_settings() -> None:
    template = (REPO / "deploy" / "securestore.env.example").read_text()
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", template, re.MULTILINE))
    assert names <= set(BY_NAME), names - set(BY_NAME)
    assert "psycopg2" not in template


@pytest.mark.parametrize("make", [secrets.token_hex, secrets.token_urlsafe])
def test_keys_made_as_the_docs_say_are_strong_enough(make: Any) -> None:
    for _ in range(20):
        assert weak_key_message("SECRET_KEY", make(32)) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"S3_SSE": "none"}, "S3_SSE must be one of AES256, aws:kms"),
        ({"S3_KMS_KEY_ID": "k"}, "S3_KMS_KEY_ID needs S3_SSE=aws:kms"),
        (
            {"S3_SSE": "aws:kms", "S3_KMS_KEY_ID": "k", "S3_BACKUP_KMS_KEY_ID": "k"},
            "S3_BACKUP_KMS_KEY_ID must be a different key",
        ),
        ({"BACKUP_LOCK_MODE": "legal-hold"}, "BACKUP_LOCK_MODE must be one of off, governance"),
        ({"BACKUP_LOCK_DAYS": "0"}, "BACKUP_LOCK_DAYS must be at least 1 day"),
    ],
)
def test_encryption_and_lock_settings_that_cannot_work_stop_start_up(
    production_env: pytest.MonkeyPatch, settings: dict[str, str], message: str
) -> None:
    for name, value in settings.items():
        production_env.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_app()
