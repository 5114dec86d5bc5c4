"""Coverage gaps against the hand-computed network of ``gaps_fixture``."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.geo.boundaries import boundaries
from directory.orgs.coverage import add_coverage_area, locate
from directory.orgs.models import Population, ServiceCategory
from directory.orgs.search import SearchFilters, covering
from directory.reports.gaps import GapError, coverage_gaps, network_states, parse_question
from tests.factories import Factory
from tests.reports.gaps_fixture import BRISTOL_RI, GapNetwork, build, location

DELAWARE = {"10001", "10003", "10005"}
RHODE_ISLAND = {"44001", "44003", "44005", "44007", "44009"}


@pytest.fixture()
def network(factory: Factory) -> GapNetwork:
    return build(factory)


def _category(db: Session, code: str) -> ServiceCategory:
    category = db.scalar(select(ServiceCategory).where(ServiceCategory.code == code))
    assert category is not None
    return category


def _gaps(db: Session, code: str, population: Population | None = None) -> set[str]:
    return {county.fips for county in coverage_gaps(_category(db, code), population).gaps}


def test_the_network_states_are_where_active_members_are(network: GapNetwork) -> None:
    assert network_states() == ["DE", "RI"]


def test_gaps_for_a_service_and_its_sub_services(db: Session, network: GapNetwork) -> None:
    # Covered: New Castle (a's county, shelter.emergency is a shelter), Kent DE (b's radius),
    # Providence (e's county), Newport (f's ZIP), Washington (g's drawn area). Not: c is
    # suspended, d does not accept referrals, e's state area is for legal services only.
    assert _gaps(db, "shelter") == {"10005", "44001", "44003"}
    report = coverage_gaps(_category(db, "shelter"))
    assert [row.county.fips for row in report.counties] == sorted(
        DELAWARE, key=lambda f: boundaries().counties[f].name) + sorted(
        RHODE_ISLAND, key=lambda f: boundaries().counties[f].name)
    assert report.covered_count == 5 and report.covered_share == 5 / 8
    by_state = {row.key: row.cells for row in report.by_state().rows}
    assert by_state == {"DE": [3, 1, 2 / 3], "RI": [5, 2, 3 / 5]}


def test_a_sub_service_is_covered_only_by_those_offering_it(db: Session,
                                                           network: GapNetwork) -> None:
    assert _gaps(db, "shelter.youth") == (DELAWARE | RHODE_ISLAND) - {"10001"}
    # e's state area names legal services: it covers the whole of Delaware for them.
    assert _gaps(db, "legal") == RHODE_ISLAND - {"44007"}
    assert _gaps(db, "legal.immigration") == DELAWARE | RHODE_ISLAND  # nobody offers it


def test_a_radius_covers_every_county_it_reaches_into(db: Session, network: GapNetwork) -> None:
    # 13 miles from Dover reach New Castle County (10.7 mi) but not Sussex (16.0 mi).
    assert _gaps(db, "hotline") == RHODE_ISLAND | {"10005"}


def test_a_service_limited_radius_counts_for_its_services_only(db: Session,
                                                               network: GapNetwork) -> None:
    i = network.members["i"]
    add_coverage_area(i, {"kind": "radius", "radius_mi": 30, "center": "Dover, DE",
                          "services": ["legal"]})
    assert _gaps(db, "hotline") == RHODE_ISLAND | {"10005"}
    i.services[0].category = _category(db, "legal.civil")  # i now offers a legal service
    db.flush()
    assert _gaps(db, "legal") == RHODE_ISLAND - {"44007"}  # Delaware was covered already
    assert _gaps(db, "legal.civil") == RHODE_ISLAND  # 30 mi from Dover: all of Delaware


def test_a_population_narrows_the_members_that_count(db: Session, network: GapNetwork) -> None:
    assert _gaps(db, "shelter", Population.ADOLESCENTS) == (DELAWARE | RHODE_ISLAND) - {"10001"}
    assert _gaps(db, "shelter", Population.CHILDREN) == DELAWARE | RHODE_ISLAND


def test_a_confidential_location_covers_from_its_public_point(db: Session,
                                                              network: GapNetwork) -> None:
    h = network.members["h"]
    house = h.locations[0]
    assert house.true_point == BRISTOL_RI
    assert boundaries().at(*house.true_point).county.fips == "44001"
    # Its 2-mile radius is drawn around Providence's centre: Providence is covered, and the
    # county the house stands in is not, as the covering search answers there.
    assert _gaps(db, "shelter.safe_house") == (DELAWARE | RHODE_ISLAND) - {"44007"}
    found = covering(locate(*BRISTOL_RI), SearchFilters(service="shelter.safe_house"))
    assert h.id not in {hit.organization_id for hit in found.hits}


def test_the_gap_agrees_with_the_covering_search_at_each_county_seat(
        db: Session, network: GapNetwork) -> None:
    seats = {"10001": (39.1565, -75.5431), "10003": (39.7596, -75.5517),
             "10005": (38.6671, -75.3919), "44005": (41.485, -71.3245),
             "44007": (41.8222, -71.4248), "44009": (41.4277, -71.5364)}
    gaps = _gaps(db, "shelter")
    for fips, point in seats.items():
        found = covering(locate(*point), SearchFilters(service="shelter",
                                                       accepting_referrals=True))
        assert (fips in gaps) == (not found.hits), fips


def test_an_organization_elsewhere_adds_its_state(db: Session, factory: Factory,
                                                  network: GapNetwork) -> None:
    factory.organization(services=["hotline"], locations=[location("Burlington", "VT", "05401")])
    assert network_states() == ["DE", "RI", "VT"]
    assert {c.fips[:2] for c in coverage_gaps(_category(db, "hotline")).gaps} == {"10", "44",
                                                                                  "50"}


@pytest.mark.parametrize(("service", "population", "field"), [
    ("", None, "service"), ("no.such.service", None, "service"),
    ("shelter", "martians", "population")])
def test_bad_questions_say_what_is_wrong(db: Session, service: str, population: str | None,
                                         field: str) -> None:
    with pytest.raises(GapError) as caught:
        parse_question(service, population)
    assert caught.value.field == field


def test_a_good_question_parses(db: Session) -> None:
    category, population = parse_question("shelter.youth", "adolescents")
    assert category.code == "shelter.youth" and population == Population.ADOLESCENTS
