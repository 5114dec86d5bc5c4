"""Account forms (Flask-WTF: CSRF token on every one).

Forms check the shape of input (present, not too long, an email where one is due); the rules
(password block list, unique emails, who may do what) are the operations' to decide.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
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
from directory.orgs.models import (
    TRANSLATED_KIND_LABELS,
    TRANSLATED_LANGUAGES,
    TRANSLATED_POPULATION_LABELS,
)
from directory.text import TextForm

EMAIL = [DataRequired(), Email(message=_l("Enter a valid email address.")), Length(max=254)]
ROLE_CHOICES = [SelectChoice(role.value, role.label) for role in MemberRole]


def new_password(_form: Form, field: Field) -> None:
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def new_password_fields() -> tuple[PasswordField, PasswordField]:
    return (
        PasswordField(_l("New password"), validators=[DataRequired(), new_password]),
        PasswordField(_l("Repeat the new password"), validators=[
            DataRequired(), Length(max=MAX_LENGTH),
            EqualTo("password", message=_l("The two passwords differ."))]),
    )


class LoginForm(TextForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    remember = BooleanField(_l("Keep me signed in on this device"))


class ButtonForm(TextForm):
    """A form with nothing but its CSRF token: a button that changes something."""


class CodeForm(TextForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])


class ForgotPasswordForm(TextForm):
    email = EmailField(_l("Email"), validators=EMAIL)


class ResetPasswordForm(TextForm):
    password, confirm = new_password_fields()


class ChangePasswordForm(TextForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(), Length(max=256)])
    password, confirm = new_password_fields()


class ChangeNameForm(TextForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])


class PreferencesForm(TextForm):
    language = SelectField(_l("Language"), choices=[
        SelectChoice("", _l("As my browser asks")),
        *(SelectChoice(code, name) for code, (name, _locale) in INTERFACE_LANGUAGES.items())])
    time_zone = SelectField(_l("Time zone"), choices=[
        SelectChoice("", _l("My organization's time zone")),
        *(SelectChoice(name, name.replace("_", " ")) for name in sorted(time_zone_names()))],
        validate_choice=False)  # the operation refuses an unknown zone with a clear message


class ChangeEmailForm(TextForm):
    new_email = EmailField(_l("New email address"), validators=EMAIL)
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(), Length(max=256)])


class PasswordConfirmForm(TextForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])


class AcceptInvitationForm(TextForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    password, confirm = new_password_fields()


class ApplicationForm(TextForm):
    name = StringField(_l("Organization name"), validators=[DataRequired(), Length(min=2, max=200)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice("", _l("Choose…")),
                                        *(SelectChoice(kind.value, label)
                                          for kind, label in TRANSLATED_KIND_LABELS.items())],
                       validators=[DataRequired(message=_l("Choose a kind."))])
    description = TextAreaField(_l("What your organization does"),
                                validators=[DataRequired(), Length(max=5000)])
    website = StringField(_l("Website"), validators=[Optional(), Length(max=300)])
    email = EmailField(_l("Organization email"),
                       validators=[Optional(), Email(message=_l("Enter a valid email address.")),
                                   Length(max=254)])
    phone = StringField(_l("Organization phone"), validators=[Optional(), Length(max=40)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=120)])
    state = SelectField(_l("State"), choices=[SelectChoice("", _l("Choose…")),
                                          *(SelectChoice(*item) for item in STATES.items())],
                        validators=[DataRequired(message=_l("Choose a state."))])
    postal_code = StringField(_l("ZIP code"), validators=[Optional(), Length(max=10)])
    services = SelectMultipleField(_l("Services"), validate_choice=True)
    languages = SelectMultipleField(
        _l("Languages"), choices=[SelectChoice(*item) for item in TRANSLATED_LANGUAGES.items()],
        default=["en"])
    populations = SelectMultipleField(
        _l("Populations served"),
        choices=[SelectChoice(population.value, label)
                 for population, label in TRANSLATED_POPULATION_LABELS.items()])
    statement = TextAreaField(_l("Why your organization wants to join"),
                              validators=[Optional(), Length(max=2000)])
    admin_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    admin_email = EmailField(_l("Your work email"), validators=EMAIL)
    password, confirm = new_password_fields()
    authorized = BooleanField(_l("I may apply on behalf of this organization"),
                              validators=[DataRequired(message=_l("Please confirm this."))])

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
    reply = TextAreaField(_l("Your answer"), validators=[DataRequired(), Length(max=2000)])


class InviteForm(TextForm):
    email = EmailField(_l("Email"), validators=EMAIL)
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=MemberRole.REFERRER.value)


class RoleForm(TextForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
