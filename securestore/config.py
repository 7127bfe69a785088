"""Settings, read from the environment only and checked once at start-up.

Every setting the app knows is listed in :func:`settings_from_environ`; `.env.example` and the
README document them. AWS credentials are deliberately absent: boto3's default credential
chain finds them (the EC2 instance role in production, environment variables locally).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

GIB = 1024**3
MIB = 1024**2
DEFAULT_MAX_UPLOAD_BYTES = 5 * GIB
DEFAULT_UPLOAD_PART_BYTES = 8 * MIB
DEFAULT_BACKUP_RETENTION_DAYS = 30
DEFAULT_BACKUP_MAX_ATTEMPTS = 10
DEFAULT_BACKUP_RETRY_DELAY_SECONDS = 30
# S3 refuses multipart parts smaller than 5 MiB (except the last one).
MIN_UPLOAD_PART_BYTES = 5 * MIB
# S3 allows at most 5 GiB per part.
MAX_UPLOAD_PART_BYTES = 5 * GIB
# Two parts in flight keep a local SeaweedFS as busy as four did (bench: same MB/s at 256 MiB)
# with 16 MiB less memory per upload; raise it for a distant S3 where each part waits longer.
DEFAULT_UPLOAD_CONCURRENCY = 2
# securestore/gunicorn_conf.py's default threads per worker: the S3 connection pool is sized
# from the same GUNICORN_THREADS variable, so every thread's parts get a connection.
DEFAULT_GUNICORN_THREADS = 4
DOWNLOAD_MODES = ("stream", "redirect")
DEFAULT_DOWNLOAD_URL_SECONDS = 300
# A presigned URL signed with SigV4 is valid for at most seven days.
MAX_DOWNLOAD_URL_SECONDS = 7 * 24 * 3600

ENVIRONMENTS = ("production", "development")

# OWASP Password Storage Cheat Sheet: scrypt N=2^15, r=8, p=3 (Werkzeug's default p=1 is short).
DEFAULT_PASSWORD_HASH_METHOD = "scrypt:32768:8:3"  # noqa: S105 -- a method name, no secret
# Werkzeug method strings with every parameter spelled out, so stored hashes can be compared.
_HASH_METHOD = re.compile(r"scrypt:\d+:\d+:\d+|pbkdf2:sha256:\d+")

# Files `make run` writes under instance/ for local development; loaded only in development.
LOCAL_ENV_FILES = ("local-s3.env", "secret.env")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable to fix."""


def load_development_env(instance_path: str) -> None:
    """Export the settings `make run` generated, without overriding anything already set.

    This is what lets `flask --app securestore ...` in a checkout talk to the local S3 and
    database of a running `make run` with no extra environment.
    """
    for name in LOCAL_ENV_FILES:
        path = Path(instance_path) / name
        if path.is_file():
            load_dotenv(path, override=False)


def settings_from_environ(environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables (not yet validated)."""
    environment = environ.get("SECURESTORE_ENV", "production").strip().lower()
    database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance_path}/securestore.db"
    if database_url.startswith("postgres://"):
        # Heroku-style URLs are refused by SQLAlchemy 2; accept them as the same thing.
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    concurrency = _int(environ, "S3_UPLOAD_CONCURRENCY", DEFAULT_UPLOAD_CONCURRENCY)
    return {
        "SECURESTORE_ENV": environment,
        "SECRET_KEY": environ.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "S3_PRIMARY_BUCKET": environ.get("S3_PRIMARY_BUCKET", "securestore-primary"),
        "S3_BACKUP_BUCKET": environ.get("S3_BACKUP_BUCKET", "securestore-backup"),
        "S3_ENDPOINT_URL": environ.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": environ.get("S3_REGION") or None,
        "S3_PART_BYTES": _int(environ, "S3_PART_BYTES", DEFAULT_UPLOAD_PART_BYTES),
        "S3_UPLOAD_CONCURRENCY": concurrency,
        "S3_MAX_POOL_CONNECTIONS": _int(
            environ,
            "S3_MAX_POOL_CONNECTIONS",
            _int(environ, "GUNICORN_THREADS", DEFAULT_GUNICORN_THREADS) * concurrency,
        ),
        "DOWNLOAD_MODE": environ.get("DOWNLOAD_MODE", "stream").strip().lower(),
        "DOWNLOAD_URL_SECONDS": _int(environ, "DOWNLOAD_URL_SECONDS", DEFAULT_DOWNLOAD_URL_SECONDS),
        "MAX_UPLOAD_BYTES": _int(environ, "MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
        "LOG_LEVEL": environ.get("LOG_LEVEL", "INFO").upper(),
        "TRUSTED_PROXY_COUNT": _int(environ, "TRUSTED_PROXY_COUNT", 0),
        **cookie_settings(_bool(environ, "SECURE_COOKIES", environment != "development")),
        **security_settings(environ),
        "BACKUP_RETENTION_DAYS": _int(
            environ, "BACKUP_RETENTION_DAYS", DEFAULT_BACKUP_RETENTION_DAYS
        ),
        "BACKUP_MAX_ATTEMPTS": _int(environ, "BACKUP_MAX_ATTEMPTS", DEFAULT_BACKUP_MAX_ATTEMPTS),
        "BACKUP_RETRY_DELAY_SECONDS": _int(
            environ, "BACKUP_RETRY_DELAY_SECONDS", DEFAULT_BACKUP_RETRY_DELAY_SECONDS
        ),
    }


def cookie_settings(secure: bool) -> dict[str, Any]:
    """Return the session and remember-me cookie flags for `SECURE_COOKIES`.

    Both cookies are HttpOnly and SameSite=Lax always. Under HTTPS (`SECURE_COOKIES` on, the
    default outside development) they are also `Secure`, the session cookie carries the
    `__Host-` prefix (browsers then refuse it from plain HTTP, a subdomain or another path),
    and responses carry HSTS.
    """
    return {
        "SECURE_COOKIES": secure,
        "SESSION_COOKIE_NAME": "__Host-session" if secure else "session",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
    }


def security_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings of the security controls: hashing, throttling, session limits, Redis."""
    return {
        "PASSWORD_HASH_METHOD": environ.get("PASSWORD_HASH_METHOD", DEFAULT_PASSWORD_HASH_METHOD),
        "LOGIN_ACCOUNT_LIMIT": _int(environ, "LOGIN_ACCOUNT_LIMIT", 5),
        "LOGIN_ADDRESS_LIMIT": _int(environ, "LOGIN_ADDRESS_LIMIT", 20),
        "LOGIN_WINDOW_SECONDS": _int(environ, "LOGIN_WINDOW_SECONDS", 900),
        "SESSION_IDLE_MINUTES": _int(environ, "SESSION_IDLE_MINUTES", 30),
        "SESSION_LIFETIME_HOURS": _int(environ, "SESSION_LIFETIME_HOURS", 12),
        "REDIS_URL": environ.get("REDIS_URL") or None,
        "REDIS_KEY_PREFIX": environ.get("REDIS_KEY_PREFIX", "securestore:"),
    }


def instance_path_from_environ(environ: Mapping[str, str]) -> str | None:
    """Where the app keeps its files when `SECURESTORE_INSTANCE_PATH` says (else Flask's default).

    An installed package's default instance folder lies inside the virtualenv, which a
    hardened service cannot write; the systemd unit points this at /var/lib/securestore.
    """
    path = environ.get("SECURESTORE_INSTANCE_PATH", "").strip()
    if not path:
        return None
    if not os.path.isabs(path):
        raise ConfigError(f"SECURESTORE_INSTANCE_PATH must be an absolute path, got {path!r}")
    return path


def validate(config: Mapping[str, Any]) -> None:
    """Stop start-up with a message naming the variable when a setting cannot work."""
    if config["SECURESTORE_ENV"] not in ENVIRONMENTS:
        raise ConfigError(f"SECURESTORE_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if not config.get("SECRET_KEY"):
        hint = (
            " (run `make run` once to generate instance/secret.env)"
            if config["SECURESTORE_ENV"] == "development"
            else ""
        )
        raise ConfigError(f"SECRET_KEY is required{hint}")
    for name in ("S3_PRIMARY_BUCKET", "S3_BACKUP_BUCKET"):
        if not config.get(name):
            raise ConfigError(f"{name} must name a bucket")
    if config["S3_PRIMARY_BUCKET"] == config["S3_BACKUP_BUCKET"]:
        raise ConfigError("S3_PRIMARY_BUCKET and S3_BACKUP_BUCKET must be different buckets")
    if config["MAX_UPLOAD_BYTES"] <= 0:
        raise ConfigError("MAX_UPLOAD_BYTES must be a positive number of bytes")
    if config["TRUSTED_PROXY_COUNT"] < 0:
        raise ConfigError("TRUSTED_PROXY_COUNT must be 0 (no proxy) or the number of proxies")
    if not MIN_UPLOAD_PART_BYTES <= config["S3_PART_BYTES"] <= MAX_UPLOAD_PART_BYTES:
        raise ConfigError("S3_PART_BYTES must be at least 5 MiB and at most 5 GiB")
    if config["S3_UPLOAD_CONCURRENCY"] < 1:
        raise ConfigError("S3_UPLOAD_CONCURRENCY must be at least 1 part in flight")
    if config["S3_MAX_POOL_CONNECTIONS"] < config["S3_UPLOAD_CONCURRENCY"]:
        raise ConfigError("S3_MAX_POOL_CONNECTIONS must be at least S3_UPLOAD_CONCURRENCY")
    if config["DOWNLOAD_MODE"] not in DOWNLOAD_MODES:
        raise ConfigError(f"DOWNLOAD_MODE must be one of {', '.join(DOWNLOAD_MODES)}")
    if not 1 <= config["DOWNLOAD_URL_SECONDS"] <= MAX_DOWNLOAD_URL_SECONDS:
        raise ConfigError("DOWNLOAD_URL_SECONDS must be between 1 and 604800 (seven days)")
    if config["BACKUP_RETENTION_DAYS"] < 0:
        raise ConfigError("BACKUP_RETENTION_DAYS must be 0 or more days")
    if config["BACKUP_MAX_ATTEMPTS"] < 1:
        raise ConfigError("BACKUP_MAX_ATTEMPTS must be at least 1")
    if config["BACKUP_RETRY_DELAY_SECONDS"] < 0:
        raise ConfigError("BACKUP_RETRY_DELAY_SECONDS must be 0 (off) or more seconds")
    validate_security(config)


def validate_security(config: Mapping[str, Any]) -> None:
    """Refuse security settings that would switch a control off or cannot be parsed."""
    if not _HASH_METHOD.fullmatch(config["PASSWORD_HASH_METHOD"]):
        raise ConfigError(
            "PASSWORD_HASH_METHOD must be a full Werkzeug method string such as "
            f"{DEFAULT_PASSWORD_HASH_METHOD} or pbkdf2:sha256:600000"
        )
    for name in (
        "LOGIN_ACCOUNT_LIMIT",
        "LOGIN_ADDRESS_LIMIT",
        "LOGIN_WINDOW_SECONDS",
        "SESSION_IDLE_MINUTES",
        "SESSION_LIFETIME_HOURS",
    ):
        if config[name] <= 0:
            raise ConfigError(f"{name} must be a positive whole number")


def is_development() -> bool:
    """Tell whether the process environment asks for development mode."""
    return os.environ.get("SECURESTORE_ENV", "production").strip().lower() == "development"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise ConfigError(f"{name} must be one of 1/0, true/false, yes/no, on/off, got {raw!r}")


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
