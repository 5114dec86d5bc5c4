"""Coordinator forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from directory.hsds.spreadsheet import MAPPING_LIMIT
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


class AgreementForm(TextForm):
    """Whether a partnership agreement (MOU) is on file with an organization."""

    on_file = RadioField("Is a signed partnership agreement (MOU) on file?",
                         choices=[SelectChoice("yes", "Yes, on file"), SelectChoice("no", "No")],
                         validators=[InputRequired(message="Say whether an agreement is on "
                                                           "file.")])
    signed_on = DateField("Date it was signed", validators=[Optional()])
    note = TextAreaField("Note (for coordinators only)", validators=[Length(max=500)])


class SpreadsheetUploadForm(FlaskForm):
    """A spreadsheet to import and the mapping of its columns (a file, or pasted)."""

    spreadsheet = FileField("Spreadsheet (CSV, one organization a row)",
                            validators=[FileRequired("Choose the CSV file to import.")])
    mapping_file = FileField("Mapping file (TOML or JSON)")
    mapping = TextAreaField("Or the mapping itself (TOML)",
                            validators=[Length(max=MAPPING_LIMIT)])


class SpreadsheetConfirmForm(FlaskForm):
    """What the preview showed, sent back to be imported (checked again from scratch)."""

    content = HiddenField(validators=[InputRequired()])
    name = HiddenField(validators=[InputRequired(), Length(max=200)])
    mapping = HiddenField(validators=[InputRequired(), Length(max=MAPPING_LIMIT)])
