"""Every setting the app, gunicorn and `make run` read: name, default, meaning, how to parse.

This table is the one place settings are declared. `config.settings_from_environ` reads the
environment through it, and `config.document` writes `.env.example` and the table in
`docs/configuration.md` from it (a test keeps both in step).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from securestore.formatting import parse_size

GIB = 1024**3
MIB = 1024**2

# OWASP Password Storage Cheat Sheet: scrypt N=2^15, r=8, p=3 (Werkzeug's default p=1 is short).
DEFAULT_PASSWORD_HASH_METHOD = "scrypt:32768:8:3"  # noqa: S105 -- a method name, no secret
DEFAULT_MAX_UPLOAD_BYTES = 5 * GIB
# securestore/gunicorn_conf.py's default threads per worker: the S3 connection pool is sized
# from the same GUNICORN_THREADS variable, so every thread's parts get a connection.
DEFAULT_GUNICORN_THREADS = 4
# Two parts in flight keep a local SeaweedFS as busy as four did (docs/performance.md), with
# less memory per upload; raise it for a distant S3 where each part waits longer.
DEFAULT_UPLOAD_CONCURRENCY = 2


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable to fix."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def whole_number(name: str, raw: str) -> int:
    """Parse `1_000_000`-style whole numbers, naming the variable when it is not one."""
    try:
        return int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def flag(name: str, raw: str) -> bool:
    """Parse 1/0, true/false, yes/no, on/off."""
    value = raw.strip().lower()
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise ConfigError(f"{name} must be one of 1/0, true/false, yes/no, on/off, got {value!r}")


def size(name: str, raw: str) -> int:
    """A size in bytes, or with a unit: `500MB` (10^6), `10GiB` (2^30)."""
    try:
        return parse_size(raw)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def words(name: str, raw: str) -> list[str]:
    """A comma-separated list; spaces around the items do not count."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def text(name: str, raw: str) -> str:
    """Keep the value as written."""
    return raw


def lower(name: str, raw: str) -> str:
    """A keyword: case and surrounding spaces do not matter."""
    return raw.strip().lower()


def upper(name: str, raw: str) -> str:
    """A log level: case does not matter."""
    return raw.strip().upper()


@dataclass(frozen=True)
class Setting:
    """One environment variable.

    `default` is the value used when the variable is unset or empty (None: no value);
    `shown_default` is how the docs state a default that is computed (`None`: `default`).
    `read_by` says who reads it: the app's config (`app`), gunicorn, or `make run`.
    """

    name: str
    default: str | None
    meaning: str
    parse: Callable[[str, str], Any] = text
    shown_default: str | None = None
    read_by: str = "app"

    def value(self, environ: dict[str, str] | Any) -> Any:
        """Read and check this setting from `environ` (unset or empty: the default)."""
        raw = environ.get(self.name)
        if raw is None or raw.strip() == "":
            raw = self.default
        if raw is None:
            return None
        return self.parse(self.name, raw)

    @property
    def documented_default(self) -> str:
        """The default as the docs state it."""
        if self.shown_default is not None:
            return self.shown_default
        return f"`{self.default}`" if self.default else "unset"


# Werkzeug method strings with every parameter spelled out, so stored hashes can be compared.
HASH_METHOD = re.compile(r"scrypt:\d+:\d+:\d+|pbkdf2:sha256:\d+")
ENVIRONMENTS = ("production", "development")
REGISTRATION_MODES = ("open", "invite", "closed")
DOWNLOAD_MODES = ("stream", "redirect", "accel")
UPLOAD_MODES = ("direct", "stream")
LOCK_MODES = ("off", "governance", "compliance")
SSE_MODES = ("AES256", "aws:kms")

SETTING_GROUPS: dict[str, tuple[Setting, ...]] = {
    "Core": (
    Setting(
        "SECURESTORE_ENV", "production",
        "`development` also loads `instance/local-s3.env` and `instance/secret.env`, which "
        "`make run` writes",
        lower,
    ),
    Setting(
        "SECRET_KEY", None,
        "signs sessions and CSRF tokens: at least 32 random bytes (`secrets.token_hex(32)`); "
        "required outside development (`make run` generates one)",
        shown_default="none (required)",
    ),
    Setting(
        "SECRET_KEY_FALLBACKS", None,
        "earlier keys, comma-separated, still accepted for reading sessions while you rotate "
        "`SECRET_KEY` (docs/security.md)",
        words,
    ),
    Setting(
        "DATABASE_URL", None,
        "any SQLAlchemy URL; `postgresql://user:password@host/db` for PostgreSQL (psycopg 3)",
        shown_default="SQLite `instance/securestore.db`",
    ),
    Setting(
        "DATABASE_POOL_SIZE", None,
        "database connections per worker (and as many more in a burst); a request may hold "
        "two at once (its own and the throttle's or audit's)",
        whole_number, shown_default="2 x `GUNICORN_THREADS` (8)",
    ),
    Setting(
        "SECURESTORE_INSTANCE_PATH", None,
        "absolute path of the instance folder; the systemd unit sets `/var/lib/securestore`",
        shown_default="`instance/` in a checkout", read_by="app (before the rest)",
    ),
    Setting("LOG_LEVEL", "INFO", "level of the `securestore` loggers (logs go to stderr)", upper),
    ),
    "S3": (
    Setting("S3_PRIMARY_BUCKET", "securestore-primary", "bucket for the files"),
    Setting(
        "S3_BACKUP_BUCKET", "securestore-backup",
        "bucket for the backup copies; must differ from the primary",
    ),
    Setting(
        "S3_ENDPOINT_URL", None,
        "an S3-compatible endpoint such as SeaweedFS (`http://127.0.0.1:8333`); unset on AWS",
    ),
    Setting("S3_REGION", None, "the buckets' region", shown_default="boto3's default"),
    Setting(
        "S3_PART_BYTES", str(8 * MIB),
        "multipart part size, 5 MiB to 5 GiB; memory per upload is about `S3_PART_BYTES` x "
        "(`S3_UPLOAD_CONCURRENCY` + 1)",
        whole_number, shown_default="8 MiB (`8388608`)",
    ),
    Setting(
        "S3_UPLOAD_CONCURRENCY", str(DEFAULT_UPLOAD_CONCURRENCY),
        "parts of one upload in flight to S3 at once (more for a distant S3)",
        whole_number,
    ),
    Setting(
        "S3_MAX_POOL_CONNECTIONS", None,
        "boto3 connections per worker, so no thread's upload waits for one",
        whole_number,
        shown_default="`GUNICORN_THREADS` x `S3_UPLOAD_CONCURRENCY` (8)",
    ),
    Setting(
        "S3_SSE", "AES256",
        "encryption at rest asked for on every write and copy: `AES256` (S3-managed keys) or "
        "`aws:kms`; `backup verify` reports objects stored otherwise",
    ),
    Setting(
        "S3_KMS_KEY_ID", None,
        "with `S3_SSE=aws:kms`: the KMS key (id or ARN) of the primary bucket's objects",
        shown_default="unset (the account's `aws/s3` key)",
    ),
    Setting(
        "S3_BACKUP_KMS_KEY_ID", None,
        "with `S3_SSE=aws:kms`: a different KMS key for the backup bucket's objects",
        shown_default="unset (the account's `aws/s3` key)",
    ),
    ),
    "Uploads and downloads": (
    Setting(
        "MAX_UPLOAD_BYTES", str(DEFAULT_MAX_UPLOAD_BYTES),
        "largest upload; 413 above it (the shipped nginx allows the same)",
        whole_number, shown_default="5 GiB (`5368709120`)",
    ),
    Setting(
        "MAX_REQUEST_BYTES", str(MIB),
        "largest body of every other request (forms, JSON); 413 above it, and a multipart body "
        "anywhere but the upload routes answers 415",
        whole_number, shown_default="1 MiB (`1048576`)",
    ),
    Setting(
        "MAX_VERSIONS", "10",
        "earlier contents kept per file when an upload replaces it (each with its backup copy, "
        "counted in the owner's usage); the oldest beyond this are deleted",
        whole_number,
    ),
    Setting(
        "MAX_FILES_PER_REQUEST", "100",
        "files one upload request may carry; the next one stops the request (413, the files "
        "before it are kept)",
        whole_number,
    ),
    Setting(
        "DOWNLOAD_MODE", "stream",
        "`stream` (through the app, with `Range`), `redirect` (302 to a presigned S3 URL) or "
        "`accel` (behind the shipped nginx site only: the app checks the request and nginx "
        "fetches the bytes from S3 with a presigned URL, `X-Accel-Redirect`)",
        lower,
    ),
    Setting(
        "DOWNLOAD_URL_SECONDS", "300",
        "lifetime of a presigned download URL, 1 to 604800 (seven days)",
        whole_number,
    ),
    Setting(
        "UPLOAD_MODE", "direct",
        "what the page's uploader does: `direct` (the browser sends the bytes straight to S3, "
        "resumable) or `stream` (through the app, for an S3 endpoint browsers cannot reach); "
        "the streaming routes answer in both modes",
        lower,
    ),
    Setting(
        "UPLOAD_EXPIRY_HOURS", "24",
        "a direct upload unfinished this long is aborted by `backup sync` (its parts deleted, "
        "its quota released)",
        whole_number,
    ),
    ),
    "Web": (
    Setting(
        "TRUSTED_PROXY_COUNT", "0",
        "reverse proxies whose `X-Forwarded-*` headers are trusted (ProxyFix); `1` behind the "
        "shipped nginx",
        whole_number,
    ),
    Setting(
        "SECURE_COOKIES", None,
        "the site is HTTPS: `Secure` cookies, session cookie `__Host-session`, HSTS (cookies "
        "are always HttpOnly and SameSite=Lax)",
        flag, shown_default="on in production, off in development",
    ),
    ),
    "Accounts": (
        Setting(
            "REGISTRATION", "open",
            "`open` (anyone may register), `invite` (only with an invitation link) or `closed` "
            "(only the CLI and admins create accounts)",
            lower,
        ),
        Setting(
            "PUBLIC_URL", None,
            "the site's address as users reach it (`https://files.example.com`), for the "
            "absolute links the app hands out (invitations, share links)",
            shown_default="the request's host; in development `http://127.0.0.1:$PORT`",
        ),
        Setting(
            "DEFAULT_QUOTA_BYTES", None,
            "storage quota of every account without its own (`users set-quota`): bytes or a "
            "size such as `500MB` or `10GiB`",
            size, shown_default="unset (unlimited)",
        ),
    ),
    "Share links": (
        Setting(
            "SHARES_ENABLED", "1",
            "share links are offered (off: the feature is hidden and every link answers 404)",
            flag,
        ),
        Setting(
            "SHARE_MAX_DAYS", "30",
            "the longest a share link may last, in days (a link lasts 7 days unless its owner "
            "picks another number up to this)",
            whole_number,
        ),
        Setting("SHARE_REQUIRE_PASSWORD", "0", "refuse share links without a password", flag),
        Setting(
            "SHARE_PASSWORD_LIMIT", "10",
            "wrong passwords per share link, and per client address (twice this), per "
            "`LOGIN_WINDOW_SECONDS` before 429; separate from the login counters",
            whole_number,
        ),
    ),
    "Security": (
    Setting(
        "PASSWORD_HASH_METHOD", DEFAULT_PASSWORD_HASH_METHOD,
        "Werkzeug method string with every parameter; older hashes are upgraded at login",
    ),
    Setting(
        "LOGIN_ACCOUNT_LIMIT", "5",
        "failed logins per account from one client address per window before 429 (2FA codes: "
        "per account)",
        whole_number,
    ),
    Setting(
        "LOGIN_ADDRESS_LIMIT", "20",
        "failed logins, codes and API tokens per client address per window before 429",
        whole_number,
    ),
    Setting(
        "LOGIN_ACCOUNT_WIDE_LIMIT", "50",
        "failed logins of one account from all addresses per window past which a right "
        "password alone no longer logs in (a second factor still does)",
        whole_number,
    ),
    Setting(
        "LOGIN_MAX_DELAY_SECONDS", "5",
        "cap of the growing wait (0.1 s x 2^(n-1) after n failures of the account) before "
        "each login attempt; `0` turns it off",
        whole_number,
    ),
    Setting(
        "LOGIN_WINDOW_SECONDS", "900",
        "the throttle window; `Retry-After` says what is left of it",
        whole_number,
    ),
    Setting(
        "REGISTER_ADDRESS_LIMIT", "10",
        "registrations (taken names included) one client address may try per window; 429 "
        "after",
        whole_number,
    ),
    Setting(
        "REGISTER_WINDOW_SECONDS", "3600", "the registration throttle's window", whole_number
    ),
    Setting(
        "TOKEN_MAX_DAYS", None,
        "longest lifetime of an access token in days (1 to 3650); tokens asked for without an "
        "expiry get it",
        whole_number, shown_default="unset (tokens may never expire)",
    ),
    Setting(
        "REDIS_URL", None,
        "keep throttle counters in Redis (`redis://127.0.0.1:6379/0`) instead of the database",
        shown_default="unset (the database)",
    ),
    Setting("REDIS_KEY_PREFIX", "securestore:", "prefix of the throttle keys in Redis"),
    Setting(
        "SESSION_IDLE_MINUTES", "30", "a session idle this long ends", whole_number
    ),
    Setting(
        "SESSION_LIFETIME_HOURS", "12", "any session ends this long after login",
        whole_number,
    ),
    ),
    "Backups": (
    Setting(
        "BACKUP_RETENTION_DAYS", "30",
        "how long a deleted file stays restorable before `backup sync` purges its backup copy; "
        "`0` purges at the next sync",
        whole_number,
    ),
    Setting(
        "BACKUP_MAX_ATTEMPTS", "10",
        "failed copies after which a backup is `failed` (then retried every 6 hours)",
        whole_number,
    ),
    Setting(
        "BACKUP_LOCK_MODE", "off",
        "`governance` or `compliance`: every backup copy is written under S3 Object Lock in that "
        "mode, and start-up refuses a backup bucket without versioning and Object Lock; `off` "
        "(no lock, the app may delete backups)",
        lower,
    ),
    Setting(
        "BACKUP_LOCK_DAYS", "30",
        "with a lock mode: the least time every backup copy stays locked from any moment on "
        "(`backup sync` renews locks before they fall below it)",
        whole_number,
    ),
    ),
    "gunicorn and make run": (
    Setting(
        "GUNICORN_WORKERS", None, "gunicorn worker processes",
        shown_default="2 x CPUs + 1 (`make run`: 2)", read_by="gunicorn",
    ),
    Setting(
        "GUNICORN_THREADS", str(DEFAULT_GUNICORN_THREADS), "threads per gunicorn worker",
        read_by="gunicorn",
    ),
    Setting("GUNICORN_LOG_LEVEL", "info", "gunicorn's own log level", read_by="gunicorn"),
    Setting(
        "GUNICORN_BIND", "127.0.0.1:8000",
        "gunicorn's address when not started by `securestore.socket`", read_by="gunicorn",
    ),
    Setting("PORT", "5000", "the app's port under `make run`", read_by="make run"),
    ),
}  # fmt: skip

SETTINGS = tuple(setting for group in SETTING_GROUPS.values() for setting in group)
BY_NAME = {setting.name: setting for setting in SETTINGS}
