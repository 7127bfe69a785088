"""The OpenAPI document and the Swagger UI page that browses it, with assets served locally."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template

from securestore.api.spec import spec_document

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """Serve the OpenAPI 3.1 document generated from the API's code."""
    return jsonify(spec_document(current_app))


@bp.get("/docs")
def docs() -> str:
    """Browse the API with Swagger UI (vendored under static/, started by a static script)."""
    return render_template("api/docs.html")
