"""URLs: the one converter for row ids, and the absolute links the app hands out.

Ids are 64-bit signed integers on every database: a larger number in a URL can only be a
miss, and would overflow SQLite (or PostgreSQL's bigint) if it reached a query. It becomes
id 0, which no row has, so every route answers it as it answers any missing id: 404.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context, request
from werkzeug.routing import IntegerConverter

from securestore.db_types import MAX_ID
from securestore.errors import ValidationError, raises


class IdConverter(IntegerConverter):
    """`<id:name>`: digits, as an int no larger than a 64-bit row id (0 past it)."""

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ID else 0


def id_parameter_schema(converter: IdConverter) -> dict[str, Any]:
    """How the API document describes an `<id:...>` path parameter."""
    return {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}


@raises(ValidationError)
def absolute_url(endpoint: str, **values: Any) -> str:
    """An absolute link to `endpoint` for someone else to open (an invitation, a share).

    It starts with `PUBLIC_URL`, the address users reach the site at; without it, the
    request's own host (behind the shipped nginx, the one the client asked for). From the CLI
    there is no request, so `PUBLIC_URL` must be set (`ValidationError`).
    """
    path = current_app.url_map.bind("").build(endpoint, values)
    base: str | None = current_app.config["PUBLIC_URL"]
    if not base:
        if not has_request_context():
            raise ValidationError(
                "Set PUBLIC_URL to the address users reach this server at"
                " (https://files.example.com) to hand out links from the command line."
            )
        base = request.host_url
    return base.rstrip("/") + path


def init_app(app: Flask) -> None:
    """Make `<id:...>` available to every blueprint's routes."""
    app.url_map.converters["id"] = IdConverter
