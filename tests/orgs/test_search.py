"""Who is near a point, who covers it: ranking, distances, paging, filters, the spatial index
kept in step, result presentation, and a randomized cross-check against brute force."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.db import utcnow
from directory.geo.distance import EARTH_RADIUS_MI, haversine_mi
from directory.geo.gazetteer import gazetteer
from directory.orgs.coverage import PointContext, add_coverage_area, locate
from directory.orgs.models import (
    CoverageArea,
    MembershipStatus,
    Organization,
    OrganizationKind,
    Population,
)
from directory.orgs.results import METERS_PER_MILE, present
from directory.orgs.schemas import CoverageAreaSchema, SearchQuerySchema
from directory.orgs.search import (
    SearchError,
    SearchFilters,
    SearchResults,
    covering,
    covering_among,
    near,
    search,
)
from tests.factories import Factory

HOUSTON = (29.7604, -95.3698)      # downtown Houston, Harris County, TX
DALLAS = (32.7767, -96.7970)
COLUMBUS = (39.9612, -82.9988)
DOWNTOWN_SQUARE = [[-95.42, 29.72], [-95.30, 29.72], [-95.30, 29.82], [-95.42, 29.82],
                   [-95.42, 29.72]]


def destination(origin: tuple[float, float], bearing: float, miles: float) -> tuple[float, float]:
    """The point ``miles`` from ``origin`` along the great circle at ``bearing`` degrees."""
    angle, theta = miles / EARTH_RADIUS_MI, math.radians(bearing)
    lat1, lon1 = math.radians(origin[0]), math.radians(origin[1])
    lat2 = math.asin(math.sin(lat1) * math.cos(angle)
                     + math.cos(lat1) * math.sin(angle) * math.cos(theta))
    lon2 = lon1 + math.atan2(math.sin(theta) * math.sin(angle) * math.cos(lat1),
                             math.cos(angle) - math.sin(lat1) * math.sin(lat2))
    lon = (math.degrees(lon2) + 540) % 360 - 180
    return math.degrees(lat2), lon


def location(point: tuple[float, float], **extra: Any) -> dict[str, Any]:
    return {"name": "Site", "city": "Houston", "state": "TX", "latitude": point[0],
            "longitude": point[1], **extra}


def org_at(factory: Factory, *points: tuple[float, float], **listing: Any) -> Organization:
    return factory.organization(locations=[location(point) for point in points], **listing)


def add(organization: Organization, **data: Any) -> CoverageArea:
    return add_coverage_area(organization, CoverageAreaSchema().load(data))


def ids(results: SearchResults) -> list[int]:
    return [hit.organization_id for hit in results.hits]


def here() -> PointContext:
    return locate(*HOUSTON)


# --- near --------------------------------------------------------------------------------------

def test_near_lists_nearest_first_with_exact_distances(factory: Factory) -> None:
    distances = {"three": (3, 40), "one": (1, 200), "seven": (7, 310), "fifteen": (15, 95),
                 "thirty": (30, 170)}
    organizations = {name: org_at(factory, destination(HOUSTON, bearing, miles))
                     for name, (miles, bearing) in distances.items()}

    results = near(here(), 50)

    expected = sorted(organizations, key=lambda name: distances[name][0])
    assert ids(results) == [organizations[name].id for name in expected]
    by_id = {org.id: org for org in organizations.values()}
    for hit in results.hits:
        site = by_id[hit.organization_id].locations[0]
        assert hit.location_id == site.id
        assert hit.distance_mi == pytest.approx(
            haversine_mi(*HOUSTON, site.latitude, site.longitude), abs=0.01)
    assert [round(hit.distance_mi or 0) for hit in results.hits] == [1, 3, 7, 15, 30]
    assert results.mode == "near" and results.radius_mi == 50 and results.total == 5


def test_near_respects_the_radius(factory: Factory) -> None:
    inside = org_at(factory, destination(HOUSTON, 0, 9.9))
    outside = org_at(factory, destination(HOUSTON, 180, 10.1))
    far = org_at(factory, DALLAS)
    assert ids(near(here(), 10)) == [inside.id]
    assert ids(near(here(), 11)) == [inside.id, outside.id]
    assert far.id not in ids(near(here(), 200))
    assert ids(near(here(), 250))[-1] == far.id
    assert ids(near(locate(*DALLAS), 5)) == [far.id]


def test_near_lists_an_organization_once_with_its_nearest_location(factory: Factory) -> None:
    two_sites = org_at(factory, destination(HOUSTON, 90, 20), destination(HOUSTON, 270, 3))
    one_site = org_at(factory, destination(HOUSTON, 0, 5))

    results = near(here(), 50)

    assert ids(results) == [two_sites.id, one_site.id]
    first = results.hits[0]
    assert first.location_id == two_sites.locations[1].id
    assert first.distance_mi == pytest.approx(3, abs=0.01)
    # Within 4 miles only the nearer site counts; beyond it, still once.
    assert ids(near(here(), 4)) == [two_sites.id]
    assert [hit.location_id for hit in near(here(), 25).hits] == [
        two_sites.locations[1].id, one_site.locations[0].id]


def test_near_fills_the_page_when_a_few_organizations_hold_the_nearest_locations(
        factory: Factory) -> None:
    """On PostGIS the nearest locations are walked in growing steps; three organizations with
    30 sites each nearest the point must not crowd out the page."""
    crowded = [org_at(factory, *[destination(HOUSTON, (index * 97 + site * 12) % 360,
                                             0.2 + index * 0.01 + site * 0.02)
                                 for site in range(30)])
               for index in range(3)]
    others = [org_at(factory, destination(HOUSTON, index * 40, 2 + index)) for index in range(9)]
    expected = [organization.id for organization in [*crowded, *others]]
    assert ids(near(here(), 50, limit=10)) == expected[:10]
    assert ids(near(here(), 50, limit=5, offset=5)) == expected[5:10]
    assert ids(near(here(), 50, limit=10, offset=10)) == expected[10:]
    assert ids(near(here(), 5, limit=10)) == expected[:6]  # the radius still holds


def _spread(factory: Factory, count: int) -> list[Organization]:
    """``count`` organizations at distinct distances from downtown, in distance order: some in
    the first small ring of the search, most beyond it."""
    return [org_at(factory, destination(HOUSTON, (index * 137) % 360, 0.7 + index * 2.9))
            for index in range(count)]


@pytest.mark.parametrize("with_total", [False, True])
def test_near_pages_continue_without_overlap(factory: Factory, with_total: bool) -> None:
    organizations = _spread(factory, 14)
    expected = [org.id for org in organizations]
    assert ids(near(here(), 50, limit=100)) == expected

    pages = [near(here(), 50, limit=4, offset=offset, with_total=with_total)
             for offset in range(0, 16, 4)]

    assert [len(page.hits) for page in pages] == [4, 4, 4, 2]
    assert [organization_id for page in pages for organization_id in ids(page)] == expected
    if with_total:
        assert [page.total for page in pages] == [14, 14, 14, 14]
    else:
        assert [page.total for page in pages] == [None, None, None, 14]


@pytest.mark.parametrize("with_total", [False, True])
def test_last_page_has_no_more(factory: Factory, with_total: bool) -> None:
    _spread(factory, 6)
    first = near(here(), 50, limit=4, with_total=with_total)
    last = near(here(), 50, limit=4, offset=4, with_total=with_total)
    assert first.has_more and len(last.hits) == 2
    assert not last.has_more


def test_near_counts_matches_within_the_radius_only(factory: Factory) -> None:
    _spread(factory, 14)  # 0.7 .. 38.4 miles
    assert near(here(), 20, limit=2, with_total=True).total == 7
    assert near(here(), 20, limit=2, offset=6, with_total=True).total == 7
    assert near(here(), 20, limit=2, offset=40, with_total=True).total == 7
    assert near(here(), 0.5, with_total=True).total == 0


def test_near_page_past_the_end_does_not_claim_more(factory: Factory) -> None:
    _spread(factory, 6)
    beyond = near(here(), 50, limit=5, offset=20)
    assert beyond.hits == []
    assert beyond.total is None or beyond.total <= 6


@pytest.mark.parametrize("status", [MembershipStatus.PENDING, MembershipStatus.SUSPENDED,
                                    MembershipStatus.DECLINED])
def test_only_active_organizations_are_found(factory: Factory, status: MembershipStatus) -> None:
    active = org_at(factory, destination(HOUSTON, 0, 2))
    inactive = org_at(factory, destination(HOUSTON, 0, 1), status=status)
    for organization in (active, inactive):
        add(organization, kind="state", state="TX")
        add(organization, kind="radius", radius_mi=10,
            location_id=organization.locations[0].id)
    assert ids(near(here(), 50, with_total=True)) == [active.id]
    assert near(here(), 50, with_total=True).total == 1
    assert ids(covering(here(), with_total=True)) == [active.id]
    assert covering(here(), with_total=True).total == 1
    assert ids(covering(here(), limit=1)) == [active.id]


# --- filters (near and covering alike) -----------------------------------------------------------

@pytest.fixture()
def varied(factory: Factory) -> dict[str, Organization]:
    """Three Houston partners that differ in every filtered attribute; each covers Texas."""
    organizations = {
        "youth_shelter": org_at(factory, destination(HOUSTON, 0, 1),
                                kind=OrganizationKind.NONPROFIT, services=["shelter.youth"],
                                languages=["en", "es"], populations=["adolescents"],
                                accepting_referrals=True),
        "immigration_law": org_at(factory, destination(HOUSTON, 90, 2),
                                  kind=OrganizationKind.LEGAL, services=["legal.immigration"],
                                  languages=["en"], populations=["foreign_nationals", "adults"],
                                  accepting_referrals=False),
        "police": org_at(factory, destination(HOUSTON, 180, 3),
                         kind=OrganizationKind.LAW_ENFORCEMENT,
                         services=["investigation", "case_management"], languages=["en", "vi"],
                         populations=["adults"], accepting_referrals=True),
    }
    for organization in organizations.values():
        add(organization, kind="state", state="TX")
    return organizations


@pytest.mark.parametrize(("filters", "expected"), [
    (SearchFilters(), ["youth_shelter", "immigration_law", "police"]),
    (SearchFilters(service="shelter"), ["youth_shelter"]),
    (SearchFilters(service="shelter.youth"), ["youth_shelter"]),
    (SearchFilters(service="shelter.emergency"), []),
    (SearchFilters(service="legal"), ["immigration_law"]),
    (SearchFilters(service="case_management"), ["police"]),
    (SearchFilters(kinds=(OrganizationKind.LEGAL,)), ["immigration_law"]),
    (SearchFilters(kinds=(OrganizationKind.LAW_ENFORCEMENT, OrganizationKind.NONPROFIT)),
     ["youth_shelter", "police"]),
    (SearchFilters(kinds=(OrganizationKind.TRIBAL,)), []),
    (SearchFilters(language="es"), ["youth_shelter"]),
    (SearchFilters(language="vi"), ["police"]),
    (SearchFilters(language="en"), ["youth_shelter", "immigration_law", "police"]),
    (SearchFilters(language="so"), []),
    (SearchFilters(population=Population.ADOLESCENTS), ["youth_shelter"]),
    (SearchFilters(population=Population.ADULTS), ["immigration_law", "police"]),
    (SearchFilters(population=Population.CHILDREN), []),
    (SearchFilters(accepting_referrals=True), ["youth_shelter", "police"]),
    (SearchFilters(service="legal", accepting_referrals=True), []),
    (SearchFilters(kinds=(OrganizationKind.LAW_ENFORCEMENT,), language="vi",
                   population=Population.ADULTS, accepting_referrals=True), ["police"]),
], ids=lambda value: repr(value) if isinstance(value, SearchFilters) else None)
def test_each_filter_narrows_near_and_covering(varied: dict[str, Organization],
                                               filters: SearchFilters,
                                               expected: list[str]) -> None:
    wanted = [varied[name].id for name in expected]
    assert ids(near(here(), 50, filters)) == wanted
    assert ids(near(here(), 50, filters, with_total=True)) == wanted
    assert ids(covering(here(), filters, with_total=True)) == wanted
    assert covering(here(), filters, with_total=True).total == len(wanted)
    assert ids(covering(here(), filters, limit=1)) == wanted[:1]


def test_verified_within_days(db: Session, varied: dict[str, Organization]) -> None:
    varied["youth_shelter"].verified_at = utcnow() - dt.timedelta(days=10)
    varied["immigration_law"].verified_at = utcnow() - dt.timedelta(days=100)
    db.flush()  # the police listing was never verified
    recent = SearchFilters(verified_within_days=30)
    assert ids(near(here(), 50, recent)) == [varied["youth_shelter"].id]
    assert ids(covering(here(), recent, with_total=True)) == [varied["youth_shelter"].id]
    assert ids(near(here(), 50, SearchFilters(verified_within_days=365))) == [
        varied["youth_shelter"].id, varied["immigration_law"].id]
    assert ids(near(here(), 50, SearchFilters(verified_within_days=5))) == []


WEEKDAYS_9_TO_5 = [{"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "09:00",
                    "closes": "17:00"}]


def at(text_: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_).replace(tzinfo=dt.UTC)


@pytest.fixture()
def opening(factory: Factory) -> dict[str, Organization]:
    """An office open weekdays 9-5 in Houston (Central time), a 24/7 hotline, an office open
    9-5 in Columbus (Eastern time); all cover Texas."""
    organizations = {
        "office": factory.organization(locations=[location(destination(HOUSTON, 0, 1),
                                                           hours=WEEKDAYS_9_TO_5)]),
        "hotline": factory.organization(locations=[location(destination(HOUSTON, 0, 2),
                                                            open_24_7=True)]),
        "columbus": factory.organization(locations=[{
            "city": "Columbus", "state": "OH", "postal_code": "43215", "hours": WEEKDAYS_9_TO_5}]),
    }
    assert organizations["office"].locations[0].timezone == "America/Chicago"
    assert organizations["columbus"].locations[0].timezone == "America/New_York"
    for organization in organizations.values():
        add(organization, kind="state", state="TX")
    return organizations


@pytest.mark.parametrize(("now", "expected"), [
    (at("2026-12-02T15:00:00"), ["office", "hotline", "columbus"]),  # Wed 09:00 CST, 10:00 EST
    (at("2026-12-02T14:59:00"), ["hotline", "columbus"]),            # Wed 08:59 CST
    (at("2026-12-02T13:59:00"), ["hotline"]),                        # Wed 08:59 EST
    (at("2026-12-02T22:30:00"), ["office", "hotline"]),              # Wed 16:30 CST, 17:30 EST
    (at("2026-12-02T23:00:00"), ["hotline"]),                        # Wed 17:00 CST: closed
    (at("2026-12-05T18:00:00"), ["hotline"]),                        # Saturday noon
    (at("2026-07-01T14:30:00"), ["office", "hotline", "columbus"]),  # Wed 09:30 CDT
    (at("2026-07-01T13:30:00"), ["hotline", "columbus"]),            # Wed 08:30 CDT, 09:30 EDT
])
def test_open_now_follows_each_locations_hours_in_its_own_time_zone(
        opening: dict[str, Organization], now: dt.datetime, expected: list[str]) -> None:
    open_now = SearchFilters(open_now=True)
    wanted = [opening[name].id for name in expected]
    assert ids(covering(here(), open_now, now=now, with_total=True)) == wanted
    assert covering(here(), open_now, now=now, with_total=True).total == len(wanted)
    assert ids(near(here(), 50, open_now, now=now)) == [
        opening[name].id for name in expected if name != "columbus"]
    # Without the filter the hours do not matter.
    assert len(ids(covering(here(), now=now))) == 3


def test_open_now_ranks_by_the_nearest_open_location(factory: Factory) -> None:
    organization = factory.organization(locations=[
        location(destination(HOUSTON, 0, 1), hours=WEEKDAYS_9_TO_5),
        location(destination(HOUSTON, 0, 6), open_24_7=True)])
    night = near(here(), 50, SearchFilters(open_now=True), now=at("2026-12-03T05:00:00"))
    assert ids(night) == [organization.id]
    assert night.hits[0].location_id == organization.locations[1].id
    assert night.hits[0].distance_mi == pytest.approx(6, abs=0.01)


def test_near_flags_the_organizations_that_cover_the_point(factory: Factory) -> None:
    covers = org_at(factory, destination(HOUSTON, 0, 3))
    add(covers, kind="radius", radius_mi=5, location_id=covers.locations[0].id)
    too_small = org_at(factory, destination(HOUSTON, 0, 4))
    add(too_small, kind="radius", radius_mi=3, location_id=too_small.locations[0].id)
    elsewhere = org_at(factory, destination(HOUSTON, 0, 5))
    add(elsewhere, kind="state", state="OH")
    by_zip = org_at(factory, destination(HOUSTON, 0, 6), services=["shelter.youth", "legal"])
    add(by_zip, kind="zip", postal_code="77002", services=["legal"])
    nothing = org_at(factory, destination(HOUSTON, 0, 7))

    point = locate(29.7502, -95.3677, "77002")
    results = near(point, 50)
    assert ids(results) == [covers.id, too_small.id, elsewhere.id, by_zip.id, nothing.id]
    assert results.covering_ids == {covers.id, by_zip.id}
    # The ZIP area is limited to legal services: for a shelter search it does not cover.
    assert near(point, 50, SearchFilters(service="shelter")).covering_ids == set()
    assert near(point, 50, SearchFilters(service="legal")).covering_ids == {by_zip.id}
    assert covering_among([covers.id, nothing.id], point) == {covers.id}
    assert covering_among([], point) == set()


# --- covering ----------------------------------------------------------------------------------

def test_covering_finds_every_kind_of_area(factory: Factory) -> None:
    nearby = destination(HOUSTON, 45, 2)
    kinds = {
        "state": {"kind": "state", "state": "TX"},
        "county": {"kind": "county", "county": "Harris County", "state": "TX"},
        "zip": {"kind": "zip", "postal_code": "77002"},
        "radius": {"kind": "radius", "radius_mi": 3, "center": "77002"},
        "polygon": {"kind": "polygon", "geojson": json.dumps(
            {"type": "Polygon", "coordinates": [DOWNTOWN_SQUARE]})},
    }
    misses = {
        "state": {"kind": "state", "state": "OH"},
        "county": {"kind": "county", "county": "Galveston", "state": "TX"},
        "zip": {"kind": "zip", "postal_code": "77003"},
        "radius": {"kind": "radius", "radius_mi": 50, "center": "Dallas, TX"},
        "polygon": {"kind": "polygon", "geojson": json.dumps({"type": "Polygon", "coordinates": [
            [[-83.1, 39.9], [-82.9, 39.9], [-82.9, 40.0], [-83.1, 40.0], [-83.1, 39.9]]]})},
    }
    found = {}
    for name, data in kinds.items():
        found[name] = org_at(factory, nearby)
        add(found[name], **data)
    missed = []
    for data in misses.values():
        missed.append(org_at(factory, nearby))
        add(missed[-1], **data)

    point = locate(29.7502, -95.3677, "77002")  # downtown, in ZIP 77002
    results = covering(point, with_total=True)
    assert set(ids(results)) == {org.id for org in found.values()}
    assert results.total == 5 and results.mode == "covering"
    assert results.covering_ids == {org.id for org in found.values()}
    # Page by page, the search answers from its rings around the point instead.
    pages = [covering(point, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [org_id for page in pages for org_id in ids(page)] == ids(results)
    assert set(ids(near(point, 10))) == {org.id for org in [*found.values(), *missed]}
    assert near(point, 10).covering_ids == {org.id for org in found.values()}


def test_covering_ranks_by_nearest_location_with_locationless_last(factory: Factory) -> None:
    thirty = org_at(factory, destination(HOUSTON, 90, 30))
    two = org_at(factory, destination(HOUSTON, 270, 30), destination(HOUSTON, 0, 2))
    dallas = org_at(factory, DALLAS)
    nowhere = factory.organization(locations=[])
    for organization in (thirty, two, dallas, nowhere):
        add(organization, kind="state", state="TX")

    results = covering(here(), with_total=True)

    assert ids(results) == [two.id, thirty.id, dallas.id, nowhere.id]
    assert results.total == 4
    assert [hit.location_id for hit in results.hits] == [
        two.locations[1].id, thirty.locations[0].id, dallas.locations[0].id, None]
    assert results.hits[0].distance_mi == pytest.approx(2, abs=0.01)
    assert results.hits[1].distance_mi == pytest.approx(30, abs=0.01)
    assert results.hits[2].distance_mi == pytest.approx(haversine_mi(*HOUSTON, *DALLAS), abs=0.01)
    assert results.hits[3].distance_mi is None
    # Paged: the first pages come from the rings around the point, the last from everywhere.
    pages = [covering(here(), limit=1, offset=offset, with_total=True) for offset in range(5)]
    assert [ids(page) for page in pages] == [[two.id], [thirty.id], [dallas.id], [nowhere.id], []]
    assert {page.total for page in pages} == {4}
    halves = [covering(here(), limit=2, offset=offset) for offset in (0, 2)]
    assert ids(halves[0]) + ids(halves[1]) == ids(results)


def test_covering_lists_every_organization_without_a_location(factory: Factory) -> None:
    located = org_at(factory, destination(HOUSTON, 0, 1))
    hotlines = [factory.organization(locations=[]) for _ in range(3)]
    for organization in (located, *hotlines):
        add(organization, kind="state", state="TX")
    results = covering(here(), with_total=True)
    assert results.total == 4
    assert ids(results) == [located.id, *sorted(org.id for org in hotlines)]


def test_coverage_limited_to_a_parent_service_counts_for_its_sub_services(
        factory: Factory) -> None:
    shelter = org_at(factory, HOUSTON, services=["shelter.youth"])
    add(shelter, kind="state", state="TX", services=["shelter"])
    assert shelter.id in ids(covering(here(), SearchFilters(service="shelter.youth")))
    assert shelter.id in ids(covering(here(), SearchFilters(service="shelter")))
    assert shelter.id not in ids(covering(here(), SearchFilters(service="legal")))


def test_service_limited_coverage_counts_only_for_that_service(factory: Factory) -> None:
    both = org_at(factory, destination(HOUSTON, 0, 1),
                  services=["shelter.youth", "legal.immigration"])
    add(both, kind="state", state="TX", services=["legal.immigration"])
    add(both, kind="state", state="OH")  # everything, but elsewhere

    def covering_for(service: str | None) -> list[int]:
        return ids(covering(here(), SearchFilters(service=service), with_total=True))

    assert covering_for(None) == [both.id]
    assert covering_for("legal") == [both.id]
    assert covering_for("legal.immigration") == [both.id]
    assert covering_for("shelter") == []
    assert covering_for("shelter.youth") == []
    assert ids(covering(here(), SearchFilters(service="shelter"), limit=1)) == []
    assert covering(here(), SearchFilters(service="shelter"), with_total=True).total == 0
    # Near finds it for either service (it has a location here), covering only for legal work.
    assert ids(near(here(), 10, SearchFilters(service="shelter"))) == [both.id]

    add(both, kind="radius", radius_mi=5, location_id=both.locations[0].id,
        services=["shelter.youth"])
    assert covering_for("shelter") == [both.id]
    assert covering_for("shelter.youth") == [both.id]


def test_covering_pages_and_total_agree(factory: Factory) -> None:
    organizations = _spread(factory, 11)
    for organization in organizations:
        add(organization, kind="county", county="Harris", state="TX")
    expected = [org.id for org in organizations]
    everything = covering(here(), limit=100, with_total=True)
    assert ids(everything) == expected and everything.total == 11
    pages = [covering(here(), limit=3, offset=offset, with_total=True) for offset in (0, 3, 6, 9)]
    assert [org_id for page in pages for org_id in ids(page)] == expected
    assert [page.total for page in pages] == [11] * 4
    assert covering(here(), limit=3).total is None  # a full page, not counted
    assert covering(here(), limit=3, offset=9).total == 11


def test_covering_respects_the_other_filters(varied: dict[str, Organization],
                                             factory: Factory) -> None:
    elsewhere = org_at(factory, COLUMBUS, kind=OrganizationKind.LEGAL)
    add(elsewhere, kind="state", state="TX")  # covers Texas from Ohio
    legal = SearchFilters(kinds=(OrganizationKind.LEGAL,))
    assert ids(covering(here(), legal, with_total=True)) == [varied["immigration_law"].id,
                                                             elsewhere.id]
    assert ids(near(here(), 50, legal)) == [varied["immigration_law"].id]


# --- the spatial index of locations -------------------------------------------------------------

def test_near_follows_a_location_that_moves(db: Session, factory: Factory) -> None:
    organization = org_at(factory, destination(HOUSTON, 0, 2))
    site = organization.locations[0]
    assert ids(near(here(), 10)) == [organization.id]

    site.latitude, site.longitude = COLUMBUS
    db.flush()
    assert ids(near(here(), 10)) == []
    moved = near(locate(*COLUMBUS), 10)
    assert ids(moved) == [organization.id]
    assert moved.hits[0].distance_mi == pytest.approx(0, abs=0.01)

    site.latitude, site.longitude = destination(HOUSTON, 90, 4)
    db.flush()
    back = near(here(), 10)
    assert ids(back) == [organization.id] and back.hits[0].distance_mi == pytest.approx(4, abs=0.01)
    assert ids(near(locate(*COLUMBUS), 10)) == []


def test_deleted_organization_leaves_neither_index(db: Session, factory: Factory) -> None:
    doomed = org_at(factory, destination(HOUSTON, 0, 1))
    add(doomed, kind="radius", radius_mi=5, location_id=doomed.locations[0].id)
    add(doomed, kind="polygon", geojson=json.dumps({"type": "Polygon",
                                                    "coordinates": [DOWNTOWN_SQUARE]}))
    survivor = org_at(factory, destination(HOUSTON, 0, 2))
    add(survivor, kind="radius", radius_mi=5, location_id=survivor.locations[0].id)
    assert ids(near(here(), 10)) == [doomed.id, survivor.id]
    assert ids(covering(here(), with_total=True)) == [doomed.id, survivor.id]

    db.delete(doomed)
    db.flush()

    assert ids(near(here(), 10, with_total=True)) == [survivor.id]
    assert ids(covering(here(), with_total=True)) == [survivor.id]
    assert covering_among([doomed.id, survivor.id], here()) == {survivor.id}


def test_organization_deleted_in_sql_cascades_out_of_the_indexes(db: Session,
                                                                 factory: Factory) -> None:
    doomed = org_at(factory, destination(HOUSTON, 0, 1))
    add(doomed, kind="radius", radius_mi=5, location_id=doomed.locations[0].id)
    doomed_id = doomed.id
    db.execute(delete(Organization).where(Organization.id == doomed_id))
    db.expunge_all()
    assert ids(near(here(), 10)) == []
    assert ids(covering(here(), with_total=True)) == []


@pytest.fixture()
def sqlite_db(db: Session) -> Session:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("the R*Tree tables exist on SQLite only")
    return db


def indexed(db: Session, table: str, row_id: int) -> tuple[float, ...] | None:
    row = db.execute(text(f"SELECT min_lat, max_lat, min_lon, max_lon FROM {table} "  # noqa: S608
                          "WHERE id = :id"), {"id": row_id}).one_or_none()
    return None if row is None else tuple(row)


def test_location_rtree_rows_follow_inserts_updates_and_deletes(sqlite_db: Session,
                                                               factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=5, location_id=organization.locations[0].id)
    site_id = organization.locations[0].id
    assert indexed(sqlite_db, "location_index", site_id) == pytest.approx(
        (HOUSTON[0], HOUSTON[0], HOUSTON[1], HOUSTON[1]), abs=1e-4)

    organization.locations[0].latitude, organization.locations[0].longitude = COLUMBUS
    sqlite_db.flush()
    assert indexed(sqlite_db, "location_index", site_id) == pytest.approx(
        (COLUMBUS[0], COLUMBUS[0], COLUMBUS[1], COLUMBUS[1]), abs=1e-4)

    sqlite_db.delete(organization)
    sqlite_db.flush()
    assert indexed(sqlite_db, "location_index", site_id) is None
    assert indexed(sqlite_db, "coverage_index", area.id) is None


def test_sql_cascade_clears_the_rtree_rows(sqlite_db: Session, factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=5, location_id=organization.locations[0].id)
    drawn = add(organization, kind="polygon", geojson=json.dumps(
        {"type": "Polygon", "coordinates": [DOWNTOWN_SQUARE]}))
    site_id = organization.locations[0].id
    sqlite_db.execute(delete(Organization).where(Organization.id == organization.id))
    assert indexed(sqlite_db, "location_index", site_id) is None
    assert indexed(sqlite_db, "coverage_index", area.id) is None
    assert indexed(sqlite_db, "polygon_index", drawn.id) is None


# --- near the edges of the map -------------------------------------------------------------------

ADAK = (51.88, -176.65)  # Aleutians, AK: the state crosses the 180th meridian


def test_search_crosses_the_180th_meridian(factory: Factory) -> None:
    organization = org_at(factory, ADAK)
    add(organization, kind="radius", radius_mi=300, location_id=organization.locations[0].id)
    across = (52.0, 179.0)  # west of the meridian, 185 miles from Adak
    assert haversine_mi(*ADAK, *across) < 200
    point = locate(*across)
    assert ids(near(point, 200)) == [organization.id]
    assert ids(covering(point, with_total=True)) == [organization.id]


FAIRBANKS = (64.8378, -147.7164)


def test_large_radius_at_high_latitude_reaches_its_whole_circle(factory: Factory) -> None:
    westmost = min((destination(FAIRBANKS, bearing / 10, 498) for bearing in range(2000, 3400)),
                   key=lambda point: point[1])  # near Kotzebue Sound
    assert haversine_mi(*FAIRBANKS, *westmost) < 500
    fairbanks = factory.organization(locations=[{"city": "Fairbanks", "state": "AK",
                                                 "latitude": FAIRBANKS[0],
                                                 "longitude": FAIRBANKS[1]}])
    add(fairbanks, kind="radius", radius_mi=500, location_id=fairbanks.locations[0].id)
    west = factory.organization(locations=[{"city": "Kotzebue", "state": "AK",
                                            "latitude": westmost[0], "longitude": westmost[1]}])
    assert fairbanks.id in ids(covering(locate(*westmost), with_total=True))
    assert west.id in ids(near(locate(*FAIRBANKS), 500))


# --- a randomized cross-check against brute force -------------------------------------------------

COUNTY_FIPS = {"Harris": "48201", "Fort Bend": "48157", "Montgomery": "48339",
               "Galveston": "48167", "Brazoria": "48039"}
SERVICES = ["shelter.youth", "legal.immigration", "case_management"]


@dataclass
class Expected:
    """What the test itself knows about one organization, to compute answers by brute force."""

    organization: Organization
    sites: list[tuple[float, float]]
    services: set[str]
    areas: list[tuple[dict[str, Any], set[str]]] = field(default_factory=list)

    def area_contains(self, data: dict[str, Any], point: PointContext) -> bool:
        match data["kind"]:
            case "radius":
                return haversine_mi(*data["at"], point.lat, point.lon) <= data["radius_mi"]
            case "state":
                return data["state"] == point.state
            case "county":
                return COUNTY_FIPS[data["county"]] == point.county_fips
            case "zip":
                return data["postal_code"] == point.postal_code
            case "polygon":
                (min_lon, min_lat), _, (max_lon, max_lat), *_ = data["ring"]
                return min_lat <= point.lat <= max_lat and min_lon <= point.lon <= max_lon
        raise AssertionError(data)

    def covers(self, point: PointContext, service: str | None = None) -> bool:
        if service and not any(code.startswith(service) for code in self.services):
            return False
        return any(self.area_contains(data, point)
                   and (not service or not limited
                        or any(c == service or c.startswith(f"{service}.")
                               or service.startswith(f"{c}.") for c in limited))
                   for data, limited in self.areas)

    def nearest(self, point: PointContext) -> float | None:
        return min((haversine_mi(point.lat, point.lon, *site) for site in self.sites),
                   default=None)


def _random_network(factory: Factory, rng: random.Random, zips: Sequence[str]) -> list[Expected]:
    network = []
    for number in range(30):
        site_count = 0 if number == 7 else rng.choice([1, 1, 2])
        sites = [tuple(round(v, 5) for v in destination(HOUSTON, rng.uniform(0, 360),
                                                         rng.uniform(0, 50)))
                 for _ in range(site_count)]
        services = set(rng.sample(SERVICES, rng.randint(1, 2)))
        organization = factory.organization(
            locations=[location(site) for site in sites], services=sorted(services))
        expected = Expected(organization, sites, services)  # type: ignore[arg-type]
        for _ in range(rng.randint(1, 2)):
            kind = rng.choice(["radius", "radius", "center", "county", "zip", "state", "polygon"])
            if kind == "radius" and not sites:
                kind = "center"
            if kind == "radius":
                index = rng.randrange(len(sites))
                data = {"kind": "radius", "radius_mi": rng.choice([5, 10, 20, 40]),
                        "location_id": organization.locations[index].id, "at": sites[index]}
            elif kind == "center":
                center = tuple(round(v, 5) for v in destination(HOUSTON, rng.uniform(0, 360),
                                                                 rng.uniform(0, 50)))
                data = {"kind": "radius", "radius_mi": rng.choice([3, 8, 15, 30]),
                        "center": f"{center[0]}, {center[1]}", "at": center}
            elif kind == "county":
                data = {"kind": "county", "county": rng.choice(list(COUNTY_FIPS)), "state": "TX"}
            elif kind == "zip":
                data = {"kind": "zip", "postal_code": rng.choice(zips)}
            elif kind == "state":
                data = {"kind": "state", "state": rng.choice(["TX", "LA", "OK"])}
            else:
                lat, lon = destination(HOUSTON, rng.uniform(0, 360), rng.uniform(0, 40))
                height, width = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4)
                ring = [[round(lon - width, 4), round(lat - height, 4)],
                        [round(lon + width, 4), round(lat - height, 4)],
                        [round(lon + width, 4), round(lat + height, 4)],
                        [round(lon - width, 4), round(lat + height, 4)],
                        [round(lon - width, 4), round(lat - height, 4)]]
                data = {"kind": "polygon", "ring": ring, "geojson": json.dumps(
                    {"type": "Polygon", "coordinates": [ring]})}
            limited = {rng.choice(sorted(services))} if rng.random() < 0.3 else set()
            add(organization, **data, services=sorted(limited))
            expected.areas.append((data, limited))
        network.append(expected)
    return network


def _query_points(rng: random.Random, zips: Sequence[str]) -> list[PointContext]:
    points = []
    for number in range(20):
        if number % 2:
            area = gazetteer().zip_area(rng.choice(zips))
            assert area is not None
            points.append(locate(area.lat, area.lon, area.code))
        else:
            points.append(locate(*destination(HOUSTON, rng.uniform(0, 360), rng.uniform(0, 45))))
    return points


def _paged(ask: Any, size: int) -> list[int]:
    found: list[int] = []
    while True:
        page = ids(ask(limit=size, offset=len(found)))
        found += page
        if len(page) < size:
            return found


@pytest.fixture()
def random_network(factory: Factory) -> tuple[list[Expected], list[PointContext]]:
    rng = random.Random(20261125)
    nearby = sorted(code for code, area in gazetteer().zips.items()
                    if area.standard and haversine_mi(*HOUSTON, area.lat, area.lon) < 40)
    zips = rng.sample(nearby, 8)  # few, so that ZIP areas and ZIP searches meet
    return _random_network(factory, rng, zips), _query_points(rng, zips)


def test_covering_agrees_with_brute_force(
        random_network: tuple[list[Expected], list[PointContext]]) -> None:
    network, points = random_network
    checked = 0
    kinds_met = {data["kind"] for point in points for entry in network
                 for data, _ in entry.areas if entry.area_contains(data, point)}
    assert kinds_met == {"radius", "state", "county", "zip", "polygon"}
    for point in points:
        for service in (None, "shelter"):
            expected = sorted(
                (entry for entry in network if entry.covers(point, service)),
                key=lambda entry: (entry.nearest(point) is None, entry.nearest(point) or 0,
                                   entry.organization.id))
            filters = SearchFilters(service=service)
            results = covering(point, filters, limit=100, with_total=True)
            assert ids(results) == [entry.organization.id for entry in expected], point
            assert results.total == len(expected)
            for hit, entry in zip(results.hits, expected, strict=True):
                if entry.nearest(point) is None:
                    assert hit.distance_mi is None
                else:
                    assert hit.distance_mi == pytest.approx(entry.nearest(point), abs=0.01)
            assert _paged(functools.partial(covering, point, filters), 4) == ids(results)
            checked += len(expected)
    assert checked > 100  # the network is dense enough for the comparison to mean something


def test_near_agrees_with_brute_force(
        random_network: tuple[list[Expected], list[PointContext]]) -> None:
    network, points = random_network
    checked = 0
    for point in points:
        within = [entry for entry in network
                  if entry.nearest(point) is not None and entry.nearest(point) <= 25]  # type: ignore[operator]
        expected = sorted(within, key=lambda entry: (entry.nearest(point), entry.organization.id))
        results = near(point, 25, limit=100, with_total=True)
        assert ids(results) == [entry.organization.id for entry in expected], point
        assert results.total == len(expected)
        for hit, entry in zip(results.hits, expected, strict=True):
            assert hit.distance_mi == pytest.approx(entry.nearest(point), abs=0.01)
        assert results.covering_ids == {entry.organization.id for entry in expected
                                        if entry.covers(point)}
        assert _paged(functools.partial(near, point, 25), 3) == ids(results)
        checked += len(expected)
    assert checked > 100


# --- present(): what one viewer may see ---------------------------------------------------------

SAFE_HOUSE_POINT = (29.78731, -95.34917)  # about 2 miles from downtown


@pytest.fixture()
def safe_home(factory: Factory) -> Organization:
    organization = factory.organization(name="Quiet Harbor", locations=[
        location(destination(HOUSTON, 270, 30), name="Office"),
        location(SAFE_HOUSE_POINT, name="Safe house", confidential=True, open_24_7=True)])
    add(organization, kind="radius", radius_mi=40, location_id=organization.locations[0].id)
    add(organization, kind="radius", radius_mi=5, location_id=organization.locations[1].id)
    return organization


def _view_of(safe_home: Organization, viewer: Any) -> Any:
    results = near(here(), 50)
    assert ids(results) == [safe_home.id]
    (view,) = present(results, viewer)
    return view


def test_outsiders_see_a_rounded_distance_and_no_point(factory: Factory,
                                                       safe_home: Organization) -> None:
    exact = haversine_mi(*HOUSTON, *SAFE_HOUSE_POINT)
    other = org_at(factory, COLUMBUS, name="Other Partner")
    viewers = {"anonymous": None,
               "member elsewhere": factory.user(organization=other, role=MemberRole.ADMIN),
               "coordinator": factory.user(coordinator=True)}
    for who, viewer in viewers.items():
        view = _view_of(safe_home, viewer)
        assert view.distance_mi == float(math.ceil(exact)) != round(exact, 1), who
        assert view.distance_rounded is True, who
        assert (view.lat, view.lon) == (None, None), who
        assert (view.city, view.state) == ("Houston", "TX"), who
        office = safe_home.locations[0]
        assert view.shapes == [{"type": "circle", "lat": office.latitude, "lon": office.longitude,
                                "radius_m": round(40 * METERS_PER_MILE)}], who
        assert view.covers is True
        document = json.dumps(view.as_dict())
        assert str(SAFE_HOUSE_POINT[0]) not in document and str(SAFE_HOUSE_POINT[1]) not in document


@pytest.mark.parametrize("role", [MemberRole.REFERRER, MemberRole.ADMIN])
def test_members_see_their_own_safe_house_exactly(factory: Factory, safe_home: Organization,
                                                  role: MemberRole) -> None:
    view = _view_of(safe_home, factory.user(organization=safe_home, role=role))
    assert view.distance_mi == round(haversine_mi(*HOUSTON, *SAFE_HOUSE_POINT), 1)
    assert view.distance_rounded is False
    assert (view.lat, view.lon) == SAFE_HOUSE_POINT
    assert {(shape["lat"], shape["lon"]) for shape in view.shapes} == {
        (safe_home.locations[0].latitude, safe_home.locations[0].longitude), SAFE_HOUSE_POINT}


def test_present_shows_public_locations_exactly_and_keeps_the_order(factory: Factory) -> None:
    far = org_at(factory, destination(HOUSTON, 0, 12.34))
    close = org_at(factory, destination(HOUSTON, 0, 3.21))
    add(close, kind="polygon", geojson=json.dumps({"type": "Polygon",
                                                   "coordinates": [DOWNTOWN_SQUARE]}))
    add(close, kind="state", state="TX")
    views = present(near(here(), 50), None)
    assert [view.id for view in views] == [close.id, far.id]
    assert [view.distance_mi for view in views] == [3.2, 12.3]
    assert not any(view.distance_rounded for view in views)
    assert (views[0].lat, views[0].lon) == (close.locations[0].latitude,
                                            close.locations[0].longitude)
    assert views[0].shapes == [{"type": "polygon", "geojson": {"type": "Polygon",
                                                               "coordinates": [DOWNTOWN_SQUARE]}}]
    assert views[0].coverage == ["Drawn service area", "Texas"]
    assert [view.covers for view in views] == [True, False]


def test_present_of_a_locationless_organization(factory: Factory) -> None:
    hotline = factory.organization(locations=[], name="Statewide Hotline")
    add(hotline, kind="state", state="TX")
    (view,) = present(covering(here()), None)
    assert (view.name, view.distance_mi, view.lat, view.city) == ("Statewide Hotline", None,
                                                                   None, None)
    assert view.distance_rounded is False and view.covers is True
    assert present(near(here(), 10), None) == []


# --- search(): a query as the page, the API and the CLI give it -----------------------------------

@pytest.mark.usefixtures("db")
def test_search_refuses_an_unknown_service() -> None:
    with pytest.raises(SearchError) as error:
        search(SearchQuerySchema().load({"near": "77002", "service": "teleportation"}))
    assert error.value.field == "service" and "teleportation" in str(error.value)


@pytest.mark.usefixtures("db")
@pytest.mark.parametrize("place", ["Atlantis, TX", "00000", "95,200", "   "])
def test_search_refuses_a_place_it_cannot_find(place: str) -> None:
    with pytest.raises(SearchError) as error:
        search({"near": place})
    assert error.value.field == "near" and str(error.value)


def test_search_by_zip_uses_that_zip_for_the_point(factory: Factory) -> None:
    # 77210 (PO boxes) shares its centroid with 77204, the nearest ZIP to that point.
    by_zip = org_at(factory, HOUSTON)
    add(by_zip, kind="zip", postal_code="77210")
    neighbour = org_at(factory, HOUSTON)
    add(neighbour, kind="zip", postal_code="77204")

    results = search(SearchQuerySchema().load({"near": "77210", "mode": "covering"}),
                     with_total=True)

    assert results.point.postal_code == "77210"
    assert ids(results) == [by_zip.id] and results.total == 1
    assert results.label == "77210 Houston, TX"
    by_point = search({"near": "29.7632, -95.3633", "mode": "covering"})
    assert ids(by_point) == [neighbour.id]


def test_search_applies_the_query(factory: Factory) -> None:
    legal = org_at(factory, destination(HOUSTON, 0, 2), kind=OrganizationKind.LEGAL,
                   services=["legal.immigration"], languages=["es"])
    org_at(factory, destination(HOUSTON, 0, 1), kind=OrganizationKind.NONPROFIT)
    far_legal = org_at(factory, destination(HOUSTON, 0, 20), kind=OrganizationKind.LEGAL,
                       services=["legal.civil"], languages=["es"])
    query = SearchQuerySchema().load({"near": "Houston, TX", "radius": 10, "kind": ["legal"],
                                      "service": "legal", "language": "es"})
    results = search(query, with_total=True)
    assert ids(results) == [legal.id] and results.total == 1
    assert results.label == "Houston, TX" and results.radius_mi == 10
    query["radius"] = 30
    assert ids(search(query)) == [legal.id, far_legal.id]
