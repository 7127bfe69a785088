"""The operators' commands: `flask --app securestore users ...` and `... invites ...`."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from securestore.auth.service import find_user
from tests.fixtures.apps import PASSWORD


def invoke(runner: FlaskCliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == code, result.output
    return result.output


def listed(runner: FlaskCliRunner) -> list[list[str]]:
    return [line.split("\t") for line in invoke(runner, "users", "list").splitlines()]


def test_users_create_with_admin_and_list_role_state_usage_and_quota(
    runner: FlaskCliRunner,
) -> None:
    assert "Created user admin (administrator)." in invoke(
        runner, "users", "create", "Admin", "--admin", "--password", PASSWORD
    )
    assert "Created user bob." in invoke(runner, "users", "create", "bob", "--password", PASSWORD)
    assert listed(runner) == [
        ["admin", "0 files", "0 bytes", "admin", "active", "quota unlimited"],
        ["bob", "0 files", "0 bytes", "user", "active", "quota unlimited"],
    ]


def test_users_create_refuses_bad_input_with_the_rule(runner: FlaskCliRunner) -> None:
    assert "3 to 32 characters" in invoke(
        runner, "users", "create", "x", "--password", PASSWORD, code=1
    )


def test_set_password_for_unknown_user_fails(runner: FlaskCliRunner) -> None:
    output = invoke(runner, "users", "set-password", "ghost", "--password", PASSWORD, code=1)
    assert "No user named 'ghost'" in output


def test_promote_and_demote_but_never_the_last_admin(runner: FlaskCliRunner) -> None:
    invoke(runner, "users", "create", "root", "--admin", "--password", PASSWORD)
    invoke(runner, "users", "create", "bob", "--password", PASSWORD)
    assert "last administrator" in invoke(runner, "users", "demote", "root", code=1)
    assert "last administrator" in invoke(runner, "users", "disable", "root", code=1)
    assert "last administrator" in invoke(runner, "users", "delete", "root", "--yes", code=1)
    assert "bob is an administrator." in invoke(runner, "users", "promote", "bob")
    assert "root is no longer an administrator." in invoke(runner, "users", "demote", "root")
    assert [row[3] for row in listed(runner)] == ["admin", "user"]


@pytest.mark.config(DEFAULT_QUOTA_BYTES=10 * 1024**3)
def test_set_quota_takes_units_none_and_default(app: Flask, runner: FlaskCliRunner) -> None:
    invoke(runner, "users", "create", "bob", "--password", PASSWORD)
    assert listed(runner)[0][5] == "quota 10.0 GiB"
    assert "Quota of bob: 476.8 MiB." in invoke(runner, "users", "set-quota", "bob", "500MB")
    with app.app_context():
        assert find_user("bob").quota_bytes == 500_000_000  # type: ignore[union-attr]
    assert "unlimited" in invoke(runner, "users", "set-quota", "bob", "none")
    assert listed(runner)[0][5] == "quota unlimited"
    assert "(the default)" in invoke(runner, "users", "set-quota", "bob", "default")
    assert listed(runner)[0][5] == "quota 10.0 GiB"
    assert "is not a size" in invoke(runner, "users", "set-quota", "bob", "lots", code=1)


def test_set_max_upload_takes_a_size_or_none(app: Flask, runner: FlaskCliRunner) -> None:
    invoke(runner, "users", "create", "bob", "--password", PASSWORD)
    assert "1.0 MiB" in invoke(runner, "users", "set-max-upload", "bob", "1MiB")
    with app.app_context():
        assert find_user("bob").max_upload_bytes == 1024**2  # type: ignore[union-attr]
    assert "the server's limit" in invoke(runner, "users", "set-max-upload", "bob", "none")


def test_disable_and_enable_show_in_the_list(runner: FlaskCliRunner) -> None:
    invoke(runner, "users", "create", "bob", "--password", PASSWORD)
    assert "bob is disabled." in invoke(runner, "users", "disable", "bob")
    assert listed(runner)[0][4] == "disabled"
    assert "bob is enabled." in invoke(runner, "users", "enable", "bob")
    assert listed(runner)[0][4] == "active"


def test_delete_needs_yes(runner: FlaskCliRunner) -> None:
    invoke(runner, "users", "create", "bob", "--password", PASSWORD)
    assert "--yes" in invoke(runner, "users", "delete", "bob", code=2)
    assert "Deleted bob." in invoke(runner, "users", "delete", "bob", "--yes")
    assert listed(runner)[0][4] == "deleted"
    assert "bob is deleted" in invoke(runner, "users", "disable", "bob", code=1)


@pytest.mark.config(PUBLIC_URL="https://files.example.com")
def test_invites_create_prints_the_absolute_url_alone_on_the_last_line(
    runner: FlaskCliRunner,
) -> None:
    output = invoke(runner, "invites", "create", "--days", "3", "--note", "for  Carol")
    url = output.splitlines()[-1]
    assert url.startswith("https://files.example.com/auth/invite/")
    assert len(url.rsplit("/", 1)[1]) >= 43  # 32 random bytes, base64url
    (line,) = invoke(runner, "invites", "list").splitlines()
    invitation_id, _, note = line.split("\t")
    assert note == "for Carol"
    assert "revoked" in invoke(runner, "invites", "revoke", invitation_id)
    assert invoke(runner, "invites", "list") == ""


@pytest.mark.parametrize("days", ["0", "366"])
def test_invites_last_1_to_365_days(runner: FlaskCliRunner, days: str) -> None:
    assert "1<=x<=365" in invoke(runner, "invites", "create", "--days", days, code=2)


def test_invites_from_the_cli_need_public_url_outside_development(
    runner: FlaskCliRunner,
) -> None:
    assert "Set PUBLIC_URL" in invoke(runner, "invites", "create", code=1)
    assert invoke(runner, "invites", "list") == ""  # nothing stored that nobody could be sent
