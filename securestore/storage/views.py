"""Health checks: `/healthz` for load balancers, `/storage/health` for operators."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from securestore.storage.health import health_report

bp = Blueprint("storage", __name__, url_prefix="/storage")
# Mounted at the root: load balancers and nginx probe /healthz.
liveness_bp = Blueprint("liveness", __name__)


@liveness_bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Answer 200 when this process can reach the database; never calls S3.

    Cheap enough to probe every few seconds, and an S3 hiccup does not take every instance
    out of a load balancer at once. `/storage/health` checks the buckets too.
    """
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        database = {"ok": False, "error": type(error).__name__}
        return jsonify({"status": "unavailable", "checks": {"database": database}}), 503
    return jsonify({"status": "ok", "checks": {"database": {"ok": True}}}), 200


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Answer 200 when the database and both buckets answer, else 503 saying which failed."""
    body, healthy = health_report()
    return jsonify(body), 200 if healthy else 503
