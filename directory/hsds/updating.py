"""Updating organizations the directory already holds from an import: whether a listing
changes anything (the common case of a re-import, answered without a savepoint) and, when it
does, the update through update_listing with services, locations and coverage matched by HSDS
id.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from directory.accounts.models import User
from directory.db import db_session
from directory.hsds.areas import area_codes, covers
from directory.hsds.assemble import Listing
from directory.orgs.coverage import build_coverage_area
from directory.orgs.listing import update_listing
from directory.orgs.models import (
    Contact,
    CoverageArea,
    CoverageKind,
    Location,
    OpeningHours,
    Organization,
    OrganizationLanguage,
    OrganizationPopulation,
    Service,
    ServiceCategory,
    coverage_area_services,
    true_point_of,
)
from directory.orgs.operations import (
    ListingError,
    build_location,
)
from directory.orgs.schemas import WEEKDAYS
from directory.referrals.operations import services_in_use

Held = TypeVar("Held")

_ID_CHUNK = 500


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _ID_CHUNK):
        yield values[start:start + _ID_CHUNK]


def _hours(payload: dict[str, Any]) -> list[tuple[int, dt.time, dt.time]]:
    return sorted((WEEKDAYS.index(day), block["opens"], block["closes"])
                  for block in payload["hours"] for day in block["days"])


_LOCATION_FIELDS = ("name", "address", "city", "state", "postal_code", "county", "latitude",
                    "longitude", "true_latitude", "true_longitude", "timezone", "confidential",
                    "open_24_7")
_ORGANIZATION_FIELDS = ("kind", "description", "website", "email", "phone",
                        "accepting_referrals")


def _set(target: Any, attribute: str, value: Any) -> None:
    """Set only what differs: an attribute set to its own value still marks the row dirty."""
    if getattr(target, attribute) != value:
        setattr(target, attribute, value)


def _update_location(location: Location, payload: dict[str, Any], withheld: bool) -> None:
    """Bring a location up to date. A confidential location whose export withheld its place
    (no address, a city-centre point) keeps the name, address and point the directory has."""
    if not (withheld and location.confidential):
        fresh = build_location(payload)
        for attribute in _LOCATION_FIELDS:
            _set(location, attribute, getattr(fresh, attribute))
    else:
        _set(location, "open_24_7", payload["open_24_7"])
    hours = _hours(payload)
    if sorted((item.weekday, item.opens, item.closes) for item in location.hours) != hours:
        location.hours = [OpeningHours(weekday=day, opens=opens, closes=closes)
                          for day, opens, closes in hours]


def coverage_areas(organization: Organization, listing: Listing,
                    categories: dict[str, ServiceCategory]) -> list[CoverageArea]:
    """The coverage areas a listing gives ``organization`` (its locations already in place):
    a radius tied to a location is drawn around the point the directory holds for it."""
    areas = []
    for plan in listing.areas:
        if plan.location is None:
            area = plan.shape.area()
        else:
            area = build_coverage_area(
                organization, {"kind": CoverageKind.RADIUS,
                               "radius_mi": plan.shape.values["radius_mi"]},
                location=organization.locations[plan.location])
            area.label = plan.shape.values["label"]
        area.services = [categories[code] for code in plan.services]
        areas.append(area)
    return areas


_Signature = tuple[Any, ...]


def _held_areas(organization: Organization, codes: list[str]) -> list[_Signature]:
    """What the organization's coverage says, as an export would carry it: each area's
    extent, label, location and the listed services it counts for."""
    locations = {location.id: location.hsds_id for location in organization.locations}
    return sorted((
        (area.kind.value, area.label, locations.get(area.location_id or 0), area.center_lat,
         area.center_lon, area.radius_mi, area.state, area.county_fips, area.postal_code,
         area.geojson, tuple(code for code in codes if covers(area_codes(area), code)))
        for area in organization.coverage_areas), key=repr)


def _wanted_areas(organization: Organization, listing: Listing,
                  codes: list[str]) -> list[_Signature]:
    """The same for the coverage a listing gives the organization (its locations in place)."""
    signatures = []
    for plan in listing.areas:
        values = dict(plan.shape.values)
        location_id = None
        if plan.location is not None:
            location = organization.locations[plan.location]
            location_id = location.hsds_id
            values.update(center_lat=location.latitude, center_lon=location.longitude)
        signatures.append((
            CoverageKind(values["kind"]).value, values["label"], location_id,
            values["center_lat"], values["center_lon"], values["radius_mi"], values["state"],
            values["county_fips"], values["postal_code"], values["geojson"],
            tuple(code for code in codes if covers(plan.services, code))))
    return sorted(signatures, key=repr)


def _same_coverage(organization: Organization, listing: Listing) -> bool:
    codes = sorted(listing.data["services"])
    return _held_areas(organization, codes) == _wanted_areas(organization, listing, codes)


def _check_services_in_use(organization: Organization, listing: Listing) -> None:
    """Refuse an update that would drop a service referrals in progress are for."""
    kept = set(listing.data["services"])
    dropped = {service.category.code for service in organization.services} - kept
    in_use = services_in_use(organization, dropped, kept)
    if in_use:
        named = ", ".join(ngettext("%(service)s (%(num)d referral)",
                                   "%(service)s (%(num)d referrals)", count, service=repr(code))
                          for code, count in sorted(in_use.items()))
        message = _("services not dropped: referrals in progress to this organization are for "
                    "%(services)s; they must be finished first", services=named)
        raise ListingError(message, {"services": [message]})


def _update_services(organization: Organization, listing: Listing,
                     categories: dict[str, ServiceCategory]) -> None:
    _check_services_in_use(organization, listing)
    by_id = {service.hsds_id: service for service in organization.services}
    by_code = {service.category.code: service for service in organization.services}
    matched: dict[str, Service | None] = {}
    for code in listing.data["services"]:
        service = by_id.get(listing.service_ids[code]) or by_code.get(code)
        matched[code] = service if service not in matched.values() else None
    kept = [service for service in matched.values() if service is not None]
    if len(kept) != len(organization.services):
        organization.services = kept
        db_session.flush()  # the dropped rows go before a new one may take their HSDS id
    for code, service in matched.items():
        if service is None:
            organization.services.append(Service(
                category=categories[code], hsds_id=listing.service_ids[code],
                description=listing.service_descriptions[code]))
            continue
        _set(service, "category", categories[code])
        _set(service, "hsds_id", listing.service_ids[code])
        _set(service, "description", listing.service_descriptions[code])


def update_organization(actor: User | None, organization: Organization, listing: Listing,
                         categories: dict[str, ServiceCategory]) -> bool:
    """Apply a validated listing to an existing organization through update_listing (its
    rules, its diff and its audit entry naming the changed fields); True when anything
    changed. The rows the source names by HSDS id (services, locations, coverage areas) are
    placed by the import's own rules inside that operation. Its status, slug, age range and
    notes stay as they are: HSDS does not carry them."""
    data = listing.data
    changes = {name: data[name] for name in _ORGANIZATION_FIELDS} | {
        "name": data["name"].strip(), "languages": sorted(data["languages"]),
        "populations": sorted(data["populations"]), "contacts": data["contacts"]}

    def place_rows(held: Organization) -> None:
        _place_rows(held, listing, categories)

    return bool(update_listing(actor, organization, changes, place_rows=place_rows))


def _place_rows(organization: Organization, listing: Listing,
                categories: dict[str, ServiceCategory]) -> None:
    """Services, locations and coverage areas as the listing gives them, matched by HSDS id."""
    _update_services(organization, listing, categories)
    by_id = {location.hsds_id: location for location in organization.locations}
    locations = []
    for payload, location_id, withheld in zip(listing.data["locations"], listing.location_ids,
                                              listing.withheld, strict=True):
        location = by_id.get(location_id)
        if location is None:
            location = build_location(payload)
            location.hsds_id = location_id
        else:
            _update_location(location, payload, withheld)
        locations.append(location)
    if locations != list(organization.locations):
        organization.locations = locations
    if not _same_coverage(organization, listing):
        organization.coverage_areas = coverage_areas(organization, listing, categories)


_WITH_CHILDREN = (selectinload(Organization.locations).selectinload(Location.hours),
                  selectinload(Organization.services), selectinload(Organization.contacts),
                  selectinload(Organization.languages), selectinload(Organization.populations),
                  selectinload(Organization.coverage_areas).selectinload(CoverageArea.services))


class _ByChunk(Generic[Held]):
    """What an import reads of the organizations it updates, a chunk at a time in import
    order (one query per table and chunk, not per organization)."""

    def __init__(self, organization_ids: list[int]) -> None:
        self.chunks = list(chunks(organization_ids))
        self.chunk_of = {item: index for index, chunk in enumerate(self.chunks) for item in chunk}
        self.current = -1
        self.loaded: dict[int, Held] = {}

    def get(self, organization_id: int) -> Held:
        index = self.chunk_of[organization_id]
        if index != self.current:
            self.loaded = self._load(self.chunks[index])
            self.current = index
        return self.loaded[organization_id]

    def _load(self, ids: Sequence[int]) -> dict[int, Held]:
        raise NotImplementedError


class Loader(_ByChunk[Organization]):
    """The organizations, with everything the comparison and the update need."""

    def _load(self, ids: Sequence[int]) -> dict[int, Organization]:
        return {organization.id: organization for organization in db_session.scalars(
            select(Organization).where(Organization.id.in_(ids)).options(*_WITH_CHILDREN))}


class Snapshots(_ByChunk[SimpleNamespace]):
    """What ``unchanged`` reads of the organizations, as plain rows (no ORM objects: building
    those was most of a re-import's time). Each snapshot has the attributes ``unchanged`` reads
    of an Organization, its collections in the relationships' order, with the same column
    types; only a listing it finds changed has its organization loaded (by Loader) and
    updated."""

    def _load(self, ids: Sequence[int]) -> dict[int, SimpleNamespace]:
        return _snapshots(ids)


def _rows(*columns: Any, where: Any, order: Sequence[Any],
          join: tuple[Any, Any] | None = None) -> list[Any]:
    query = select(*columns)
    if join is not None:
        query = query.join(*join)
    return list(db_session.execute(query.where(where).order_by(*order)))


def _snapshots(ids: Sequence[int]) -> dict[int, SimpleNamespace]:
    held = {row.id: SimpleNamespace(**row._mapping, language_codes=[], population_codes=[],
                                     contacts=[], services=[], locations=[], coverage_areas=[])
            for row in _rows(Organization.id, Organization.name,
                             *(getattr(Organization, name) for name in _ORGANIZATION_FIELDS),
                             where=Organization.id.in_(ids), order=[Organization.id])}
    for row in _rows(OrganizationLanguage.organization_id, OrganizationLanguage.code,
                     where=OrganizationLanguage.organization_id.in_(ids),
                     order=[OrganizationLanguage.code]):
        held[row.organization_id].language_codes.append(row.code)
    for row in _rows(OrganizationPopulation.organization_id, OrganizationPopulation.population,
                     where=OrganizationPopulation.organization_id.in_(ids),
                     order=[OrganizationPopulation.population]):
        held[row.organization_id].population_codes.append(row.population)
    for row in _rows(Contact.organization_id, Contact.name, Contact.title, Contact.email,
                     Contact.phone, where=Contact.organization_id.in_(ids), order=[Contact.id]):
        held[row.organization_id].contacts.append(row)
    for row in _rows(Service.organization_id, Service.hsds_id, Service.description,
                     ServiceCategory.code, where=Service.organization_id.in_(ids),
                     order=[Service.id],
                     join=(ServiceCategory, Service.category_id == ServiceCategory.id)):
        held[row.organization_id].services.append(SimpleNamespace(
            hsds_id=row.hsds_id, description=row.description,
            category=SimpleNamespace(code=row.code)))
    locations: dict[int, SimpleNamespace] = {}
    for row in _rows(Location.id, Location.organization_id, Location.hsds_id, Location.name,
                     Location.address, Location.city, Location.state, Location.postal_code,
                     Location.latitude, Location.longitude, Location.true_latitude,
                     Location.true_longitude, Location.confidential, Location.open_24_7,
                     where=Location.organization_id.in_(ids), order=[Location.id]):
        location = locations[row.id] = SimpleNamespace(**row._mapping, hours=[])
        location.true_point = true_point_of(location)
        held[row.organization_id].locations.append(location)
    for row in _rows(OpeningHours.location_id, OpeningHours.weekday, OpeningHours.opens,
                     OpeningHours.closes, where=OpeningHours.location_id.in_(list(locations)),
                     order=[OpeningHours.weekday, OpeningHours.opens]):
        locations[row.location_id].hours.append(row)
    areas: dict[int, SimpleNamespace] = {}
    for row in _rows(CoverageArea.id, CoverageArea.organization_id, CoverageArea.kind,
                     CoverageArea.label, CoverageArea.location_id, CoverageArea.center_lat,
                     CoverageArea.center_lon, CoverageArea.radius_mi, CoverageArea.state,
                     CoverageArea.county_fips, CoverageArea.postal_code, CoverageArea.geojson,
                     where=CoverageArea.organization_id.in_(ids), order=[CoverageArea.id]):
        area = areas[row.id] = SimpleNamespace(**row._mapping, services=[])
        held[row.organization_id].coverage_areas.append(area)
    links = coverage_area_services.c
    by_area: dict[int, list[SimpleNamespace]] = defaultdict(list)
    for row in _rows(links.coverage_area_id, ServiceCategory.code,
                     where=links.coverage_area_id.in_(list(areas)), order=[ServiceCategory.code],
                     join=(ServiceCategory, links.category_id == ServiceCategory.id)):
        by_area[row.coverage_area_id].append(SimpleNamespace(code=row.code))
    for area_id, services in by_area.items():
        areas[area_id].services = services
    return held


def unchanged(organization: Organization | SimpleNamespace, listing: Listing) -> bool:
    """Whether applying ``listing`` would change nothing: the common case of a re-import,
    answered without a savepoint."""
    data = listing.data
    if organization.name != data["name"].strip() or any(
            getattr(organization, name) != data[name] for name in _ORGANIZATION_FIELDS):
        return False
    if (set(organization.language_codes) != set(data["languages"])
            or set(organization.population_codes) != set(data["populations"])):
        return False
    if [(c.name, c.title, c.email, c.phone) for c in organization.contacts] != [
            (c["name"], c["title"], c["email"], c["phone"]) for c in data["contacts"]]:
        return False
    if sorted((s.hsds_id, s.category.code, s.description) for s in organization.services) != \
            sorted((listing.service_ids[code], code, listing.service_descriptions[code])
                   for code in data["services"]):
        return False
    if [location.hsds_id for location in organization.locations] != listing.location_ids:
        return False
    for location, payload, withheld in zip(organization.locations, data["locations"],
                                           listing.withheld, strict=True):
        hours = sorted((item.weekday, item.opens, item.closes) for item in location.hours)
        if hours != _hours(payload) or location.open_24_7 != payload["open_24_7"]:
            return False
        if withheld and location.confidential:
            continue
        if (location.name, location.address, location.city, location.state,
                location.postal_code, *location.true_point, location.confidential) != (
                payload["name"], payload["address"], payload["city"], payload["state"],
                (payload["postal_code"] or "")[:5], payload["latitude"], payload["longitude"],
                payload["confidential"]):
            return False
    return _same_coverage(organization, listing)


