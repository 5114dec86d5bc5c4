"""Changing a listing: one operation for the edit pages, the API and imports alike.

``update_listing`` takes changes validated by ``ListingChangesSchema`` (or, for an import,
``ListingSchema``: the same fields and rules, the whole listing), applies only the fields given,
and records one audit entry naming the fields that changed, never their values. An import
places the rows it knows by their HSDS ids (services, locations, coverage areas) itself, inside
the same operation (``place_rows``), so that its changes are diffed and audited the same way.
A listing an import creates is audited too (``listing_created``, naming the fields it fills).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from directory.accounts.models import User
from directory.accounts.permissions import Permission, can
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, utcnow
from directory.orgs.coverage import coverage_label, recentre_tied_areas
from directory.orgs.models import (
    DEFAULT_TIMEZONE,
    FIELD_LABELS,
    Closure,
    Contact,
    CoverageKind,
    Location,
    OpeningHours,
    Organization,
    OrganizationLanguage,
    OrganizationPopulation,
    Service,
)
from directory.orgs.operations import (
    ListingError,
    build_location,
    categories_by_code,
    place_location,
)
from directory.orgs.schemas import WEEKDAYS
from directory.referrals.models import Referral, ReferralStatus

# Plain columns of the listing, in the order the change history names them.
SCALAR_FIELDS = ("name", "kind", "description", "website", "email", "phone",
                 "accepting_referrals", "min_age", "max_age", "eligibility_note",
                 "capacity_note")
COORDINATOR_FIELDS = ("name", "kind")
OPEN_STATUSES = (ReferralStatus.SENT, ReferralStatus.ACCEPTED)


class ListingPermissionError(ListingError):
    """A change the actor may not make (the API answers 403)."""


@dataclass(frozen=True)
class RemovalImpact:
    """What removing a location does, said before it is done."""

    open_referrals: list[str]  # public ids of referrals in progress to the organization
    removed_areas: list[str]  # labels of the radius areas drawn around it, removed with it
    # (in the reader's language)
    last_location: bool

    @property
    def blocked(self) -> bool:
        """An organization with referrals in progress keeps at least one place to go."""
        return self.last_location and bool(self.open_referrals)


def open_referrals_to(organization: Organization) -> list[str]:
    return list(db_session.scalars(
        select(Referral.public_id)
        .where(Referral.receiver_org_id == organization.id, Referral.status.in_(OPEN_STATUSES))
        .order_by(Referral.id)))


def removal_impact(organization: Organization, location: Location,
                   remaining: int | None = None) -> RemovalImpact:
    """Referrals are made to an organization, not to one of its locations: they stay open
    when a location goes, unless it was the last one (then the removal is refused)."""
    remaining = len(organization.locations) - 1 if remaining is None else remaining
    return RemovalImpact(
        open_referrals=open_referrals_to(organization),
        removed_areas=[coverage_label(area.kind, area.label)
                       for area in _tied_radius_areas(organization, location)],
        last_location=remaining == 0,
    )


def _tied_radius_areas(organization: Organization, location: Location) -> list[Any]:
    return [area for area in organization.coverage_areas
            if area.kind == CoverageKind.RADIUS and area.location is location]


def _snapshot(organization: Organization) -> dict[str, Any]:
    """Every editable field's value, in a form that compares equal when nothing changed."""
    values: dict[str, Any] = {name: getattr(organization, name) for name in SCALAR_FIELDS}
    values["languages"] = sorted(organization.language_codes)
    values["populations"] = sorted(organization.population_codes)
    values["services"] = sorted((service.category.code, service.hsds_id, service.description)
                                for service in organization.services)
    values["contacts"] = _contact_rows(organization.contacts)
    values["locations"] = [_location_snapshot(location) for location in organization.locations]
    values["coverage_areas"] = sorted(area.id for area in organization.coverage_areas)
    return values


def _location_snapshot(location: Location) -> tuple[Any, ...]:
    return (location.id, location.hsds_id, location.name, location.address, location.city,
            location.state, location.postal_code, location.county, location.true_point,
            location.confidential,
            location.open_24_7, location.timezone,
            sorted((h.weekday, h.opens, h.closes) for h in location.hours),
            sorted((c.starts_on, c.ends_on, c.note) for c in location.closures))


def _contact_rows(contacts: Any) -> list[tuple[Any, ...]]:
    return [(c.name, c.title, c.email, c.phone) for c in contacts]


def update_listing(actor: User | None, organization: Organization, changes: dict[str, Any],
                   *, now: dt.datetime | None = None,
                   place_rows: Callable[[Organization], None] | None = None) -> list[str]:
    """Apply a validated partial listing and return the names of the fields that changed.

    ``actor`` is None for a change made from the command line (an import). Rows kept in a
    list (a language, a service, a location) are kept as they are, so that their ids, HSDS
    ids and coverage areas survive. ``place_rows`` is an import's placement of the rows it
    identifies by HSDS id, made after the other changes and before the diff; it raises
    ListingError to refuse the change."""
    now = now or utcnow()
    _check_rules(actor, organization, changes)
    before = _snapshot(organization)
    for name in SCALAR_FIELDS:
        if name in changes:
            setattr(organization, name, changes[name])
    if "capacity_note" in changes and changes["capacity_note"] != before["capacity_note"]:
        organization.capacity_noted_at = now if changes["capacity_note"] else None
    if "languages" in changes:
        languages = {item.code: item for item in organization.languages}
        organization.languages = [languages.get(code) or OrganizationLanguage(code=code)
                                  for code in dict.fromkeys(changes["languages"])]
    if "populations" in changes:
        populations = {item.population: item for item in organization.populations}
        organization.populations = [
            populations.get(population) or OrganizationPopulation(population=population)
            for population in dict.fromkeys(changes["populations"])]
    if "services" in changes:
        _apply_services(organization, changes["services"])
    if "contacts" in changes:
        contacts = [Contact(**({"title": ""} | dict(contact))) for contact in changes["contacts"]]
        if _contact_rows(contacts) != before["contacts"]:
            organization.contacts = contacts
    if "locations" in changes:
        hidden = set() if actor is None or can(
            actor, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization) else {
            location.id for location in organization.locations if location.confidential}
        _apply_locations(organization, changes["locations"], hidden)
    if place_rows is not None:
        place_rows(organization)
    db_session.flush()
    after = _snapshot(organization)
    changed = sorted(name for name in before if before[name] != after[name])
    if changed:
        record(AuditAction.LISTING_UPDATED, actor=actor, organization=organization,
               details={"fields": changed})
    return changed


def _check_rules(actor: User | None, organization: Organization,
                 changes: dict[str, Any]) -> None:
    renamed = [name for name in COORDINATOR_FIELDS
               if name in changes and changes[name] != getattr(organization, name)]
    if renamed and actor is not None and not can(actor, Permission.RENAME_ORGANIZATION,
                                                 organization):
        raise ListingPermissionError(
            _("Only a network coordinator changes an organization's name or kind."),
            {name: [_("Only a network coordinator changes this.")] for name in renamed})
    if "name" in renamed:
        taken = db_session.scalar(select(Organization.id).where(
            func.lower(Organization.name) == changes["name"].strip().lower(),
            Organization.id != organization.id))
        if taken is not None:
            raise ListingError(_("An organization with this name is already listed."),
                               {"name": [_("Already listed.")]})
    low = changes.get("min_age", organization.min_age)
    high = changes.get("max_age", organization.max_age)
    if low is not None and high is not None and low > high:
        raise ListingError(_("The youngest age served must not be above the oldest."),
                           {"max_age": [_("Must not be below the youngest age served.")]})


def _apply_services(organization: Organization, codes: list[str]) -> None:
    categories = categories_by_code(codes)
    kept = {service.category.code: service for service in organization.services}
    organization.services = [kept.get(code) or Service(category=categories[code])
                             for code in dict.fromkeys(codes)]


def _apply_locations(organization: Organization, wanted: list[dict[str, Any]],
                     hidden: set[int]) -> None:
    """Replace the locations by ``wanted``. The confidential locations in ``hidden`` are ones
    the actor may not see (a coordinator's change): they stay as they are, and naming one
    is naming no location of the listing."""
    existing = {location.id: location for location in organization.locations
                if location.id not in hidden}
    unknown = [data["id"] for data in wanted
               if data.get("id") is not None and data["id"] not in existing]
    if unknown:
        raise ListingError(_("A location given is not on this listing."),
                           {"locations": [_("No location %(number)s on this listing.",
                                            number=number) for number in unknown]})
    kept = {data["id"] for data in wanted if data.get("id") is not None} | hidden
    for location in organization.locations:
        if location.id in kept:
            continue
        impact = removal_impact(organization, location, remaining=len(wanted) + len(hidden))
        if impact.blocked:
            raise ListingError(
                _("This is the organization's last location and referrals to it are in "
                  "progress (%(referrals)s): add its new location first, or finish those "
                  "referrals.", referrals=", ".join(impact.open_referrals)),
                {"locations": [_("The last location cannot go while referrals are open.")]})
        for area in _tied_radius_areas(organization, location):
            organization.coverage_areas.remove(area)
    organization.locations = [
        location for location in organization.locations if location.id in hidden] + [
        _change_location(organization, existing[data["id"]], data)
        if data.get("id") is not None else build_location(data)
        for data in wanted]


def _change_location(organization: Organization, location: Location,
                     data: dict[str, Any]) -> Location:
    """Change a location in place; its point stays unless coordinates or a new address are
    given, and the radius areas drawn around it follow it."""
    same_address = ((data.get("postal_code") or "")[:5], data["city"], data["state"]) == (
        location.postal_code, location.city, location.state)
    if data.get("latitude") is None and same_address:
        data = data | dict(zip(("latitude", "longitude"), location.true_point, strict=True))
    lat, lon, county, timezone = place_location(data)
    location.name, location.address = data.get("name", ""), data.get("address", "")
    location.city, location.state = data["city"], data["state"]
    location.postal_code = (data.get("postal_code") or "")[:5]
    location.county, location.timezone = county, timezone or DEFAULT_TIMEZONE
    location.open_24_7 = data.get("open_24_7", False)
    point = (location.latitude, location.longitude)
    location.place(lat, lon, confidential=data.get("confidential", False))
    if (location.latitude, location.longitude) != point:
        recentre_tied_areas(location, organization.coverage_areas)
    location.hours = opening_hours(data.get("hours", []))
    location.closures = [Closure(**closure) for closure in data.get("closures", [])]
    return location


def opening_hours(blocks: list[dict[str, Any]]) -> list[OpeningHours]:
    return [OpeningHours(weekday=WEEKDAYS.index(day), opens=block["opens"],
                         closes=block["closes"])
            for block in blocks for day in block["days"]]


def location_data(location: Location) -> dict[str, Any]:
    """A location as ``LocationSchema`` loads it, as text (its true point: for its own
    organization's edit pages only), so that a change to one location resends the others
    unchanged through the same validation."""
    lat, lon = location.true_point
    return {
        "id": location.id, "name": location.name, "address": location.address,
        "city": location.city, "state": location.state, "postal_code": location.postal_code,
        "latitude": lat, "longitude": lon, "confidential": location.confidential,
        "open_24_7": location.open_24_7,
        "hours": [{"days": [WEEKDAYS[h.weekday]], "opens": f"{h.opens:%H:%M}",
                   "closes": f"{h.closes:%H:%M}"} for h in location.hours],
        "closures": [{"starts_on": c.starts_on.isoformat(), "ends_on": c.ends_on.isoformat(),
                      "note": c.note} for c in location.closures],
    }


def created_fields(values: dict[str, Any]) -> list[str]:
    """The fields a new listing fills (its validated values, keyed as the change history
    names fields), for its ``listing_created`` audit entry."""
    return sorted(name for name in FIELD_LABELS if values.get(name) not in (None, "", []))


def record_created(actor: User | None, organization: Organization,
                   values: dict[str, Any]) -> None:
    record(AuditAction.LISTING_CREATED, actor=actor, organization=organization,
           details={"fields": created_fields(values)})
