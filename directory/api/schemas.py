"""What the API reads and writes. Every schema names its fields: nothing is dumped whole, and no
schema here carries client details (search results and coordinators use these)."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from directory.orgs.models import LANGUAGES, Population
from directory.orgs.schemas import ContactSchema, SearchQuerySchema

MAX_PAGE_SIZE = 100


class ErrorDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String(), required=True,
                         metadata={"description": "Messages by input field, for bad input."})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


class SearchArgsSchema(SearchQuerySchema):
    """The search page's query, plus the API's paging and ``covering`` as a switch."""

    class Meta:
        unknown = EXCLUDE

    near = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "A ZIP code, \"City, ST\" or \"lat,lon\".", "example": "77002"})
    covering = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "true: whose coverage contains the place (mode=covering); false: near."})
    cursor = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=200),
                           metadata={"description": "next_cursor of the previous page."})
    limit = fields.Integer(load_default=None, allow_none=True,
                           validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PlaceSchema(Schema):
    label = fields.String(required=True)
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)


class SearchItemSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    distance_mi = fields.Float(allow_none=True, required=True, metadata={
        "description": "Rounded up for a confidential location outside your organization."})
    distance_rounded = fields.Boolean(required=True)
    covers = fields.Boolean(required=True, metadata={
        "description": "The organization's coverage contains the place."})
    lat = fields.Float(allow_none=True, required=True,
                       metadata={"description": "null for a confidential location."})
    lon = fields.Float(allow_none=True, required=True)
    city = fields.String(allow_none=True, required=True)
    state = fields.String(allow_none=True, required=True)
    accepting_referrals = fields.Boolean(required=True)
    verified_days = fields.Integer(allow_none=True, required=True)
    services = fields.List(fields.String(), required=True)
    languages = fields.List(fields.String(), required=True)
    coverage = fields.List(fields.String(), required=True)


class SearchPageSchema(Schema):
    mode = fields.String(required=True, validate=validate.OneOf(["near", "covering"]))
    place = fields.Nested(PlaceSchema, required=True)
    items = fields.List(fields.Nested(SearchItemSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True,
                                metadata={"description": "null on the last page."})


class ServiceNodeSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    children = fields.List(fields.Nested(lambda: ServiceNodeSchema()), required=True)


class ServiceTreeSchema(Schema):
    services = fields.List(fields.Nested(ServiceNodeSchema), required=True)


class ServiceRefSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class ContactOutSchema(Schema):
    name = fields.String(required=True)
    title = fields.String(required=True)
    email = fields.String(allow_none=True, required=True)
    phone = fields.String(allow_none=True, required=True)


class LocationOutSchema(Schema):
    """A location as the caller may see it: a confidential one outside the caller's own
    organization has no name, address or point."""

    name = fields.String(required=True)
    city = fields.String(required=True)
    state = fields.String(required=True)
    confidential = fields.Boolean(required=True)
    open_24_7 = fields.Boolean(required=True)
    address = fields.String(allow_none=True, required=True)
    postal_code = fields.String(allow_none=True, required=True)
    lat = fields.Float(allow_none=True, required=True)
    lon = fields.Float(allow_none=True, required=True)


class OrganizationSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    description = fields.String(required=True)
    website = fields.String(allow_none=True, required=True)
    email = fields.String(allow_none=True, required=True)
    phone = fields.String(allow_none=True, required=True)
    accepting_referrals = fields.Boolean(required=True)
    verified_days = fields.Integer(allow_none=True, required=True)
    languages = fields.List(fields.String(), required=True)
    populations = fields.List(fields.String(), required=True)
    services = fields.List(fields.Nested(ServiceRefSchema), required=True)
    contacts = fields.List(fields.Nested(ContactOutSchema), required=True)
    locations = fields.List(fields.Nested(LocationOutSchema), required=True)
    coverage = fields.List(fields.String(), required=True)


class MembershipOutSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    is_coordinator = fields.Boolean(required=True)
    organizations = fields.List(fields.Nested(MembershipOutSchema), required=True)


class ListingUpdateSchema(Schema):
    """The listing fields ``PATCH /organizations/<slug>`` changes: only those given change;
    a list given replaces the list. Unknown fields are refused, not ignored."""

    class Meta:
        unknown = RAISE

    description = fields.String(validate=validate.Length(max=5000))
    website = fields.Url(allow_none=True, schemes={"http", "https"},
                         validate=validate.Length(max=300))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    languages = fields.List(fields.String(validate=validate.OneOf(sorted(LANGUAGES))),
                            validate=validate.Length(max=len(LANGUAGES)))
    populations = fields.List(fields.Enum(Population, by_value=True),
                              validate=validate.Length(max=len(Population)))
    accepting_referrals = fields.Boolean()
    contacts = fields.List(fields.Nested(ContactSchema), validate=validate.Length(max=50))
