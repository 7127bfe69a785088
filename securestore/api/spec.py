"""The flask-smorest `Api` as SecureStore uses it: our error shape, our handlers, no CDN docs.

flask-smorest would register an app-wide `HTTPException` handler answering its own error
shape; the app's handlers (`errors.py`) already answer `{"error": {"code", "message"}}` under
/api/, so this subclass only documents that shape and lists every error status explicitly.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

from securestore.api.auth import SECURITY_SCHEME
from securestore.api.schemas import ErrorSchema
from securestore.routing import IdConverter, id_parameter_schema

TITLE = "SecureStore API"
VERSION = "1"
OPENAPI_VERSION = "3.1.0"
DESCRIPTION = (
    "Files of the user a personal access token acts for. Create tokens on the settings page or "
    "with `flask --app securestore tokens create`; send them as `Authorization: Bearer <token>`."
)


class SecureStoreApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: each operation lists the statuses it can answer, so
    # schemathesis's status_code_conformance check means something.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        """Keep the app's own handlers (see module docstring)."""


def create_api(app: Flask) -> SecureStoreApi:
    """Build this app's API extension: spec metadata and the bearer security scheme."""
    api = SecureStoreApi(
        app,
        spec_kwargs={
            "title": TITLE,
            "version": VERSION,
            "openapi_version": OPENAPI_VERSION,
            "info": {"description": DESCRIPTION},
            "security": [{SECURITY_SCHEME: []}],
        },
    )
    api.register_converter(IdConverter, id_parameter_schema)
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "A personal access token (sst_...)."},
    )
    return api


def spec_document(app: Flask) -> dict[str, Any]:
    """Return the app's OpenAPI document as a dict."""
    api: SecureStoreApi = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    document: dict[str, Any] = api.spec.to_dict()
    return document
