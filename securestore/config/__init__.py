"""Settings, read from the environment only and checked once at start-up.

Every setting is declared once, in `config.table`; `.env.example` and
`docs/configuration.md` are written from that table (`python -m securestore.config.document`).
AWS credentials are deliberately absent: boto3's default credential chain finds them (the
EC2 instance role in production, environment variables locally).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from sqlalchemy.engine import make_url

from securestore.config.keys import weak_key_message
from securestore.config.table import (
    BY_NAME,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_PASSWORD_HASH_METHOD,
    DOWNLOAD_MODES,
    ENVIRONMENTS,
    GIB,
    HASH_METHOD,
    LOCK_MODES,
    MIB,
    REGISTRATION_MODES,
    SETTINGS,
    SSE_MODES,
    UPLOAD_MODES,
    ConfigError,
)

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_PASSWORD_HASH_METHOD",
    "ConfigError",
    "cookie_settings",
    "instance_path_from_environ",
    "is_development",
    "load_development_env",
    "settings_from_environ",
    "validate",
]

# S3 refuses multipart parts smaller than 5 MiB (except the last one), and larger than 5 GiB.
MIN_UPLOAD_PART_BYTES = 5 * MIB
MAX_UPLOAD_PART_BYTES = 5 * GIB
# A presigned URL signed with SigV4 is valid for at most seven days.
MAX_DOWNLOAD_URL_SECONDS = 7 * 24 * 3600
# Files `make run` writes under instance/ for local development; loaded only in development.
LOCAL_ENV_FILES = ("local-s3.env", "secret.env")


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
    config = {s.name: s.value(environ) for s in SETTINGS if s.read_by == "app"}
    config["SQLALCHEMY_DATABASE_URI"] = database_uri(
        config.pop("DATABASE_URL") or f"sqlite:///{instance_path}/securestore.db"
    )
    threads = int(BY_NAME["GUNICORN_THREADS"].value(environ))
    pool = config.pop("DATABASE_POOL_SIZE") or 2 * threads
    config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(config["SQLALCHEMY_DATABASE_URI"], pool)
    if config["S3_MAX_POOL_CONNECTIONS"] is None:
        config["S3_MAX_POOL_CONNECTIONS"] = threads * config["S3_UPLOAD_CONCURRENCY"]
    if config["PUBLIC_URL"] is None and config["SECURESTORE_ENV"] == "development":
        # Where `make run` serves: the CLI in the same checkout hands out links to it.
        config["PUBLIC_URL"] = f"http://127.0.0.1:{BY_NAME['PORT'].value(environ)}"
    secure = config.pop("SECURE_COOKIES")
    if secure is None:
        secure = config["SECURESTORE_ENV"] != "development"
    config.update(cookie_settings(secure))
    return config


def engine_options(uri: str, pool: int) -> dict[str, Any]:
    """SQLAlchemy engine options: `pool` connections per process, as many more in a burst.

    Every request may hold two connections at once (its session's, and the throttle's or
    audit's own), so the default is two per gunicorn thread: a worker's threads never wait
    for one. A wait that still runs out answers 503 (`errors.py`), never 500.
    """
    options: dict[str, Any] = {"pool_pre_ping": True}
    if make_url(uri).database not in (None, "", ":memory:"):
        options.update(pool_size=pool, max_overflow=pool, pool_timeout=10)
    return options


def database_uri(url: str) -> str:
    """Name the installed PostgreSQL driver (psycopg 3) in a `postgresql://` URL.

    SQLAlchemy 2.0 would pick psycopg2 for a bare `postgresql://`, which is not installed;
    Heroku-style `postgres://` URLs mean the same thing. Other URLs pass unchanged.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


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
    for name, key in [("SECRET_KEY", config["SECRET_KEY"])] + [
        ("SECRET_KEY_FALLBACKS", old) for old in config.get("SECRET_KEY_FALLBACKS") or []
    ]:
        weakness = weak_key_message(name, key)
        if weakness:
            raise ConfigError(weakness)
    for name in ("S3_PRIMARY_BUCKET", "S3_BACKUP_BUCKET"):
        if not config.get(name):
            raise ConfigError(f"{name} must name a bucket")
    if config["S3_PRIMARY_BUCKET"] == config["S3_BACKUP_BUCKET"]:
        raise ConfigError("S3_PRIMARY_BUCKET and S3_BACKUP_BUCKET must be different buckets")
    for name in ("MAX_UPLOAD_BYTES", "MAX_REQUEST_BYTES"):
        if config[name] <= 0:
            raise ConfigError(f"{name} must be a positive number of bytes")
    if config["MAX_FILES_PER_REQUEST"] < 1:
        raise ConfigError("MAX_FILES_PER_REQUEST must be at least 1")
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
    if config["UPLOAD_MODE"] not in UPLOAD_MODES:
        raise ConfigError(f"UPLOAD_MODE must be one of {', '.join(UPLOAD_MODES)}")
    if config["UPLOAD_EXPIRY_HOURS"] < 1:
        raise ConfigError("UPLOAD_EXPIRY_HOURS must be at least 1 hour")
    if config["BACKUP_RETENTION_DAYS"] < 0:
        raise ConfigError("BACKUP_RETENTION_DAYS must be 0 or more days")
    if config["BACKUP_MAX_ATTEMPTS"] < 1:
        raise ConfigError("BACKUP_MAX_ATTEMPTS must be at least 1")
    validate_protection(config)
    validate_accounts(config)
    validate_security(config)


def validate_accounts(config: Mapping[str, Any]) -> None:
    """Refuse registration, quota and address settings that cannot work."""
    if config["REGISTRATION"] not in REGISTRATION_MODES:
        raise ConfigError(f"REGISTRATION must be one of {', '.join(REGISTRATION_MODES)}")
    public_url = config.get("PUBLIC_URL")
    if public_url and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", public_url):
        raise ConfigError(
            "PUBLIC_URL must be an absolute http(s) URL such as https://files.example.com"
        )
    if (config.get("DEFAULT_QUOTA_BYTES") or 0) < 0:
        raise ConfigError("DEFAULT_QUOTA_BYTES must be a size of 0 or more bytes (or unset)")
    if config["SHARE_MAX_DAYS"] < 1:
        raise ConfigError("SHARE_MAX_DAYS must be 1 or more")
    if config["SHARE_PASSWORD_LIMIT"] < 1:
        raise ConfigError("SHARE_PASSWORD_LIMIT must be 1 or more")


def validate_protection(config: Mapping[str, Any]) -> None:
    """Refuse encryption and Object Lock settings that S3 would reject or that protect nothing."""
    if config["S3_SSE"] not in SSE_MODES:
        raise ConfigError(f"S3_SSE must be one of {', '.join(SSE_MODES)}")
    if config["S3_SSE"] != "aws:kms":
        for name in ("S3_KMS_KEY_ID", "S3_BACKUP_KMS_KEY_ID"):
            if config.get(name):
                raise ConfigError(f"{name} needs S3_SSE=aws:kms")
    elif config.get("S3_KMS_KEY_ID") and config.get("S3_KMS_KEY_ID") == config.get(
        "S3_BACKUP_KMS_KEY_ID"
    ):
        # One key for both buckets would make one key's loss or misuse reach both copies.
        raise ConfigError("S3_BACKUP_KMS_KEY_ID must be a different key from S3_KMS_KEY_ID")
    if config["BACKUP_LOCK_MODE"] not in LOCK_MODES:
        raise ConfigError(f"BACKUP_LOCK_MODE must be one of {', '.join(LOCK_MODES)}")
    if config["BACKUP_LOCK_DAYS"] < 1:
        raise ConfigError("BACKUP_LOCK_DAYS must be at least 1 day")


def validate_security(config: Mapping[str, Any]) -> None:
    """Refuse security settings that would switch a control off or cannot be parsed."""
    if not HASH_METHOD.fullmatch(config["PASSWORD_HASH_METHOD"]):
        raise ConfigError(
            "PASSWORD_HASH_METHOD must be a full Werkzeug method string such as "
            f"{DEFAULT_PASSWORD_HASH_METHOD} or pbkdf2:sha256:600000"
        )
    for name in (
        "LOGIN_ACCOUNT_LIMIT",
        "LOGIN_ADDRESS_LIMIT",
        "LOGIN_ACCOUNT_WIDE_LIMIT",
        "LOGIN_WINDOW_SECONDS",
        "REGISTER_ADDRESS_LIMIT",
        "REGISTER_WINDOW_SECONDS",
        "SESSION_IDLE_MINUTES",
        "SESSION_LIFETIME_HOURS",
    ):
        if config[name] <= 0:
            raise ConfigError(f"{name} must be a positive whole number")
    if config["TOKEN_MAX_DAYS"] is not None and not 1 <= config["TOKEN_MAX_DAYS"] <= 3650:
        raise ConfigError("TOKEN_MAX_DAYS must be 1 to 3650 days (or unset)")
    if config["LOGIN_MAX_DELAY_SECONDS"] < 0:
        raise ConfigError("LOGIN_MAX_DELAY_SECONDS must be 0 (no delay) or more seconds")


def is_development() -> bool:
    """Tell whether the process environment asks for development mode."""
    return os.environ.get("SECURESTORE_ENV", "production").strip().lower() == "development"
