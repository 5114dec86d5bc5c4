import datetime as dt

import pytest
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from directory.orgs.models import MembershipStatus, OrganizationKind
from directory.orgs.operations import (
    ListingError,
    OrganizationFilters,
    create_organization,
    describe_hours,
    list_organizations,
    location_view,
    network_summary,
    slugify,
)
from directory.orgs.schemas import ListingSchema
from tests.factories import Factory


def test_location_is_placed_by_its_zip_code(factory: Factory) -> None:
    organization = factory.organization()
    location = organization.locations[0]
    assert (location.latitude, location.longitude) == (29.7502, -95.3677)
    assert location.county == "Harris County" and location.timezone == "America/Chicago"


def test_location_without_zip_is_placed_by_city(factory: Factory) -> None:
    organization = factory.organization(locations=[{"city": "Columbus", "state": "OH"}])
    assert organization.locations[0].county == "Franklin County"


def test_location_in_an_unknown_city_is_refused(factory: Factory) -> None:
    with pytest.raises(ListingError, match="Could not find"):
        factory.organization(locations=[{"city": "Atlantis", "state": "OH"}])


def test_unknown_service_is_refused_and_nothing_is_written(db: Session, factory: Factory) -> None:
    before = list_organizations(OrganizationFilters(), 1, 100).total
    with pytest.raises(ListingError) as error:
        factory.organization(services=["case_management", "teleportation"])
    assert error.value.fields == {"services": ["Unknown service category 'teleportation'."]}
    assert list_organizations(OrganizationFilters(), 1, 100).total == before


def test_duplicate_names_and_slugs_are_refused(factory: Factory) -> None:
    factory.organization(name="Harbor Light")
    with pytest.raises(ListingError, match="already listed"):
        factory.organization(name="harbor light")
    first = factory.organization(name="Beacon House")
    with pytest.raises(ListingError, match="taken"):
        create_organization({"name": "Another", "kind": OrganizationKind.OTHER}, slug=first.slug)


def test_slugs_are_ascii_and_unique(factory: Factory) -> None:
    assert slugify("Niños & Familias — Hope!") == "ninos-familias-hope"
    organization = factory.organization(name="Casa Esperanza")
    assert organization.slug == "casa-esperanza"


def test_listing_schema_rejects_bad_input() -> None:
    with pytest.raises(ValidationError) as error:
        ListingSchema().load({
            "name": "X", "kind": "spaceship", "website": "javascript:alert(1)",
            "languages": ["klingon"], "populations": ["martians"],
            "locations": [{"city": "Houston", "state": "ZZ", "postal_code": "7700",
                           "hours": [{"days": ["mon"], "opens": "18:00", "closes": "09:00"}]}],
        })
    messages = error.value.messages
    assert {"name", "kind", "website", "languages", "populations", "locations"} <= set(messages)
    location_errors = messages["locations"][0]
    assert {"state", "postal_code", "hours"} <= set(location_errors)


def test_confidential_location_is_hidden_outside_its_organization(factory: Factory) -> None:
    organization = factory.organization(locations=[{
        "name": "Safe house", "address": "12 Hidden Lane", "city": "Houston", "state": "TX",
        "postal_code": "77002", "confidential": True}])
    hidden = location_view(organization.locations[0], reveal_confidential=False)
    assert (hidden.address, hidden.lat, hidden.lon, hidden.postal_code) == (None, None, None, None)
    assert hidden.name == "Confidential location" and hidden.city == "Houston"
    shown = location_view(organization.locations[0], reveal_confidential=True)
    assert shown.address == "12 Hidden Lane" and shown.lat == 29.7502


def test_hours_are_described_with_equal_days_merged(factory: Factory) -> None:
    hours = [{"days": ["mon", "tue", "wed"], "opens": "09:00", "closes": "17:00"},
             {"days": ["thu"], "opens": "09:00", "closes": "12:00"},
             {"days": ["thu"], "opens": "13:00", "closes": "17:00"},
             {"days": ["sat"], "opens": "10:00", "closes": "14:00"}]
    listing = ListingSchema().load({"name": "Hours Test", "kind": "nonprofit", "locations": [
        {"city": "Houston", "state": "TX", "postal_code": "77002", "hours": hours}]})
    organization = create_organization(listing)
    assert describe_hours(organization.locations[0].hours) == [
        ("Mon–Wed", "09:00–17:00"), ("Thu", "09:00–12:00, 13:00–17:00"), ("Sat", "10:00–14:00")]


def test_list_filters_by_kind_state_text_and_service_with_sub_services(factory: Factory) -> None:
    shelter = factory.organization(name="Zeta Youth Shelter", services=["shelter.youth"])
    police = factory.organization(name="Zeta Police Unit", kind=OrganizationKind.LAW_ENFORCEMENT,
                                  services=["investigation"],
                                  locations=[{"city": "Columbus", "state": "OH"}])
    factory.organization(name="Zeta Pending", status=MembershipStatus.PENDING)

    def names(**filters: object) -> list[str]:
        page = list_organizations(OrganizationFilters(text="zeta", **filters), 1, 50)  # type: ignore[arg-type]
        return [organization.name for organization in page.items]

    assert names() == ["Zeta Police Unit", "Zeta Youth Shelter"]  # pending ones are not listed
    assert names(service="shelter") == [shelter.name]
    assert names(kind=OrganizationKind.LAW_ENFORCEMENT) == [police.name]
    assert names(state="OH") == [police.name]
    assert names(state="GA") == []


def test_list_paginates(factory: Factory) -> None:
    for number in range(5):
        factory.organization(name=f"Paging Org {number}")
    page = list_organizations(OrganizationFilters(text="paging org"), 2, 2)
    assert [o.name for o in page.items] == ["Paging Org 2", "Paging Org 3"]
    assert (page.total, page.pages, page.has_prev, page.has_next) == (5, 3, True, True)
    last = list_organizations(OrganizationFilters(text="paging org"), 99, 2)
    assert last.page == 3 and [o.name for o in last.items] == ["Paging Org 4"]


def test_network_summary_counts_active_members_only(factory: Factory) -> None:
    before = network_summary()
    factory.organization(accepting_referrals=False, locations=[{"city": "Boise", "state": "ID"}])
    factory.organization(status=MembershipStatus.SUSPENDED)
    after = network_summary()
    assert after.organizations == before.organizations + 1
    assert after.accepting_referrals == before.accepting_referrals
    assert after.states == before.states + 1


def test_verification_date_is_stored_in_utc(db: Session) -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-6)))
    organization = create_organization({"name": "Verified Org", "kind": OrganizationKind.LEGAL},
                                       verified_at=moment)
    db.expire(organization)
    assert organization.verified_at == moment
    assert organization.verified_at.utcoffset() == dt.timedelta(0)
