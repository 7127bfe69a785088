"""Health of the database and both buckets, shared by /healthz, /storage/health and the API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from securestore.backups import service as backups
from securestore.extensions import db, storage


def health_report() -> tuple[dict[str, Any], bool]:
    """Return `{"status", "checks", "backups"}` and whether everything answered.

    `backups` (counts by backup state) is null when the database does not answer.
    """
    checks: dict[str, dict[str, bool | str | None]] = {"database": database_check()}
    for role, bucket in zip(("primary", "backup"), storage.health(), strict=True):
        checks[role] = {"ok": bucket.ok, "error": bucket.error}
    healthy = all(check["ok"] for check in checks.values())
    counts = asdict(backups.counts()) if checks["database"]["ok"] else None
    return {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        "backups": counts,
    }, healthy


def database_check() -> dict[str, bool | str | None]:
    """Run `SELECT 1`; `{"ok": False, "error": <exception class>}` when it fails."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}
