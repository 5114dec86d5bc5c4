"""Validation of listing data, wherever it comes from (seed files, forms, the API)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import (
    EXCLUDE,
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
    opens = fields.String(required=True, validate=validate.Regexp(_TIME, error="Use HH:MM."))
    closes = fields.String(required=True, validate=validate.Regexp(_TIME, error="Use HH:MM."))

    @validates_schema
    def _opens_before_closes(self, data: dict[str, Any], **_: Any) -> None:
        if data["opens"] >= data["closes"]:
            raise ValidationError("Opening time must be before closing time.", "closes")

    @post_load
    def _to_times(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["opens"] = dt.time.fromisoformat(data["opens"])
        data["closes"] = dt.time.fromisoformat(data["closes"])
        return data


class LocationSchema(TextSchema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(load_default="", validate=validate.Length(max=200))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    city = fields.String(required=True, validate=validate.Length(min=1, max=120))
    state = fields.String(required=True, validate=validate.OneOf(sorted(STATES)))
    postal_code = fields.String(load_default="", validate=validate.Regexp(
        r"^(\d{5}(-\d{4})?)?$", error="Use a 5-digit ZIP code."))
    latitude = fields.Float(load_default=None, allow_none=True,
                            validate=validate.Range(-90, 90))
    longitude = fields.Float(load_default=None, allow_none=True,
                             validate=validate.Range(-180, 180))
    confidential = fields.Boolean(load_default=False)
    open_24_7 = fields.Boolean(load_default=False)
    hours = fields.List(fields.Nested(HoursSchema), load_default=list)


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
        r"^(\d{5})?$", error="Use a 5-digit ZIP code."))
    geojson = fields.String(load_default="", validate=validate.Length(max=200_000))
    label = fields.String(load_default="", validate=validate.Length(max=200))
    services = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                           load_default=list)

    @validates_schema
    def _needs_its_fields(self, data: dict[str, Any], **_: Any) -> None:
        kind = data["kind"]
        if kind == "radius":
            if data.get("radius_mi") is None:
                raise ValidationError("Give a radius in miles.", "radius_mi")
            if data.get("location_id") is None and not data.get("center"):
                raise ValidationError("Choose a location or give a center.", "center")
        required = {"state": "state", "county": "county", "zip": "postal_code",
                    "polygon": "geojson"}.get(kind)
        if required and not data.get(required):
            raise ValidationError("This field is required for this kind of area.", required)
        if kind == "county" and not data.get("state"):
            raise ValidationError("Give the county's state.", "state")


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
