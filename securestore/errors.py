"""The domain exception tree and the one handler that renders it.

Services raise these; views never build error responses by hand. A request that wants JSON
(the health endpoint, API clients) gets `{"error": {"code", "message"}}`, a browser gets a page.
"""

from __future__ import annotations

import logging

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from securestore.formatting import human_size

log = logging.getLogger(__name__)


class SecureStoreError(Exception):
    """Base of every error the app reports to a user."""

    status = 500
    code = "internal_error"
    message = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        # What operators need (an S3 error code, a bucket and key); never shown to users.
        self.detail = detail or self.message

    def headers(self) -> dict[str, str]:
        """Extra response headers this error needs (none by default)."""
        return {}


class ValidationError(SecureStoreError):
    status = 400
    code = "invalid_input"
    message = "The request was not valid."


class NotFoundError(SecureStoreError):
    status = 404
    code = "not_found"
    message = "No such file."


class AuthenticationError(SecureStoreError):
    """Credentials did not match; the message never says which part was wrong."""

    status = 401
    code = "authentication_failed"
    message = "Wrong username or password."


class ThrottledError(SecureStoreError):
    """Too many failures for an account or address: attempts pause for `retry_after` s."""

    status = 429
    code = "throttled"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            "Too many failed attempts: you are being throttled. "
            f"Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ConflictError(SecureStoreError):
    status = 409
    code = "conflict"
    message = "That conflicts with something that already exists."


class TooLargeError(SecureStoreError):
    status = 413
    code = "too_large"
    message = "The upload is larger than this server accepts."


class StorageError(SecureStoreError):
    """The object store failed; the user's data is unchanged."""

    status = 502
    code = "storage_error"
    message = "The file store is not answering right now. Nothing was changed; try again."


class ObjectExistsError(StorageError):
    """A conditional write found the key taken (raised by storage, handled by callers)."""

    status = 409
    code = "object_exists"
    message = "A file with that name appeared at the same moment; please try again."


def wants_json() -> bool:
    """Tell whether the current request is answered in JSON rather than HTML."""
    if request.path.startswith(("/storage/", "/api/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def render_error(status: int, code: str, message: str) -> tuple[Response | str, int]:
    """Answer with the error as JSON or as a page, with the given status."""
    if wants_json():
        return jsonify(error={"code": code, "message": message}), status
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Render domain errors and HTTP errors in one consistent shape."""

    @app.errorhandler(SecureStoreError)
    def handle_domain_error(error: SecureStoreError) -> Response:
        response = make_response(render_error(error.status, error.code, error.message))
        response.headers.update(error.headers())
        return response

    @app.errorhandler(HTTPException)
    def handle_http_error(
        error: HTTPException,
    ) -> tuple[Response | str, int, list[tuple[str, str]]] | HTTPException:
        if error.code is None or error.code < 400:
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        if error.code == 413:
            message = _too_large_message()
        elif isinstance(error, CSRFError):
            message = "This form has expired or did not come from this site. Reload the page."
        else:
            message = _HTTP_MESSAGES.get(error.code, error.description or error.name)
        body, status = render_error(error.code, code, message)
        # Keep what the status needs (Allow on 405, Content-Range on 416), not the HTML type.
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> tuple[Response | str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500, SecureStoreError.code, SecureStoreError.message)


_HTTP_MESSAGES = {
    400: "The request could not be understood. Check the form and try again.",
    401: "Please log in first.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    416: "That part of the file does not exist.",
    429: "Too many attempts. Wait a little and try again.",
}


def _too_large_message() -> str:
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    return f"The upload is larger than the {human_size(limit)} this server accepts."
