"""The audit log's filter form: a GET form, so no CSRF token (it changes nothing)."""

from __future__ import annotations

from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from directory.text import TextForm


class AuditFilterForm(TextForm):
    class Meta:
        csrf = False

    # Choices are set per request (operations.action_choices): known and recorded actions.
    action = SelectField("Action", default="", choices=[SelectChoice("", "Any action")])
    actor = StringField("Actor email", validators=[Optional(), Length(max=254)])
    organization = StringField("Organization", validators=[Optional(), Length(max=200)])
    address = StringField("Address", validators=[Optional(), Length(max=45)])
    since = DateField("From", validators=[Optional()])
    until = DateField("Until", validators=[Optional()])
