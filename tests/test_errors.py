"""The error tree and the declarations of what each service raises."""

from __future__ import annotations

import pytest
from flask import Flask

from securestore import errors
from securestore.errors import NotFoundError, SecureStoreError, ValidationError, raises


@raises(NotFoundError)
def _finds(error: SecureStoreError) -> None:
    raise error


def test_a_declared_error_passes_through(app: Flask) -> None:
    with app.app_context(), pytest.raises(NotFoundError):
        _finds(NotFoundError())
    assert errors.declared_errors(_finds) == (NotFoundError,)


def test_an_undeclared_error_fails_loudly_under_testing(app: Flask) -> None:
    """So the API's documented statuses, derived from declarations, cannot drift."""
    with app.app_context(), pytest.raises(AssertionError, match="undeclared ValidationError"):
        _finds(ValidationError())


@pytest.mark.config(TESTING=False)
def test_an_undeclared_error_passes_through_in_production(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValidationError):
        _finds(ValidationError())


def test_every_error_sits_under_a_parent_with_its_status_family() -> None:
    """A subclass may narrow its parent's meaning, never change its status class."""
    for error in _all(SecureStoreError):
        for parent in error.__mro__[1:]:
            if parent is SecureStoreError or not issubclass(parent, SecureStoreError):
                break
            assert error.status // 100 == parent.status // 100, (error, parent)
        assert error.__doc__, f"{error.__name__} says what it means"


def _all(cls: type[SecureStoreError]) -> list[type[SecureStoreError]]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_all(direct))]
