"""The token page's form."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from directory.text import TextForm

EXPIRY_CHOICES = [SelectChoice("30", "In 30 days"), SelectChoice("90", "In 90 days"),
                  SelectChoice("365", "In a year"), SelectChoice("0", "Never")]


class TokenForm(TextForm):
    name = StringField("What it is for", validators=[DataRequired(), Length(max=100)])
    expires_in_days = SelectField("Expires", choices=EXPIRY_CHOICES, default="90")
