"""Listing operations: the rules about organizations, their locations and services.

Operations check, change and flush; the request (or CLI command) commits.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from babel.dates import get_day_names
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.orm import selectinload

from directory.db import db_session, utcnow
from directory.geo.gazetteer import gazetteer
from directory.geo.geocoder import GeocodeError, geocode
from directory.geo.public import public_point
from directory.orgs.models import (
    DEFAULT_TIMEZONE,
    Closure,
    Contact,
    CoverageArea,
    Location,
    MembershipStatus,
    OpeningHours,
    Organization,
    OrganizationKind,
    OrganizationLanguage,
    OrganizationPopulation,
    PartnershipAgreement,
    Service,
    ServiceCategory,
)
from directory.orgs.schemas import WEEKDAYS
from directory.paging import Page


class ListingError(ValueError):
    """A listing rule was broken; ``fields`` maps field names to messages for the user."""

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


# --- reading -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocationView:
    """A location as one viewer may see it: a confidential location outside its organization
    shows its city and state only."""

    name: str
    city: str
    state: str
    confidential: bool
    open_24_7: bool
    hours: list[tuple[str, str]]
    revealed: bool
    timezone: str
    weekly_hours: list[dict[str, str]]
    closures: list[Closure]
    address: str | None = None
    postal_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    id: int | None = None  # for its own organization's edit pages


def location_view(location: Location, reveal_confidential: bool) -> LocationView:
    shared: dict[str, Any] = {
        "city": location.city, "state": location.state, "open_24_7": location.open_24_7,
        "hours": describe_hours(location.hours), "timezone": location.timezone,
        "weekly_hours": [{"day": WEEKDAYS[h.weekday], "opens": f"{h.opens:%H:%M}",
                          "closes": f"{h.closes:%H:%M}"}
                         for h in sorted(location.hours, key=lambda h: (h.weekday, h.opens))],
        "closures": sorted(location.closures, key=lambda closure: closure.starts_on),
    }
    if location.confidential and not reveal_confidential:
        return LocationView(name=_("Confidential location"), confidential=True, revealed=False,
                            **shared)
    lat, lon = location.true_point
    return LocationView(revealed=True, name=location.name, confidential=location.confidential,
                        address=location.address, postal_code=location.postal_code,
                        lat=lat, lon=lon, id=location.id, **shared)


def day_labels(width: str = "abbreviated") -> dict[int, str]:
    """The weekdays' names in the reader's language, by number (0 = Monday): "Mon" or "lun"."""
    return dict(get_day_names(width, locale=get_locale() or "en_US"))


def describe_hours(hours: Sequence[OpeningHours]) -> list[tuple[str, str]]:
    """[(day label, "09:00-17:00, 18:00-20:00"), ...] with equal consecutive days merged, the
    days named in the reader's language."""
    by_day: dict[int, list[str]] = {}
    for interval in sorted(hours, key=lambda h: (h.weekday, h.opens)):
        by_day.setdefault(interval.weekday, []).append(
            f"{interval.opens:%H:%M}–{interval.closes:%H:%M}")
    names = day_labels()
    groups: list[list[Any]] = []  # [first day, last day, text]
    for day in sorted(by_day):
        text = ", ".join(by_day[day])
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == text:
            groups[-1][1] = day
        else:
            groups.append([day, day, text])
    return [(names[first] if first == last else f"{names[first]}–{names[last]}", text)
            for first, last, text in groups]


def get_organization(slug: str) -> Organization | None:
    return db_session.scalar(
        select(Organization)
        .where(Organization.slug == slug)
        .options(
            selectinload(Organization.locations).selectinload(Location.hours),
            selectinload(Organization.locations).selectinload(Location.closures),
            selectinload(Organization.services),
            selectinload(Organization.contacts),
            selectinload(Organization.languages),
            selectinload(Organization.populations),
            selectinload(Organization.coverage_areas).selectinload(CoverageArea.services),
        )
    )


@dataclass(frozen=True)
class OrganizationFilters:
    text: str = ""
    kind: OrganizationKind | None = None
    state: str | None = None
    service: str | None = None


def within_service(code: str, broader: str) -> bool:
    """Whether the category ``code`` is ``broader`` or below it in the taxonomy: the one rule by
    which search finds a partner for a service and a referral for that service may reach it
    (``service_codes_under`` is its query)."""
    return code == broader or code.startswith(f"{broader}.")


def service_codes_under(code: str) -> list[str]:
    """The category ``code`` and every category below it in the taxonomy (``within_service``)."""
    return list(db_session.scalars(
        select(ServiceCategory.code).where(
            or_(ServiceCategory.code == code,
                ServiceCategory.code.startswith(f"{code}.", autoescape=True))
        )
    ))


def offers_service(organization: Organization, code: str) -> bool:
    """Whether a search for the service ``code`` finds ``organization`` by what it offers."""
    return any(within_service(service.category.code, code) for service in organization.services)


def referable_services(organization: Organization) -> list[ServiceCategory]:
    """The services ``organization`` may be referred for, by name: those it offers and every
    broader one above them (a search for "Shelter and housing" finds a youth shelter)."""
    categories = db_session.scalars(select(ServiceCategory).order_by(ServiceCategory.name))
    return [category for category in categories if offers_service(organization, category.code)]


def _active_listings(filters: OrganizationFilters) -> Select[tuple[Organization]]:
    query = select(Organization).where(Organization.status == MembershipStatus.ACTIVE)
    if filters.text:
        pattern = f"%{filters.text.lower()}%"
        query = query.where(or_(func.lower(Organization.name).like(pattern),
                                func.lower(Organization.description).like(pattern)))
    if filters.kind:
        query = query.where(Organization.kind == filters.kind)
    if filters.state:
        # An IN list, not a correlated EXISTS: it reads the state's locations once.
        query = query.where(Organization.id.in_(
            select(Location.organization_id).where(Location.state == filters.state)))
    if filters.service:
        codes = service_codes_under(filters.service)
        query = query.where(Organization.services.any(
            Service.category.has(ServiceCategory.code.in_(codes))))
    return query


def list_organizations(filters: OrganizationFilters, page: int, per_page: int) -> Page:
    """Active member organizations matching ``filters``, by name, one page at a time."""
    query = _active_listings(filters)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    items = list(db_session.scalars(
        query.order_by(Organization.name, Organization.id)
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(Organization.locations), selectinload(Organization.services))
    ))
    return Page(items=items, page=page, per_page=per_page, total=total)


@dataclass(frozen=True)
class NetworkSummary:
    organizations: int
    accepting_referrals: int
    states: int
    by_kind: list[tuple[OrganizationKind, int]]


def network_summary() -> NetworkSummary:
    active = Organization.status == MembershipStatus.ACTIVE
    by_kind = db_session.execute(
        select(Organization.kind, func.count()).where(active).group_by(Organization.kind)
        .order_by(func.count().desc())
    ).all()
    return NetworkSummary(
        organizations=sum(count for _, count in by_kind),
        accepting_referrals=db_session.scalar(
            select(func.count()).where(active, Organization.accepting_referrals)) or 0,
        states=db_session.scalar(
            select(func.count(func.distinct(Location.state))).join(Location.organization)
            .where(active)) or 0,
        by_kind=[(kind, count) for kind, count in by_kind],
    )


_CATEGORIES = select(*ServiceCategory.__table__.c).order_by(ServiceCategory.__table__.c.code)


def service_categories() -> list[Row[Any]]:
    """The taxonomy as read-only rows (id, code, parent_id, name, description), in code order:
    drawn on every search page, so no ORM objects."""
    return list(db_session.connection().execute(_CATEGORIES).all())


# --- writing -----------------------------------------------------------------------------------

def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-") or "organization"


def unique_slug(name: str) -> str:
    base = slugify(name)
    slug, counter = base, 2
    while db_session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        suffix = f"-{counter}"
        slug, counter = base[: 80 - len(suffix)] + suffix, counter + 1
    return slug


def categories_by_code(codes: Sequence[str]) -> dict[str, ServiceCategory]:
    found = {c.code: c for c in db_session.scalars(
        select(ServiceCategory).where(ServiceCategory.code.in_(list(codes))))}
    unknown = sorted(set(codes) - set(found))
    if unknown:
        raise ListingError(_("Unknown service categories: %(codes)s.", codes=", ".join(unknown)),
                           {"services": [_("Unknown service category '%(code)s'.", code=code)
                                         for code in unknown]})
    return found


def place_location(data: dict[str, Any]) -> tuple[float, float, str, str]:
    """Coordinates, county and time zone of a location: given, or from the gazetteer."""
    area = gazetteer().zip_area(data["postal_code"]) if data.get("postal_code") else None
    if data.get("latitude") is not None and data.get("longitude") is not None:
        lat, lon = data["latitude"], data["longitude"]
        area = area or gazetteer().nearest_zip(lat, lon)
        return lat, lon, area.county if area else "", area.timezone if area else ""
    if area is not None:
        return area.lat, area.lon, area.county, area.timezone
    try:
        result = geocode(f"{data['city']}, {data['state']}")
    except GeocodeError as exc:
        raise ListingError(str(exc), {"locations": [str(exc)]}) from exc
    return result.lat, result.lon, result.county or "", result.timezone or ""


def location_columns(data: dict[str, Any]) -> dict[str, Any]:
    """The columns of the location ``data`` describes (validated, see LocationSchema): placed
    by the gazetteer where it gives no coordinates, published at its city's centre when
    confidential (Location.place)."""
    lat, lon, county, timezone = place_location(data)
    confidential = data.get("confidential", False)
    columns = {"name": data.get("name", ""), "address": data.get("address", ""),
               "city": data["city"], "state": data["state"],
               "postal_code": (data.get("postal_code") or "")[:5], "county": county,
               "timezone": timezone or DEFAULT_TIMEZONE,
               "open_24_7": data.get("open_24_7", False), "confidential": confidential}
    if confidential:
        columns["true_latitude"], columns["true_longitude"] = lat, lon
        columns["latitude"], columns["longitude"] = public_point(data["city"], data["state"],
                                                                 lat, lon)
    else:
        columns.update(true_latitude=None, true_longitude=None, latitude=lat, longitude=lon)
    return columns


def opening_hours(data: dict[str, Any]) -> list[tuple[int, dt.time, dt.time]]:
    """(weekday, opens, closes) of each day of each block of a location's hours."""
    return [(WEEKDAYS.index(day), block["opens"], block["closes"])
            for block in data.get("hours", []) for day in block["days"]]


def build_location(data: dict[str, Any]) -> Location:
    location = Location(**location_columns(data))
    for weekday, opens, closes in opening_hours(data):
        location.hours.append(OpeningHours(weekday=weekday, opens=opens, closes=closes))
    location.closures = [Closure(**closure) for closure in data.get("closures", [])]
    return location


def create_organization(listing: dict[str, Any], *, slug: str | None = None,
                        status: MembershipStatus = MembershipStatus.PENDING,
                        verified_at: dt.datetime | None = None) -> Organization:
    """Create an organization from a validated listing (see ListingSchema)."""
    slug = slug or unique_slug(listing["name"])
    if db_session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise ListingError(_("The address name '%(slug)s' is taken.", slug=slug),
                           {"slug": [_("Already taken.")]})
    if db_session.scalar(select(Organization.id).where(
            func.lower(Organization.name) == listing["name"].strip().lower())) is not None:
        raise ListingError(_("An organization with this name is already listed."),
                           {"name": [_("Already listed.")]})
    categories = categories_by_code(listing.get("services", []))
    organization = Organization(
        slug=slug, name=listing["name"].strip(), kind=listing["kind"],
        description=listing.get("description", ""), website=listing.get("website"),
        email=listing.get("email"), phone=listing.get("phone"),
        accepting_referrals=listing.get("accepting_referrals", True), status=status,
        verified_at=verified_at, min_age=listing.get("min_age"), max_age=listing.get("max_age"),
        eligibility_note=listing.get("eligibility_note", ""),
        capacity_note=listing.get("capacity_note", ""),
        capacity_noted_at=utcnow() if listing.get("capacity_note") else None,
    )
    organization.languages = [OrganizationLanguage(code=code)
                              for code in dict.fromkeys(listing.get("languages", []))]
    organization.populations = [OrganizationPopulation(population=population)
                                for population in dict.fromkeys(listing.get("populations", []))]
    organization.services = [Service(category=categories[code])
                             for code in dict.fromkeys(listing.get("services", []))]
    organization.contacts = [Contact(**contact) for contact in listing.get("contacts", [])]
    organization.locations = [build_location(data) for data in listing.get("locations", [])]
    db_session.add(organization)
    db_session.flush()
    return organization


def upsert_service_category(code: str, name: str, description: str,
                            parent_code: str | None) -> str:
    """Create or update one taxonomy node; returns "created", "updated" or "unchanged"."""
    parent = None
    if parent_code:
        parent = db_session.scalar(
            select(ServiceCategory).where(ServiceCategory.code == parent_code))
        if parent is None:
            raise ListingError(f"Taxonomy category {code!r} names unknown parent {parent_code!r}.")
    category = db_session.scalar(select(ServiceCategory).where(ServiceCategory.code == code))
    if category is None:
        category = ServiceCategory(code=code, name=name, description=description, parent=parent)
        db_session.add(category)
        db_session.flush()
        return "created"
    if (category.name, category.description, category.parent_id) == (
            name, description, parent.id if parent else None):
        return "unchanged"
    category.name, category.description, category.parent = name, description, parent
    db_session.flush()
    return "updated"


def partnership_agreement(organization: Organization) -> PartnershipAgreement | None:
    """The coordinators' record of the organization's agreement, note included."""
    return db_session.get(PartnershipAgreement, organization.id)


@dataclass(frozen=True)
class AgreementStatus:
    """What the organization's own admins see of its partnership agreement: never the note."""

    recorded: bool
    on_file: bool
    signed_on: dt.date | None


def agreement_status(organization: Organization) -> AgreementStatus:
    agreement = partnership_agreement(organization)
    if agreement is None:
        return AgreementStatus(recorded=False, on_file=False, signed_on=None)
    return AgreementStatus(recorded=True, on_file=agreement.on_file,
                           signed_on=agreement.signed_on)


def days_since(moment: dt.datetime | None) -> int | None:
    return None if moment is None else (utcnow() - moment).days
