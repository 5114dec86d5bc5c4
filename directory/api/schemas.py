"""What the API reads and writes. Every schema names its fields: nothing is dumped whole, and
only ``ClientDetailsSchema`` carries client details (filled where the permission module allows).
Referral input is loaded with ``directory.referrals.schemas``, the web forms' own schemas."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from directory.orgs.schemas import ListingChangesSchema, SearchQuerySchema
from directory.referrals.models import ReferralStatus, Urgency
from directory.text import TextSchema

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


class HoursOutSchema(Schema):
    day = fields.String(required=True, metadata={"description": "mon ... sun"})
    opens = fields.String(required=True, metadata={"description": "HH:MM, local time"})
    closes = fields.String(required=True)


class ClosureOutSchema(Schema):
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True, metadata={"description": "Inclusive."})
    note = fields.String(required=True)


class LocationOutSchema(Schema):
    """A location as the caller may see it: a confidential one outside the caller's own
    organization has no id, name, address or point."""

    id = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Give it back in a PATCH to change this location in place."})
    timezone = fields.String(required=True)
    weekly_hours = fields.List(fields.Nested(HoursOutSchema), required=True)
    closures = fields.List(fields.Nested(ClosureOutSchema), required=True)
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
    min_age = fields.Integer(allow_none=True, required=True)
    max_age = fields.Integer(allow_none=True, required=True)
    eligibility_note = fields.String(required=True)
    capacity_note = fields.String(required=True)
    capacity_noted_at = fields.DateTime(allow_none=True, required=True)
    confirmed_days = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Days since the organization confirmed its listing is current."})


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


class ListingUpdateSchema(ListingChangesSchema):
    """The listing fields ``PATCH /organizations/<slug>`` changes (see ListingChangesSchema):
    only those given change; a list given replaces the list; unknown fields are refused."""


class ReferralArgsSchema(TextSchema):
    """The inbox or outbox and its filters, as the web lists take them, plus paging."""

    class Meta:
        unknown = EXCLUDE

    box = fields.String(required=True, validate=validate.OneOf(["inbox", "outbox"]))
    status = fields.String(load_default="", validate=validate.OneOf(
        ["", *(status.value for status in ReferralStatus)]))
    urgency = fields.String(load_default="", validate=validate.OneOf(
        ["", *(urgency.value for urgency in Urgency)]))
    partner = fields.String(load_default="", validate=validate.Length(max=100), metadata={
        "description": "The partner's slug, or part of its name."})
    cursor = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=200),
                           metadata={"description": "next_cursor of the previous page."})
    limit = fields.Integer(load_default=None, allow_none=True,
                           validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PartnerRefSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)


class ReferralItemSchema(Schema):
    """A referral in a list: no client details."""

    id = fields.String(required=True, metadata={"description": "The referral's public id."})
    version = fields.Integer(required=True, metadata={
        "description": "Send it back with a transition."})
    status = fields.String(required=True)
    urgency = fields.String(required=True)
    service = fields.String(required=True)
    sender = fields.Nested(PartnerRefSchema, required=True)
    receiver = fields.Nested(PartnerRefSchema, required=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True, required=True)
    response_due_at = fields.DateTime(allow_none=True, required=True)
    viewed_at = fields.DateTime(allow_none=True, required=True)
    responded_at = fields.DateTime(allow_none=True, required=True)
    finished_at = fields.DateTime(allow_none=True, required=True)
    overdue = fields.Boolean(required=True)


class ReferralPageSchema(Schema):
    items = fields.List(fields.Nested(ReferralItemSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True,
                                metadata={"description": "null on the last page."})


class ReferralEventOutSchema(Schema):
    kind = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    actor = fields.String(required=True)
    from_status = fields.String(allow_none=True, required=True)
    to_status = fields.String(allow_none=True, required=True)
    note = fields.String(required=True)


class ReferralNoteOutSchema(Schema):
    author = fields.String(required=True)
    organization = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    body = fields.String(required=True)


class ClientDetailsSchema(Schema):
    """Shown only to whom the permission module allows; every view is audited."""

    details = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    identifying = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    reporting = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                            metadata={"description": "The coded grant-reporting fields the "
                                      "caller may read: all for the sender; for the receiver, "
                                      "those the consent in force names."})


class ReferralDetailSchema(ReferralItemSchema):
    """One referral with its timeline and notes; client details where allowed, else null."""

    side = fields.String(allow_none=True, required=True)
    transitions = fields.List(fields.String(), required=True, metadata={
        "description": "The states the caller may move the referral to."})
    age_range = fields.String(required=True)
    contact_person = fields.String(required=True)
    handoff_time = fields.String(required=True)
    decline_reason = fields.String(allow_none=True, required=True)
    outcome = fields.String(allow_none=True, required=True)
    consent_in_force = fields.Boolean(required=True)
    client = fields.Nested(ClientDetailsSchema, allow_none=True, required=True)
    timeline = fields.List(fields.Nested(ReferralEventOutSchema), required=True)
    notes = fields.List(fields.Nested(ReferralNoteOutSchema), required=True)
