"""Health endpoints: `/healthz` for load balancers, `/storage/health` (with backup counts) for
operators and monitors."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user

from securestore.health.checks import database_check, detailed_caller, health_report

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Answer 200 when this process can reach the database; never calls S3.

    Cheap enough to probe every few seconds, and an S3 hiccup does not take every instance
    out of a load balancer at once. `/storage/health` checks the buckets too.
    """
    database = database_check()
    healthy = bool(database["ok"])
    body = {"status": "ok" if healthy else "unavailable", "checks": {"database": database}}
    return jsonify(body), 200 if healthy else 503


@bp.get("/storage/health")
def storage_health() -> tuple[Response, int]:
    """Answer 200 when the database and both buckets answer, else 503 saying which failed.

    The machine itself gets which check failed and `backups`, the counts of live files by
    backup state (pending and failed ones have no good second copy yet): information for
    monitoring, not a reason to take the app out of service. Administrators logged in here
    get them too; anyone else gets the status.
    """
    admin = current_user.is_authenticated and current_user.is_admin
    body, healthy = health_report(detailed=admin or detailed_caller(request.remote_addr))
    return jsonify(body), 200 if healthy else 503
