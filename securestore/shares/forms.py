"""Forms of the share-link pages; the rules themselves live in `shares.service`."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from securestore.auth.passwords import MAX_PASSWORD_LENGTH
from securestore.shares.service import DEFAULT_DAYS, MAX_DOWNLOADS


class CreateShareForm(FlaskForm):
    # One of the two names what is shared (the service insists on exactly one).
    file_id = HiddenField()
    folder_id = HiddenField()
    expires_in_days = IntegerField(
        "Expires after (days)",
        default=DEFAULT_DAYS,
        validators=[InputRequired(message="Say how many days the link lasts."), NumberRange(min=1)],
    )
    password = PasswordField(
        "Password (optional)",
        validators=[Optional()],
        description="Whoever opens the link must type it. Tell it to them another way.",
        render_kw={"autocomplete": "new-password", "maxlength": MAX_PASSWORD_LENGTH},
    )
    max_downloads = IntegerField(
        "Download limit (optional)",
        validators=[Optional(), NumberRange(min=1, max=MAX_DOWNLOADS)],
        description="After this many downloads the link stops working. Empty: no limit.",
    )


class UnlockForm(FlaskForm):
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter the link's password.")],
        render_kw={"autocomplete": "current-password", "maxlength": MAX_PASSWORD_LENGTH},
    )
