"""Forms of the token settings page; the rules themselves live in `tokens.service`."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from securestore.tokens import service

# (days, label); "" means the token never expires.
EXPIRY_CHOICES = [
    SelectChoice("30", "30 days"),
    SelectChoice("90", "90 days"),
    SelectChoice("365", "1 year"),
    SelectChoice("", "Never"),
]


class CreateTokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=service.MAX_NAME_LENGTH)],
        description="What uses it, e.g. “nightly backup on nas”.",
    )
    scopes = SelectMultipleField(
        "Scopes",
        choices=[
            SelectChoice("read", "read: list and download files"),
            SelectChoice("write", "write: upload and delete files"),
        ],
        default=list(service.SCOPES),
        validators=[DataRequired(message="Choose at least one scope.")],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    expires = SelectField("Expires", choices=EXPIRY_CHOICES, default="90")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        longest = current_app.config["TOKEN_MAX_DAYS"]
        if longest:
            # Offer only what the server allows: no "Never", nothing past the maximum.
            allowed = [c for c in EXPIRY_CHOICES if c.value and int(c.value) <= longest]
            self.expires.choices = allowed or [SelectChoice(str(longest), f"{longest} days")]

    @property
    def expires_in_days(self) -> int | None:
        """The chosen lifetime in days, `None` for a token that never expires."""
        return int(self.expires.data) if self.expires.data else None
