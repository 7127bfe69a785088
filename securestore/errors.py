"""The domain exception tree, the declaration of what a service raises, and the error handlers.

Services raise these; views never build error responses by hand. A request that wants JSON
(the health endpoint, API clients) gets `{"error": {"code", "message"}}`, a browser gets a page.
Each class sits under the parent whose docstring is true of it, so a caller that catches a
parent catches exactly the failures that parent describes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

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
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from securestore.formatting import human_size

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


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
    """The request itself cannot be used: a value is missing, malformed or out of range."""

    status = 400
    code = "invalid_input"
    message = "The request was not valid."


class AuthenticationError(SecureStoreError):
    """Credentials did not match; the message never says which part was wrong."""

    status = 401
    code = "authentication_failed"
    message = "Wrong username or password."


class TokenError(AuthenticationError):
    """The API request carries no usable token."""

    code = "invalid_token"
    message = "This token is not valid."


class MissingTokenError(TokenError):
    """The API request carries no token at all."""

    code = "unauthorized"
    message = "Send a personal access token as `Authorization: Bearer <token>`."


class ForbiddenError(SecureStoreError):
    """The caller is known but not allowed to do this."""

    status = 403
    code = "forbidden"
    message = "You are not allowed to do that."


class ScopeError(ForbiddenError):
    """The token is valid but its scopes do not allow this operation."""

    code = "insufficient_scope"
    message = "This token does not allow that."


class NotFoundError(SecureStoreError):
    """No such thing for this user; another user's is indistinguishable from a missing one."""

    status = 404
    code = "not_found"
    message = "No such file."


class AccountDisabledError(ForbiddenError):
    """The password was right but an administrator disabled the account."""

    code = "account_disabled"
    message = "This account is disabled. Ask an administrator to enable it again."


class GoneError(SecureStoreError):
    """It existed but is used up for good (an invitation used, expired or withdrawn)."""

    status = 410
    code = "gone"
    message = "This link is no longer valid."


class ConflictError(SecureStoreError):
    """The request clashes with something that exists; changing the request can succeed."""

    status = 409
    code = "conflict"
    message = "That conflicts with something that already exists."


class ObjectExistsError(ConflictError):
    """A conditional write found its key taken (raised by storage, handled by callers)."""

    code = "object_exists"
    message = "A file with that name appeared at the same moment; please try again."


class NamesExhaustedError(ConflictError):
    """Every numbered alternative of a file name is taken."""

    code = "names_exhausted"
    message = "You have too many files with this name; rename this one."


class NameTakenError(ConflictError):
    """A file or folder of that name is already in that folder (one name, one thing)."""

    code = "name_taken"
    message = "Something of that name is already in that folder; pick another name."


class InvalidMoveError(ConflictError):
    """A folder cannot move into itself or into one of its own subfolders."""

    code = "invalid_move"
    message = "A folder cannot be moved into itself or one of its subfolders."


class UploadMismatchError(ConflictError):
    """The parts S3 received do not make the file that was declared; nothing was kept."""

    code = "upload_mismatch"
    message = (
        "The uploaded parts do not add up to the file that was announced (parts missing or a "
        "different size), so the upload was abandoned. Start it again."
    )


class TooLargeError(SecureStoreError):
    """The upload is larger than this server accepts."""

    status = 413
    code = "too_large"
    message = "The upload is larger than this server accepts."


class TooManyFilesError(TooLargeError):
    """An upload request carries more files, or more parts, than one request may."""

    code = "too_many_files"
    message = "This upload holds too many files for one request."


class QuotaExceededError(SecureStoreError):
    """The account's quota has no room for this; nothing was stored."""

    status = 507
    code = "quota_exceeded"
    message = "This upload does not fit in your storage quota."


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


class StorageError(SecureStoreError):
    """The object store failed, or answered with something unusable; nothing was changed."""

    status = 502
    code = "storage_error"
    message = "The file store is not answering right now. Nothing was changed; try again."


class BackupDamagedError(StorageError):
    """The backup copy is missing or does not match the file's recorded size and hash."""

    code = "backup_damaged"
    message = "The backup copy of this file is damaged, so it cannot be restored."


class UnavailableError(SecureStoreError):
    """This cannot be done right now, for a reason that passes; nothing was changed."""

    status = 503
    code = "unavailable"
    message = "This cannot be done right now. Nothing was changed; try again in a few minutes."


class BackupNotReadyError(UnavailableError):
    """Deleting now would leave no copy to restore from."""

    code = "backup_pending"
    message = (
        "This file's backup copy is not made yet, so deleting it now could not be undone. "
        "Nothing was changed; try again in a few minutes."
    )


class DatabaseError(UnavailableError):
    """The database refused a write; what the write stood for was undone."""

    code = "database_error"
    message = "The file could not be recorded. Nothing was kept; please try again."


def raises(*errors: type[SecureStoreError]) -> Callable[[F], F]:
    """Declare the domain errors a service function may raise, its callees' included.

    The API documents each operation's error statuses from these declarations
    (`declared_errors`), so documentation and behaviour cannot drift: under `TESTING`, an
    undeclared domain error escaping the function fails loudly instead of passing through.
    """

    def decorator(function: F) -> F:
        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except SecureStoreError as error:
                if not isinstance(error, errors) and current_app.testing:
                    raise AssertionError(
                        f"{function.__qualname__} raised undeclared {type(error).__name__}"
                    ) from error
                raise

        checked.__dict__["declared_errors"] = errors
        return checked  # type: ignore[return-value]

    return decorator


def declared_errors(function: Callable[..., Any]) -> tuple[type[SecureStoreError], ...]:
    """The errors `function` was declared to raise with `raises` (none when undeclared)."""
    found: tuple[type[SecureStoreError], ...] = getattr(function, "declared_errors", ())
    return found


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

    @app.errorhandler(PoolTimeout)
    def handle_busy_database(error: PoolTimeout) -> Response:
        log.warning("no database connection free on %s %s: %s", request.method, request.path, error)
        busy = UnavailableError("The server is busy right now. Nothing was changed; try again.")
        response = make_response(render_error(busy.status, busy.code, busy.message))
        response.headers["Retry-After"] = "5"
        return response

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
    limit = request.max_content_length or current_app.config["MAX_UPLOAD_BYTES"]
    if limit >= current_app.config["MAX_UPLOAD_BYTES"]:
        return f"The upload is larger than the {human_size(limit)} this server accepts."
    return f"The request is larger than the {human_size(limit)} this address accepts."
