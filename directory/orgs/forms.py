"""The listing edit pages' forms. They parse and render; ``ListingChangesSchema`` validates,
exactly as for the API, so the rules live in one place."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from directory.geo.states import STATES
from directory.orgs.models import (
    TRANSLATED_KIND_LABELS,
    TRANSLATED_LANGUAGES,
    TRANSLATED_POPULATION_LABELS,
    Location,
)
from directory.orgs.schemas import WEEKDAYS
from directory.text import TextForm

DAY_NAMES = dict(zip(WEEKDAYS, (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"),
                                _l("Friday"), _l("Saturday"), _l("Sunday")), strict=True))
EMPTY_CONTACT_ROWS = 2
_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
# "to" and "a": the word between two dates in each interface language ("%(first)s to %(last)s").
_CLOSURE = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})(?:\s*(?:to|a|–|\.\.)\s*(\d{4}-\d{2}-\d{2}))?\s*(.*?)\s*$")


class ContactForm(Form):
    name = StringField(_l("Name"))
    title = StringField(_l("Title"))
    email = StringField(_l("Email"))
    phone = StringField(_l("Phone"))


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class ListingForm(TextForm):
    name = StringField(_l("Name"))
    kind = SelectField(_l("Kind of organization"), choices=[
        SelectChoice(kind.value, label) for kind, label in TRANSLATED_KIND_LABELS.items()])
    description = TextAreaField(_l("Description"))
    website = StringField(_l("Website"))
    email = StringField(_l("Email"))
    phone = StringField(_l("Phone"))
    contacts = FieldList(FormField(ContactForm), min_entries=1)
    languages = SelectMultipleField(_l("Languages"), choices=[
        SelectChoice(code, label) for code, label in TRANSLATED_LANGUAGES.items()])
    populations = SelectMultipleField(_l("Populations served"), choices=[
        SelectChoice(population.value, label)
        for population, label in TRANSLATED_POPULATION_LABELS.items()])
    min_age = IntegerField(_l("Youngest age served"), validators=[Optional()])
    max_age = IntegerField(_l("Oldest age served"), validators=[Optional()])
    eligibility_note = TextAreaField(_l("Eligibility"))
    services = SelectMultipleField(_l("Services"), choices=[])
    accepting_referrals = BooleanField(_l("Accepting referrals"))
    capacity_note = StringField(_l("Capacity now"))

    def changes(self, *, with_name_and_kind: bool) -> dict[str, Any]:
        """The form as ListingChangesSchema loads it."""
        data: dict[str, Any] = {
            "description": self.description.data or "",
            "website": _blank_to_none(self.website.data),
            "email": _blank_to_none(self.email.data),
            "phone": _blank_to_none(self.phone.data),
            "languages": self.languages.data or [],
            "populations": self.populations.data or [],
            "min_age": self.min_age.data, "max_age": self.max_age.data,
            "eligibility_note": self.eligibility_note.data or "",
            "services": self.services.data or [],
            "accepting_referrals": bool(self.accepting_referrals.data),
            "capacity_note": (self.capacity_note.data or "").strip(),
            "contacts": [
                {"name": (row.form.name.data or "").strip(),
                 "title": (row.form.title.data or "").strip(),
                 "email": _blank_to_none(row.form.email.data),
                 "phone": _blank_to_none(row.form.phone.data)}
                for row in self.contacts
                if any((getattr(row.form, name).data or "").strip()
                       for name in ("name", "title", "email", "phone"))],
        }
        if with_name_and_kind:
            data["name"] = (self.name.data or "").strip()
            data["kind"] = self.kind.data
        return data

    def show_errors(self, messages: dict[str, Any]) -> None:
        """Put the schema's (or the operation's) messages on the fields they are about."""
        for name, problem in messages.items():
            if name == "contacts" and isinstance(problem, dict):
                kept = [row for row in self.contacts
                        if any((getattr(row.form, key).data or "").strip()
                               for key in ("name", "title", "email", "phone"))]
                for index, row_errors in problem.items():
                    if isinstance(index, int) and index < len(kept):
                        for key, text in row_errors.items():
                            getattr(kept[index].form, key).errors = list(text)
            elif name in self._fields:
                self[name].errors = _messages(problem)


class LocationForm(TextForm):
    name = StringField(_l("Name (shown to partners unless confidential)"))
    address = StringField(_l("Street address"))
    city = StringField(_l("City"))
    state = SelectField(_l("State"), choices=[SelectChoice("", _l("Choose…")), *(
        SelectChoice(code, name) for code, name in sorted(STATES.items()))])
    postal_code = StringField(_l("ZIP code"))
    latitude = StringField(_l("Latitude"))
    longitude = StringField(_l("Longitude"))
    confidential = BooleanField(_l("Confidential (a shelter or safe house): partners see the "
                                   "city only"))
    open_24_7 = BooleanField(_l("Open 24 hours, 7 days"))
    mon = StringField(DAY_NAMES["mon"])
    tue = StringField(DAY_NAMES["tue"])
    wed = StringField(DAY_NAMES["wed"])
    thu = StringField(DAY_NAMES["thu"])
    fri = StringField(DAY_NAMES["fri"])
    sat = StringField(DAY_NAMES["sat"])
    sun = StringField(DAY_NAMES["sun"])
    closures = TextAreaField(_l("Closed on (one a line)"))

    def fill_from(self, location: Location) -> None:
        lat, lon = location.true_point
        self.name.data, self.address.data = location.name, location.address
        self.city.data, self.state.data = location.city, location.state
        self.postal_code.data = location.postal_code
        self.latitude.data, self.longitude.data = f"{lat:.6f}", f"{lon:.6f}"
        self.confidential.data, self.open_24_7.data = location.confidential, location.open_24_7
        for index, day in enumerate(WEEKDAYS):
            self[day].data = ", ".join(f"{h.opens:%H:%M}-{h.closes:%H:%M}"
                                       for h in location.hours if h.weekday == index)
        self.closures.data = "\n".join(
            (_("%(first)s to %(last)s", first=c.starts_on.isoformat(), last=c.ends_on.isoformat())
             if c.ends_on != c.starts_on else c.starts_on.isoformat())
            + (f" {c.note}" if c.note else "") for c in location.closures)

    def data_for_schema(self) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The form as LocationSchema loads it, and the messages for what cannot be read."""
        problems: dict[str, list[str]] = {}
        hours: list[dict[str, Any]] = []
        for day in WEEKDAYS:
            text = (self[day].data or "").strip()
            if not text or text.lower() in {"closed", _("closed").lower()}:
                continue
            for part in text.split(","):
                match = _INTERVAL.match(part)
                if match is None:
                    problems[day] = [_("Write times as 09:00-17:00, several separated by "
                                       "commas, or leave it empty for closed.")]
                    break
                hours.append({"days": [day], "opens": match[1].zfill(5),
                              "closes": match[2].zfill(5)})
        closures: list[dict[str, Any]] = []
        for line in (self.closures.data or "").splitlines():
            if not line.strip():
                continue
            match = _CLOSURE.match(line)
            if match is None:
                problems["closures"] = [_("Cannot read '%(line)s': write 2026-12-25 Christmas, "
                                          "or 2026-12-24 to 2026-12-26 Holidays.",
                                          line=line.strip())]
                continue
            closures.append({"starts_on": match[1], "ends_on": match[2] or match[1],
                             "note": match[3]})
        data: dict[str, Any] = {
            "name": (self.name.data or "").strip(), "address": (self.address.data or "").strip(),
            "city": (self.city.data or "").strip(), "state": self.state.data or "",
            "postal_code": (self.postal_code.data or "").strip(),
            "confidential": bool(self.confidential.data),
            "open_24_7": bool(self.open_24_7.data), "hours": hours, "closures": closures,
        }
        for name in ("latitude", "longitude"):
            text = (self[name].data or "").strip()
            if text:
                data[name] = text
        return data, problems

    hours_errors: list[str] = []  # noqa: RUF012 (set per instance by show_errors)

    def show_errors(self, messages: dict[str, Any]) -> None:
        for name, problem in messages.items():
            if name == "hours":
                self.hours_errors = _messages(problem)
            elif name in self._fields:
                self[name].errors = _messages(problem)


def _messages(problem: Any) -> list[str]:
    if isinstance(problem, dict):
        return [text for value in problem.values() for text in _messages(value)]
    if isinstance(problem, list | tuple):
        return [text for value in problem for text in _messages(value)]
    return [str(problem)]


class ButtonForm(FlaskForm):
    """A one-click POST: only the CSRF token."""
