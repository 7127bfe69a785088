"""Health of the database and both buckets, shared by /healthz, /storage/health and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from securestore.extensions import db, storage


def health_report() -> tuple[dict[str, Any], bool]:
    """Return `{"status", "checks"}` and whether everything answered."""
    checks: dict[str, dict[str, bool | str | None]] = {"database": database_check()}
    for role, bucket in zip(("primary", "backup"), storage.health(), strict=True):
        checks[role] = {"ok": bucket.ok, "error": bucket.error}
    healthy = all(check["ok"] for check in checks.values())
    return {"status": "ok" if healthy else "unavailable", "checks": checks}, healthy


def database_check() -> dict[str, bool | str | None]:
    """Run `SELECT 1`; `{"ok": False, "error": <exception class>}` when it fails."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}
