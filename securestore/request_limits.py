"""Request bodies: small everywhere, the upload limit and multipart only where files go.

`MAX_CONTENT_LENGTH` is `MAX_REQUEST_BYTES` (1 MiB) for every route, so an anonymous 30 MiB
POST to the login form is refused (413) from its `Content-Length`, before CSRFProtect would
parse it. Views that take files are marked with `accepts_uploads`: they get
`MAX_UPLOAD_BYTES` and read their bodies as streams (`files.streaming`). Every other route
refuses a multipart body (415) before werkzeug's form parser could spool it to disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from werkzeug.exceptions import UnsupportedMediaType

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "accepts_uploads"


def accepts_uploads(view: F) -> F:
    """Mark a view that reads file bodies: it gets the upload limit and may take multipart."""
    setattr(view, _MARK, True)
    return view


def takes_uploads() -> bool:
    """Tell whether the current request's view reads file bodies."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, _MARK, False))


def limit_body() -> None:
    """Give upload views their limit; refuse multipart bodies everywhere else."""
    if takes_uploads():
        request.max_content_length = current_app.config["MAX_UPLOAD_BYTES"]
    elif request.mimetype == "multipart/form-data":
        raise UnsupportedMediaType("This address takes no file uploads.")


def init_app(app: Flask) -> None:
    """Apply the small limit app-wide; register before CSRFProtect, which reads the form."""
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_REQUEST_BYTES"]
    app.before_request(limit_body)
