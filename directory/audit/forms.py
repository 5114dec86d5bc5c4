"""The audit log's filter form: a GET form, so no CSRF token (it changes nothing)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from directory.text import TextForm

ANY_ACTION = _l("Any action")


class AuditFilterForm(TextForm):
    class Meta:
        csrf = False

    # Choices are set per request (operations.action_choices): known and recorded actions.
    action = SelectField(_l("Action"), default="", choices=[SelectChoice("", ANY_ACTION)])
    actor = StringField(_l("Actor email"), validators=[Optional(), Length(max=254)])
    organization = StringField(_l("Organization"), validators=[Optional(), Length(max=200)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=45)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])
