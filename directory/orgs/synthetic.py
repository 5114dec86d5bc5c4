"""Deterministic synthetic networks for benchmarks and load tests.

The same ``count`` and ``random_seed`` always give the same network. Rows are written with
bulk Core inserts (a million organizations would take hours through the ORM), so the generator
builds only values the listing rules accept: known kinds, services, languages and populations,
coordinates from the gazetteer, and well-formed hours.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text

from directory.db import db_session, utcnow
from directory.geo.boundaries import boundaries
from directory.geo.gazetteer import gazetteer
from directory.geo.public import public_point
from directory.geo.states import STATES
from directory.orgs.coverage import circle_bounds
from directory.orgs.models import (
    LANGUAGES,
    CoverageArea,
    CoverageKind,
    Location,
    MembershipStatus,
    OpeningHours,
    Organization,
    OrganizationKind,
    OrganizationLanguage,
    OrganizationPopulation,
    Population,
    Service,
    ServiceCategory,
    coverage_area_services,
)

BATCH_SIZE = 5_000
KIND_WEIGHTS = {
    OrganizationKind.NONPROFIT: 35, OrganizationKind.LAW_ENFORCEMENT: 15,
    OrganizationKind.FAITH_BASED: 15, OrganizationKind.GOVERNMENT: 10,
    OrganizationKind.HEALTHCARE: 10, OrganizationKind.LEGAL: 8,
    OrganizationKind.TRIBAL: 3, OrganizationKind.OTHER: 4,
}
SECOND_LANGUAGES = [code for code in LANGUAGES if code != "en"]
NAME_WORDS = ["Harbor", "Beacon", "Cedar", "Riverside", "Haven", "Bridge", "Summit", "Lantern",
              "Compass", "Meadow", "Horizon", "Anchor", "Willow", "Granite", "Northstar",
              "Open Door"]
NAME_NOUNS = {
    OrganizationKind.NONPROFIT: "Survivor Services", OrganizationKind.LAW_ENFORCEMENT: "Task Force",
    OrganizationKind.FAITH_BASED: "Ministry", OrganizationKind.GOVERNMENT: "Victim Services Office",
    OrganizationKind.HEALTHCARE: "Clinic", OrganizationKind.LEGAL: "Legal Aid",
    OrganizationKind.TRIBAL: "Tribal Family Services", OrganizationKind.OTHER: "Cooperative",
}
Progress = Callable[[int], None]


@dataclass
class SyntheticReport:
    organizations: int
    locations: int
    services: int
    skipped: bool


def slug_prefix(random_seed: int) -> str:
    return f"synthetic-s{random_seed}-"


def generate_synthetic_network(count: int, random_seed: int,
                               progress: Progress | None = None) -> SyntheticReport:
    """Insert ``count`` synthetic active organizations; a network already generated with the
    same seed is left as it is."""
    if count < 1:
        raise ValueError("The synthetic network needs at least one organization.")
    prefix = slug_prefix(random_seed)
    if db_session.scalar(select(Organization.id).where(Organization.slug.startswith(prefix))):
        return SyntheticReport(0, 0, 0, skipped=True)
    categories = list(db_session.scalars(select(ServiceCategory.id).order_by(ServiceCategory.code)))
    if not categories:
        raise ValueError("Load the services taxonomy first (`directory seed`).")
    zips = sorted((area for area in gazetteer().zips.values()
                   if area.standard and area.state not in {"PR", "GU", "VI", "AS", "MP"}),
                  key=lambda area: area.code)
    rng = random.Random(random_seed)
    ids = _IdAllocator()
    totals = [0, 0, 0]
    for start in range(0, count, BATCH_SIZE):
        size = min(BATCH_SIZE, count - start)
        rows = _Batch()
        for offset in range(size):
            _one_organization(rng, start + offset + 1, prefix, categories, zips, ids, rows)
        rows.write()
        totals[0] += size
        totals[1] += len(rows.locations)
        totals[2] += len(rows.services)
        if progress:
            progress(size)
    ids.sync_sequences()
    return SyntheticReport(*totals, skipped=False)


class _IdAllocator:
    """Explicit primary keys, so child rows can point at parents without a round trip."""

    def __init__(self) -> None:
        self.next = {model: (db_session.scalar(select(func.max(model.id))) or 0) + 1
                     for model in (Organization, Location, Service, OpeningHours, CoverageArea)}

    def take(self, model: type) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value

    def sync_sequences(self) -> None:
        if db_session.get_bind().dialect.name != "postgresql":
            return
        for model in self.next:
            table = model.__tablename__  # type: ignore[attr-defined]
            db_session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))


class _Batch:
    def __init__(self) -> None:
        self.organizations: list[dict[str, Any]] = []
        self.locations: list[dict[str, Any]] = []
        self.hours: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.languages: list[dict[str, Any]] = []
        self.populations: list[dict[str, Any]] = []
        self.coverage: list[dict[str, Any]] = []
        self.coverage_services: list[dict[str, Any]] = []

    def write(self) -> None:
        for table, rows in ((Organization, self.organizations), (Location, self.locations),
                            (OpeningHours, self.hours), (Service, self.services),
                            (OrganizationLanguage, self.languages),
                            (OrganizationPopulation, self.populations),
                            (CoverageArea, self.coverage),
                            (coverage_area_services, self.coverage_services)):
            if rows:
                db_session.execute(insert(table), rows)


def _jitter(rng: random.Random, lat: float, lon: float, miles: float) -> tuple[float, float]:
    distance = miles * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 69.0
    dlon = distance * math.sin(bearing) / (69.0 * max(0.2, math.cos(math.radians(lat))))
    return (round(max(-90.0, min(90.0, lat + dlat)), 6),
            round(max(-180.0, min(180.0, lon + dlon)), 6))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _one_organization(rng: random.Random, number: int, prefix: str, categories: list[int],
                      zips: list[Any], ids: _IdAllocator, rows: _Batch) -> None:
    now = utcnow()
    kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
    home = rng.choice(zips)
    org_id = ids.take(Organization)
    verified_days = rng.randrange(0, 730) if rng.random() < 0.9 else None
    rows.organizations.append({
        "id": org_id, "hsds_id": _uuid(rng), "slug": f"{prefix}{number:07d}",
        "name": f"{rng.choice(NAME_WORDS)} {NAME_NOUNS[kind]} {home.city} #{number}",
        "kind": kind, "description": f"Synthetic organization {number} for load tests.",
        "website": None, "email": None, "phone": None,
        "accepting_referrals": rng.random() < 0.85, "status": MembershipStatus.ACTIVE,
        "verified_at": None if verified_days is None else now - dt.timedelta(days=verified_days),
        "verified_by_id": None, "joined_at": now, "created_at": now, "updated_at": now,
    })
    placed: list[dict[str, Any]] = []
    for index in range(1 if rng.random() < 0.8 else 2):
        lat, lon = _jitter(rng, home.lat, home.lon, 3 if index == 0 else 30)
        location_id = ids.take(Location)
        open_24_7 = rng.random() < 0.1
        confidential = rng.random() < 0.08
        true_lat, true_lon = (lat, lon) if confidential else (None, None)
        if confidential:  # searched and published at its public point, as Location.place does
            lat, lon = public_point(home.city, home.state, lat, lon)
        location = {
            "id": location_id, "hsds_id": _uuid(rng), "organization_id": org_id,
            "name": "Main office" if index == 0 else "Satellite office", "address": "",
            "city": home.city, "state": home.state, "postal_code": home.code,
            "county": home.county, "latitude": lat, "longitude": lon,
            "true_latitude": true_lat, "true_longitude": true_lon,
            "timezone": home.timezone or "America/New_York",
            "confidential": confidential, "open_24_7": open_24_7,
        }
        rows.locations.append(location)
        placed.append(location)
        if not open_24_7 and rng.random() < 0.6:
            for weekday in range(5):
                rows.hours.append({"id": ids.take(OpeningHours), "location_id": location_id,
                                   "weekday": weekday, "opens": dt.time(9), "closes": dt.time(17)})
    offered = rng.sample(categories, rng.randint(1, 4))
    for category_id in offered:
        rows.services.append({"id": ids.take(Service), "hsds_id": _uuid(rng),
                              "organization_id": org_id, "category_id": category_id,
                              "description": ""})
    _coverage(rng, org_id, placed[0], home, offered, ids, rows)
    languages = {"en"} | set(rng.sample(SECOND_LANGUAGES, rng.choice((0, 0, 1, 1, 2))))
    rows.languages.extend({"organization_id": org_id, "code": code} for code in sorted(languages))
    for population in rng.sample(list(Population), rng.randint(1, 3)):
        rows.populations.append({"organization_id": org_id, "population": population})



def _coverage(rng: random.Random, org_id: int, location: dict[str, Any], home: Any,
              offered: list[int], ids: _IdAllocator, rows: _Batch) -> None:
    """One coverage area: mostly a 5-200 mile radius, sometimes a state, county, ZIP or polygon."""
    area_id = ids.take(CoverageArea)
    lat, lon = location["latitude"], location["longitude"]
    row: dict[str, Any] = {
        "id": area_id, "organization_id": org_id, "location_id": None, "center_lat": None,
        "center_lon": None, "radius_mi": None, "state": None, "county_fips": None,
        "postal_code": None, "geojson": None, "created_at": utcnow(),
    }
    draw = rng.random()
    county = boundaries().at(lat, lon).county if 0.85 <= draw < 0.90 else None
    if draw < 0.85 or (0.85 <= draw < 0.90 and county is None):
        radius = round(rng.uniform(5, 200), 1)
        row.update(kind=CoverageKind.RADIUS, label=f"Within {radius:g} mi",
                   location_id=location["id"], center_lat=lat, center_lon=lon, radius_mi=radius)
        bounds = circle_bounds(lat, lon, radius)
    elif county is not None:
        row.update(kind=CoverageKind.COUNTY, label=county.label,
                   county_fips=county.fips, state=county.state)
        bounds = boundaries().county_bounds(county.fips)
    elif draw < 0.95 and home.state in boundaries().state_bounds:
        row.update(kind=CoverageKind.STATE, label=STATES[home.state], state=home.state)
        bounds = boundaries().state_bounds[home.state]
    elif draw < 0.98:
        row.update(kind=CoverageKind.ZIP, label=f"ZIP {home.code}", postal_code=home.code,
                   state=home.state)
        bounds = circle_bounds(home.lat, home.lon, 5)
    else:
        half = rng.uniform(0.05, 0.5)
        ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
                [lon - half, lat + half], [lon - half, lat - half]]
        row.update(kind=CoverageKind.POLYGON, label="Drawn service area",
                   geojson=json.dumps({"type": "Polygon", "coordinates": [ring]},
                                      separators=(",", ":")))
        bounds = (lat - half, lat + half, lon - half, lon + half)
    row.update(min_lat=bounds[0], max_lat=bounds[1], min_lon=bounds[2], max_lon=bounds[3])
    rows.coverage.append(row)
    if rng.random() < 0.1:
        rows.coverage_services.append({"coverage_area_id": area_id,
                                       "category_id": rng.choice(offered)})
