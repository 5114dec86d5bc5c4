"""The token page's form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

EXPIRY_CHOICES = [SelectChoice("30", "In 30 days"), SelectChoice("90", "In 90 days"),
                  SelectChoice("365", "In a year"), SelectChoice("0", "Never")]


class TokenForm(FlaskForm):
    name = StringField("What it is for", validators=[DataRequired(), Length(max=100)])
    expires_in_days = SelectField("Expires", choices=EXPIRY_CHOICES, default="90")
