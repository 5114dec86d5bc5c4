"""The token page's form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from directory.text import TextForm

EXPIRY_CHOICES = [SelectChoice("30", _l("In 30 days")), SelectChoice("90", _l("In 90 days")),
                  SelectChoice("365", _l("In a year")), SelectChoice("0", _l("Never"))]


class TokenForm(TextForm):
    name = StringField(_l("What it is for"), validators=[DataRequired(), Length(max=100)])
    expires_in_days = SelectField(_l("Expires"), choices=EXPIRY_CHOICES, default="90")
