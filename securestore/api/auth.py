"""Bearer-token authentication for API views; session cookies are never consulted.

Because only the `Authorization` header authenticates, a browser cannot be tricked into an
API call with the user's cookies, which is why the API blueprint is exempt from CSRF.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from securestore.auth.models import User
from securestore.errors import MissingTokenError, SecureStoreError, declared_errors
from securestore.tokens import service
from securestore.tokens.models import PersonalAccessToken

F = TypeVar("F", bound=Callable[..., Any])
SECURITY_SCHEME = "bearerAuth"
# What any authenticated operation can answer before its view runs (scopes aside).
AUTH_ERRORS: tuple[type[SecureStoreError], ...] = (
    MissingTokenError,
    *declared_errors(service.authenticate_request),
)


def current_token() -> PersonalAccessToken:
    """The token that authenticated this API request."""
    token: PersonalAccessToken = g.api_token
    return token


def current_api_user() -> User:
    """The user the request's token acts for."""
    return current_token().user


def bearer_token() -> str:
    """Return the token of the `Authorization: Bearer` header or raise `MissingTokenError`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingTokenError()
    return token.strip()


def token_required(scope: str | None) -> Callable[[F], F]:
    """Let the view run only for a live token carrying `scope` (`None`: any scope)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = service.authenticate_request(bearer_token(), request.remote_addr)
            if scope is not None:
                service.require_scope(token, scope)
            g.api_token = token
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
