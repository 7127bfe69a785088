"""Forms of the auth blueprint; the rules themselves live in `auth.service` and `passwords`."""

from __future__ import annotations

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms import ValidationError as FieldError
from wtforms.validators import DataRequired, EqualTo

from securestore.auth import service
from securestore.auth.passwords import MIN_PASSWORD_LENGTH, validate_password
from securestore.errors import ValidationError

PASSWORD_HELP = (
    f"At least {MIN_PASSWORD_LENGTH} characters, any you like; a long phrase is good. "
    "Common passwords and your username are refused."
)


def _check_password(password: str | None, username: str | None) -> None:
    try:
        validate_password(password or "", username)
    except ValidationError as error:
        raise FieldError(error.message) from None


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class RegisterForm(FlaskForm):
    username = StringField(
        "Username", validators=[DataRequired()], description=service.USERNAME_RULES
    )
    password = PasswordField("Password", validators=[DataRequired()], description=PASSWORD_HELP)
    confirm_password = PasswordField(
        "Confirm password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )

    def validate_username(self, field: StringField) -> None:
        try:
            service.validate_username(field.data or "")
        except ValidationError as error:
            raise FieldError(error.message) from None

    def validate_password(self, field: PasswordField) -> None:
        _check_password(field.data, self.username.data)


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired()], description=PASSWORD_HELP
    )
    confirm_new_password = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired(),
            EqualTo("new_password", message="The new passwords do not match."),
        ],
    )
    revoke_tokens = BooleanField(
        "Also revoke my access tokens",
        default=True,
        description="Scripts using them get 401 until you give them new tokens.",
    )

    def validate_new_password(self, field: PasswordField) -> None:
        _check_password(field.data, current_user.username)


class CodeForm(FlaskForm):
    """A TOTP code (or, at login, a recovery code)."""

    code = StringField("Code", validators=[DataRequired()])


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()])


class DeleteAccountForm(FlaskForm):
    """Delete my account: the password again, and a code when two-factor login is on."""

    password = PasswordField("Password", validators=[DataRequired()])
    code = StringField("Code from your authenticator app (or a recovery code)")
