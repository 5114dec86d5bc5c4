"""Coordinator forms."""

from __future__ import annotations

from wtforms import RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from directory.text import TextForm

DECISIONS = [SelectChoice("approve", "Approve"),
             SelectChoice("request_info", "Ask for more information"),
             SelectChoice("decline", "Decline")]


class DecisionForm(TextForm):
    decision = RadioField("Decision", choices=DECISIONS,
                          validators=[InputRequired(message="Choose a decision.")])
    message = TextAreaField("Question or reason (sent to the applicant)",
                            validators=[Length(max=2000)])


class StandingForm(TextForm):
    """Suspend or reinstate an organization or a user account."""

    action = SelectField("Action", choices=[SelectChoice("suspend", "Suspend"),
                                            SelectChoice("reinstate", "Reinstate")])
    reason = TextAreaField("Reason", validators=[Length(max=2000)])
