"""Health of the database and both buckets, for operators and load balancers."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from securestore.extensions import db, storage

bp = Blueprint("storage", __name__, url_prefix="/storage")


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Answer 200 when the database and both buckets answer, else 503 saying which failed."""
    try:
        db.session.execute(text("SELECT 1"))
        database = {"ok": True}
    except SQLAlchemyError as error:
        database = {"ok": False, "error": type(error).__name__}
    buckets = dict(zip(("primary", "backup"), storage.health(), strict=True))
    checks = {
        "database": database,
        **{role: {"ok": h.ok, "error": h.error} for role, h in buckets.items()},
    }
    healthy = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return jsonify(body), 200 if healthy else 503
