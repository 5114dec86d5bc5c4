"""Account forms (Flask-WTF: CSRF token on every one).

Forms check the shape of input (present, not too long, an email where one is due); the rules
(password block list, unique emails, who may do what) are the operations' to decide.
"""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    EmailField,
    Field,
    Form,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from directory.accounts.models import MemberRole
from directory.accounts.passwords import MAX_LENGTH, password_problem
from directory.geo.states import STATES
from directory.i18n import INTERFACE_LANGUAGES, time_zone_names
from directory.orgs.models import KIND_LABELS, LANGUAGES, Population
from directory.text import TextForm

EMAIL = [DataRequired(), Email(message="Enter a valid email address."), Length(max=254)]
ROLE_CHOICES = [SelectChoice(role.value, role.label) for role in MemberRole]


def new_password(_form: Form, field: Field) -> None:
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def new_password_fields() -> tuple[PasswordField, PasswordField]:
    return (
        PasswordField("New password", validators=[DataRequired(), new_password]),
        PasswordField("Repeat the new password", validators=[
            DataRequired(), Length(max=MAX_LENGTH),
            EqualTo("password", message="The two passwords differ.")]),
    )


class LoginForm(TextForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("Keep me signed in on this device")


class ButtonForm(TextForm):
    """A form with nothing but its CSRF token: a button that changes something."""


class CodeForm(TextForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


class ForgotPasswordForm(TextForm):
    email = EmailField("Email", validators=EMAIL)


class ResetPasswordForm(TextForm):
    password, confirm = new_password_fields()


class ChangePasswordForm(TextForm):
    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=256)])
    password, confirm = new_password_fields()


class ChangeNameForm(TextForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])


class PreferencesForm(TextForm):
    language = SelectField("Language", choices=[
        SelectChoice("", "As my browser asks"),
        *(SelectChoice(code, name) for code, (name, _locale) in INTERFACE_LANGUAGES.items())])
    time_zone = SelectField("Time zone", choices=[
        SelectChoice("", "My organization's time zone"),
        *(SelectChoice(name, name.replace("_", " ")) for name in sorted(time_zone_names()))],
        validate_choice=False)  # the operation refuses an unknown zone with a clear message


class ChangeEmailForm(TextForm):
    new_email = EmailField("New email address", validators=EMAIL)
    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=256)])


class PasswordConfirmForm(TextForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)])


class AcceptInvitationForm(TextForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    password, confirm = new_password_fields()


class ApplicationForm(TextForm):
    name = StringField("Organization name", validators=[DataRequired(), Length(min=2, max=200)])
    kind = SelectField("Kind", choices=[SelectChoice("", "Choose…"),
                                        *(SelectChoice(kind.value, label)
                                          for kind, label in KIND_LABELS.items())],
                       validators=[DataRequired(message="Choose a kind.")])
    description = TextAreaField("What your organization does",
                                validators=[DataRequired(), Length(max=5000)])
    website = StringField("Website", validators=[Optional(), Length(max=300)])
    email = EmailField("Organization email",
                       validators=[Optional(), Email(message="Enter a valid email address."),
                                   Length(max=254)])
    phone = StringField("Organization phone", validators=[Optional(), Length(max=40)])
    city = StringField("City", validators=[DataRequired(), Length(max=120)])
    state = SelectField("State", choices=[SelectChoice("", "Choose…"),
                                          *(SelectChoice(*item) for item in STATES.items())],
                        validators=[DataRequired(message="Choose a state.")])
    postal_code = StringField("ZIP code", validators=[Optional(), Length(max=10)])
    services = SelectMultipleField("Services", validate_choice=True)
    languages = SelectMultipleField(
        "Languages", choices=[SelectChoice(*item) for item in LANGUAGES.items()], default=["en"])
    populations = SelectMultipleField(
        "Populations served", choices=[SelectChoice(p.value, p.label) for p in Population])
    statement = TextAreaField("Why your organization wants to join",
                              validators=[Optional(), Length(max=2000)])
    admin_name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    admin_email = EmailField("Your work email", validators=EMAIL)
    password, confirm = new_password_fields()
    authorized = BooleanField("I may apply on behalf of this organization",
                              validators=[DataRequired(message="Please confirm this.")])

    def listing(self) -> dict[str, Any]:
        """The listing part, in the shape ListingSchema validates."""
        return {
            "name": self.name.data or "", "kind": self.kind.data,
            "description": self.description.data or "", "website": self.website.data or None,
            "email": self.email.data or None, "phone": self.phone.data or None,
            "services": self.services.data or [], "languages": self.languages.data or [],
            "populations": self.populations.data or [],
            "locations": [{"name": "Main office", "city": (self.city.data or "").strip(),
                           "state": self.state.data,
                           "postal_code": (self.postal_code.data or "").strip()}],
        }


class ReplyForm(TextForm):
    reply = TextAreaField("Your answer", validators=[DataRequired(), Length(max=2000)])


class InviteForm(TextForm):
    email = EmailField("Email", validators=EMAIL)
    role = SelectField("Role", choices=ROLE_CHOICES, default=MemberRole.REFERRER.value)


class RoleForm(TextForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
