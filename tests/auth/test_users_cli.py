"""The admin commands of `flask --app securestore users`."""

from __future__ import annotations

from flask.testing import FlaskCliRunner

from tests.fixtures.apps import PASSWORD


def test_users_create_and_list(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "create", "Admin", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "Created user admin." in result.output
    listing = runner.invoke(args=["users", "list"])
    assert listing.output.splitlines() == ["admin\t0 files\t0 bytes"]


def test_users_create_refuses_bad_input_with_the_rule(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "create", "x", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "3 to 32 characters" in result.output


def test_set_password_for_unknown_user_fails(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "set-password", "ghost", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "No user named 'ghost'" in result.output
