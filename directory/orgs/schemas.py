"""Validation of listing data, wherever it comes from (seed files, forms, the API)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from babel.dates import get_day_names
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from marshmallow import (
    EXCLUDE,
    RAISE,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from directory.geo.states import STATES
from directory.inputs import MAX_INT
from directory.orgs.models import LANGUAGES, OrganizationKind, Population
from directory.text import Prose, TextSchema

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class HoursSchema(TextSchema):
    days = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)),
                       required=True, validate=validate.Length(min=1, max=7))
    opens = fields.String(required=True, validate=validate.Regexp(_TIME, error=_l("Use HH:MM.")))
    closes = fields.String(required=True,
                           validate=validate.Regexp(_TIME, error=_l("Use HH:MM.")))

    @validates_schema
    def _opens_before_closes(self, data: dict[str, Any], **_: Any) -> None:
        if data["opens"] >= data["closes"]:
            raise ValidationError(gettext("Opening time must be before closing time."), "closes")

    @post_load
    def _to_times(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["opens"] = dt.time.fromisoformat(data["opens"])
        data["closes"] = dt.time.fromisoformat(data["closes"])
        return data


MAX_CLOSURE_DAYS = 366
MAX_AGE = 120


class ClosureSchema(TextSchema):
    """Dates a location is closed (a holiday), inclusive; one day when ``ends_on`` is left out."""

    starts_on = fields.Date(required=True)
    ends_on = fields.Date(load_default=None, allow_none=True)
    note = fields.String(load_default="", validate=validate.Length(max=200))

    @validates_schema
    def _a_short_forward_span(self, data: dict[str, Any], **_: Any) -> None:
        ends_on = data.get("ends_on") or data["starts_on"]
        if ends_on < data["starts_on"]:
            raise ValidationError(gettext("The closure must end on or after its first day."),
                                  "ends_on")
        if (ends_on - data["starts_on"]).days >= MAX_CLOSURE_DAYS:
            raise ValidationError(gettext("A closure lasts at most a year."), "ends_on")

    @post_load
    def _one_day_by_default(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["ends_on"] = data.get("ends_on") or data["starts_on"]
        return data


def overlapping_days(hours: list[dict[str, Any]]) -> list[str]:
    """The weekdays on which two of the given opening intervals overlap."""
    by_day: dict[str, list[tuple[dt.time, dt.time]]] = {}
    for block in hours:
        for day in block["days"]:
            by_day.setdefault(day, []).append((block["opens"], block["closes"]))
    clashes = []
    for day in WEEKDAYS:
        intervals = sorted(by_day.get(day, []))
        if any(later[0] < earlier[1] for earlier, later in zip(intervals, intervals[1:],
                                                                 strict=False)):
            clashes.append(day)
    return clashes


class LocationSchema(TextSchema):
    class Meta:
        unknown = EXCLUDE

    # An existing location of the listing, when a change names it; left out for a new one.
    id = fields.Integer(load_default=None, allow_none=True,
                        validate=validate.Range(min=1, max=MAX_INT))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    city = fields.String(required=True, validate=validate.Length(min=1, max=120))
    state = fields.String(required=True, validate=validate.OneOf(sorted(STATES)))
    postal_code = fields.String(load_default="", validate=validate.Regexp(
        r"^(\d{5}(-\d{4})?)?$", error=_l("Use a 5-digit ZIP code.")))
    latitude = fields.Float(load_default=None, allow_none=True,
                            validate=validate.Range(-90, 90))
    longitude = fields.Float(load_default=None, allow_none=True,
                             validate=validate.Range(-180, 180))
    confidential = fields.Boolean(load_default=False)
    open_24_7 = fields.Boolean(load_default=False)
    hours = fields.List(fields.Nested(HoursSchema), load_default=list,
                        validate=validate.Length(max=50))
    closures = fields.List(fields.Nested(ClosureSchema), load_default=list,
                           validate=validate.Length(max=100))

    @validates_schema(skip_on_field_errors=True)
    def _consistent_hours(self, data: dict[str, Any], **_: Any) -> None:
        clashes = overlapping_days(data.get("hours", []))
        if clashes:
            names = get_day_names("wide", locale=get_locale() or "en_US")
            raise ValidationError(gettext("Opening hours overlap on %(days)s.", days=", ".join(
                names[WEEKDAYS.index(day)] for day in clashes)), "hours")
        if data.get("open_24_7") and data.get("hours"):
            raise ValidationError(gettext("A location open 24/7 lists no opening hours."), "hours")
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError(gettext("Give both latitude and longitude, or neither."),
                                  "longitude")


class ContactSchema(TextSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    title = fields.String(load_default="", validate=validate.Length(max=200))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class ListingSchema(TextSchema):
    """An organization's listing as members see it and admins edit it."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.Enum(OrganizationKind, by_value=True, required=True)
    description = Prose(load_default="", validate=validate.Length(max=5000))
    website = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"},
                         validate=validate.Length(max=300))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    languages = fields.List(fields.String(validate=validate.OneOf(sorted(LANGUAGES))),
                            load_default=list)
    populations = fields.List(fields.Enum(Population, by_value=True), load_default=list)
    services = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                           load_default=list)
    accepting_referrals = fields.Boolean(load_default=True)
    contacts = fields.List(fields.Nested(ContactSchema), load_default=list)
    locations = fields.List(fields.Nested(LocationSchema), load_default=list)
    min_age = fields.Integer(load_default=None, allow_none=True,
                             validate=validate.Range(min=0, max=MAX_AGE))
    max_age = fields.Integer(load_default=None, allow_none=True,
                             validate=validate.Range(min=0, max=MAX_AGE))
    eligibility_note = Prose(load_default="", validate=validate.Length(max=1000))
    capacity_note = fields.String(load_default="", validate=validate.Length(max=200))

    @validates_schema(skip_on_field_errors=True)
    def _age_range_ordered(self, data: dict[str, Any], **_: Any) -> None:
        check_age_range(data)


def check_age_range(data: dict[str, Any]) -> None:
    low, high = data.get("min_age"), data.get("max_age")
    if low is not None and high is not None and low > high:
        raise ValidationError(gettext("The youngest age served must not be above the oldest."),
                              "max_age")


class ListingChangesSchema(TextSchema):
    """A change to a listing, from the edit pages and ``PATCH /api/v1/organizations/<slug>``
    alike: only the fields given change; a list given replaces the list (a location given
    with its ``id`` is changed in place, one left out is removed). Unknown fields are
    refused, not ignored. ``name`` and ``kind`` are a coordinator's change."""

    class Meta:
        unknown = RAISE

    name = fields.String(validate=validate.Length(min=2, max=200))
    kind = fields.Enum(OrganizationKind, by_value=True)
    description = Prose(validate=validate.Length(max=5000))
    website = fields.Url(allow_none=True, schemes={"http", "https"},
                         validate=validate.Length(max=300))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    languages = fields.List(fields.String(validate=validate.OneOf(sorted(LANGUAGES))),
                            validate=validate.Length(max=len(LANGUAGES)))
    populations = fields.List(fields.Enum(Population, by_value=True),
                              validate=validate.Length(max=len(Population)))
    services = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                           validate=validate.Length(max=200))
    accepting_referrals = fields.Boolean()
    contacts = fields.List(fields.Nested(ContactSchema), validate=validate.Length(max=50))
    locations = fields.List(fields.Nested(LocationSchema), validate=validate.Length(max=100))
    min_age = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=MAX_AGE))
    max_age = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=MAX_AGE))
    eligibility_note = Prose(validate=validate.Length(max=1000))
    capacity_note = fields.String(validate=validate.Length(max=200))

    @validates_schema(skip_on_field_errors=True)
    def _age_range_ordered(self, data: dict[str, Any], **_: Any) -> None:
        check_age_range(data)


class SeedOrganizationSchema(ListingSchema):
    """A listing in seed/organizations.json: the listing plus its place in the network."""

    slug = fields.String(required=True, validate=[validate.Length(min=2, max=80),
                                                  validate.Regexp(SLUG_PATTERN)])
    status = fields.String(load_default="active",
                           validate=validate.OneOf(["pending", "active", "suspended"]))
    verified_days_ago = fields.Integer(load_default=None, allow_none=True,
                                       validate=validate.Range(min=0, max=36_500))
    # Validated by CoverageAreaSchema once the locations exist ("location" is an index into
    # "locations"; "geojson" may be an object).
    coverage = fields.List(fields.Dict(), load_default=list)


class CoverageAreaSchema(TextSchema):
    """A coverage area as an admin enters it; which fields matter depends on ``kind``."""

    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, validate=validate.OneOf(
        ["radius", "state", "county", "zip", "polygon"]))
    radius_mi = fields.Float(load_default=None, allow_none=True,
                             validate=validate.Range(min=0.5, max=500))
    location_id = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=0, max=MAX_INT))
    center = fields.String(load_default="", validate=validate.Length(max=200))
    state = fields.String(load_default="", validate=validate.Length(max=2))
    county = fields.String(load_default="", validate=validate.Length(max=120))
    postal_code = fields.String(load_default="", validate=validate.Regexp(
        r"^(\d{5})?$", error=_l("Use a 5-digit ZIP code.")))
    geojson = fields.String(load_default="", validate=validate.Length(max=200_000))
    label = fields.String(load_default="", validate=validate.Length(max=200))
    services = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                           load_default=list)

    @validates_schema
    def _needs_its_fields(self, data: dict[str, Any], **_: Any) -> None:
        kind = data["kind"]
        if kind == "radius":
            if data.get("radius_mi") is None:
                raise ValidationError(gettext("Give a radius in miles."), "radius_mi")
            if data.get("location_id") is None and not data.get("center"):
                raise ValidationError(gettext("Choose a location or give a center."), "center")
        required = {"state": "state", "county": "county", "zip": "postal_code",
                    "polygon": "geojson"}.get(kind)
        if required and not data.get(required):
            raise ValidationError(gettext("This field is required for this kind of area."),
                                  required)
        if kind == "county" and not data.get("state"):
            raise ValidationError(gettext("Give the county's state."), "state")


class SearchQuerySchema(TextSchema):
    """A directory search as the search page, the API and the CLI take it."""

    class Meta:
        unknown = EXCLUDE

    near = fields.String(required=True, validate=validate.Length(min=1, max=200))
    mode = fields.String(load_default="near", validate=validate.OneOf(["near", "covering"]))
    radius = fields.Float(load_default=50.0, validate=validate.Range(min=1, max=500))
    service = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=64))
    kind = fields.List(fields.Enum(OrganizationKind, by_value=True), load_default=list)
    language = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(sorted(LANGUAGES)))
    population = fields.Enum(Population, by_value=True, load_default=None, allow_none=True)
    accepting = fields.Boolean(load_default=False)
    open_now = fields.Boolean(load_default=False)
    verified_within = fields.Integer(load_default=None, allow_none=True,
                                     validate=validate.Range(min=1, max=3650))
