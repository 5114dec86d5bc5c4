"""Coordinator forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from directory.hsds.spreadsheet import MAPPING_LIMIT
from directory.text import TextForm

DECISIONS = [SelectChoice("approve", _l("Approve")),
             SelectChoice("request_info", _l("Ask for more information")),
             SelectChoice("decline", _l("Decline"))]


class DecisionForm(TextForm):
    decision = RadioField(_l("Decision"), choices=DECISIONS,
                          validators=[InputRequired(message=_l("Choose a decision."))])
    message = TextAreaField(_l("Question or reason (sent to the applicant)"),
                            validators=[Length(max=2000)])


class StandingForm(TextForm):
    """Suspend or reinstate an organization or a user account."""

    action = SelectField(_l("Action"), choices=[SelectChoice("suspend", _l("Suspend")),
                                                SelectChoice("reinstate", _l("Reinstate"))])
    reason = TextAreaField(_l("Reason"), validators=[Length(max=2000)])


class AgreementForm(TextForm):
    """Whether a partnership agreement (MOU) is on file with an organization."""

    on_file = RadioField(_l("Is a signed partnership agreement (MOU) on file?"),
                         choices=[SelectChoice("yes", _l("Yes, on file")),
                                  SelectChoice("no", _l("No"))],
                         validators=[InputRequired(
                             message=_l("Say whether an agreement is on file."))])
    signed_on = DateField(_l("Date it was signed"), validators=[Optional()])
    note = TextAreaField(_l("Note (for coordinators only)"), validators=[Length(max=500)])


class SpreadsheetUploadForm(FlaskForm):
    """A spreadsheet to import and the mapping of its columns (a file, or pasted)."""

    spreadsheet = FileField(_l("Spreadsheet (CSV, one organization a row)"),
                            validators=[FileRequired(_l("Choose the CSV file to import."))])
    mapping_file = FileField(_l("Mapping file (TOML or JSON)"))
    mapping = TextAreaField(_l("Or the mapping itself (TOML)"),
                            validators=[Length(max=MAPPING_LIMIT)])


class SpreadsheetConfirmForm(FlaskForm):
    """What the preview showed, sent back to be imported (checked again from scratch)."""

    content = HiddenField(validators=[InputRequired()])
    name = HiddenField(validators=[InputRequired(), Length(max=200)])
    mapping = HiddenField(validators=[InputRequired(), Length(max=MAPPING_LIMIT)])
