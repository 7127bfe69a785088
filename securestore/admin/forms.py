"""Forms of the admin page; the rules live in `accounts.service` and `auth.invitations`."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, NumberRange, Optional

from securestore.auth.forms import PASSWORD_HELP
from securestore.auth.invitations import MAX_DAYS, MAX_NOTE


class CreateAccountForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()], description=PASSWORD_HELP)
    admin = BooleanField("Administrator")


class QuotaForm(FlaskForm):
    """`quota`: a size (500MB, 10GiB), `none` for unlimited, empty for the default."""

    quota = StringField("Quota", validators=[Optional()])


class InvitationForm(FlaskForm):
    days = IntegerField(
        "Valid for (days)", default=7, validators=[DataRequired(), NumberRange(1, MAX_DAYS)]
    )
    note = StringField(
        "Note (who it is for)", validators=[Optional()], description=f"Up to {MAX_NOTE} characters."
    )


class DeleteAccountForm(FlaskForm):
    """The administrator types the account's name to confirm."""

    confirm = StringField("Type the username to confirm", validators=[DataRequired()])
