"""Forms of the auth blueprint; the rules themselves live in `auth.service`."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms import ValidationError as FieldError
from wtforms.validators import DataRequired, EqualTo

from securestore.auth import service
from securestore.errors import ValidationError


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class RegisterForm(FlaskForm):
    username = StringField(
        "Username", validators=[DataRequired()], description=service.USERNAME_RULES
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired()],
        description=f"At least {service.MIN_PASSWORD_LENGTH} characters.",
    )
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
        try:
            service.validate_password(field.data or "")
        except ValidationError as error:
            raise FieldError(error.message) from None
