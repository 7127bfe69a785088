"""The one URL converter for row ids, used by every route that takes one.

Ids are 64-bit signed integers on every database: a larger number in a URL can only be a
miss, and would overflow SQLite (or PostgreSQL's bigint) if it reached a query. It becomes
id 0, which no row has, so every route answers it as it answers any missing id: 404.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from securestore.db_types import MAX_ID


class IdConverter(IntegerConverter):
    """`<id:name>`: digits, as an int no larger than a 64-bit row id (0 past it)."""

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ID else 0


def id_parameter_schema(converter: IdConverter) -> dict[str, Any]:
    """How the API document describes an `<id:...>` path parameter."""
    return {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}


def init_app(app: Flask) -> None:
    """Make `<id:...>` available to every blueprint's routes."""
    app.url_map.converters["id"] = IdConverter
