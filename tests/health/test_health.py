"""The /storage/health endpoint reports the database and both buckets."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.fixtures.s3 import BACKUP


def test_health_is_ok_when_everything_answers(client: FlaskClient) -> None:
    response = client.get("/storage/health")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "checks": {
            "database": {"ok": True},
            "primary": {"ok": True, "error": None},
            "backup": {"ok": True, "error": None},
        },
        "backups": {
            "done": 0,
            "pending": 0,
            "failed": 0,
            "verified": 0,
            "deleted": 0,
            "served_from_backup": 0,
        },
    }


def test_health_is_503_when_a_bucket_is_missing(client: FlaskClient, s3: Any) -> None:
    s3.delete_bucket(Bucket=BACKUP)
    response = client.get("/storage/health")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["backup"] == {"ok": False, "error": "404"}
    assert response.json["checks"]["primary"]["ok"] is True


def test_errors_under_storage_answer_json(client: FlaskClient) -> None:
    response = client.get("/storage/nothing-here")
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "There is nothing here."}}


@pytest.mark.seaweedfs
def test_health_reports_both_seaweedfs_buckets(seaweed_app: Flask) -> None:
    response = seaweed_app.test_client().get("/storage/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


@pytest.mark.parametrize("path", ["/storage/health", "/api/v1/health"])
def test_callers_other_than_the_machine_itself_see_the_status_only(
    client: FlaskClient, s3: Any, path: str
) -> None:
    """No global counts nor which part failed for anyone on the internet."""
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    ok = client.get(path)
    assert (ok.status_code, ok.json) == (200, {"status": "ok"})
    s3.delete_bucket(Bucket=BACKUP)
    down = client.get(path)
    assert (down.status_code, down.json) == (503, {"status": "unavailable"})
