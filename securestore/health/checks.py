"""Health of the database and both buckets, shared by /healthz, /storage/health and the API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from securestore.backups import service as backups
from securestore.extensions import db, storage

LOOPBACK = {"127.0.0.1", "::1"}


def health_report(*, detailed: bool) -> tuple[dict[str, Any], bool]:
    """Return `{"status", "checks", "backups"}` and whether everything answered.

    Without `detailed` the body is `{"status"}` alone: which part failed and how many files
    the store holds are for operators (`detailed_caller`), not for anyone on the internet.
    `backups` (counts by backup state) is null when the database does not answer.
    """
    checks: dict[str, dict[str, bool | str | None]] = {"database": database_check()}
    for role, bucket in zip(("primary", "backup"), storage.health(), strict=True):
        checks[role] = {"ok": bucket.ok, "error": bucket.error}
    healthy = all(check["ok"] for check in checks.values())
    status = "ok" if healthy else "unavailable"
    if not detailed:
        return {"status": status}, healthy
    counts = asdict(backups.counts()) if checks["database"]["ok"] else None
    return {
        "status": status,
        "checks": checks,
        "backups": counts,
    }, healthy


def detailed_caller(address: str | None) -> bool:
    """Whether the caller may see the details: the machine itself (a monitor on the host,
    `curl` on the box). Behind a proxy this needs the right `TRUSTED_PROXY_COUNT`, or every
    request would come from the proxy's loopback address."""
    return address in LOOPBACK


def database_check() -> dict[str, bool | str | None]:
    """Run `SELECT 1`; `{"ok": False, "error": <exception class>}` when it fails."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}
