"""update_listing: the one operation behind every listing change, and its rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.audit.models import AuditAction, AuditEvent
from directory.orgs.coverage import add_coverage_area
from directory.orgs.listing import (
    ListingPermissionError,
    location_data,
    removal_impact,
    update_listing,
)
from directory.orgs.models import CoverageKind, Organization, OrganizationKind
from directory.orgs.operations import ListingError
from directory.orgs.schemas import ListingChangesSchema
from tests.factories import Factory

CHANGES = ListingChangesSchema()
COLUMBUS = (39.9612, -82.9988)


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Listing Partner")


@pytest.fixture()
def admin(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.ADMIN)


@pytest.fixture()
def coordinator(factory: Factory) -> User:
    return factory.user(coordinator=True)


def change(actor: User | None, organization: Organization, **raw: Any) -> list[str]:
    return update_listing(actor, organization, CHANGES.load(raw))


def updates(db: Session, organization: Organization) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(
        AuditEvent.action == AuditAction.LISTING_UPDATED,
        AuditEvent.organization_id == organization.id).order_by(AuditEvent.id)))


def new_location(**data: Any) -> dict[str, Any]:
    return {"name": "Safe house", "address": "12 Hidden Lane", "city": "Columbus",
            "state": "OH", "latitude": COLUMBUS[0] + 0.03, "longitude": COLUMBUS[1] + 0.02,
            "confidential": True,
            "hours": [{"days": ["mon", "tue"], "opens": "09:00", "closes": "12:00"},
                      {"days": ["mon"], "opens": "13:00", "closes": "17:00"}],
            "closures": [{"starts_on": "2026-12-25", "note": "Christmas"}]} | data


def test_services_are_picked_from_the_tree_sub_services_included(
        partner: Organization, admin: User, db: Session) -> None:
    kept = partner.services[0]
    assert change(admin, partner, services=["case_management", "shelter.safe_house"]) == [
        "services"]
    assert [s.category.code for s in partner.services] == ["case_management",
                                                           "shelter.safe_house"]
    assert partner.services[0] is kept  # the row (and its HSDS id) survives
    with pytest.raises(ListingError) as error:
        change(admin, partner, services=["no_such_service"])
    assert "services" in error.value.fields


def test_the_audit_entry_names_the_changed_fields_only(partner: Organization, admin: User,
                                                       db: Session) -> None:
    changed = change(admin, partner, description=partner.description, min_age=12,
                     max_age=17, eligibility_note="Girls 12-17 referred by an advocate.",
                     languages=["es", "en"])
    assert changed == ["eligibility_note", "languages", "max_age", "min_age"]
    (event,) = updates(db, partner)
    assert event.actor_id == admin.id
    assert event.details == {"fields": changed}
    assert change(admin, partner, languages=["en", "es"]) == []
    assert len(updates(db, partner)) == 1


def test_the_capacity_note_keeps_its_time(partner: Organization, admin: User) -> None:
    moment = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
    update_listing(admin, partner, CHANGES.load({"capacity_note": "2 beds open"}), now=moment)
    assert (partner.capacity_note, partner.capacity_noted_at) == ("2 beds open", moment)
    update_listing(admin, partner, CHANGES.load({"capacity_note": ""}), now=moment)
    assert partner.capacity_noted_at is None


def test_name_and_kind_are_a_coordinators_change(partner: Organization, admin: User,
                                                 coordinator: User, factory: Factory) -> None:
    with pytest.raises(ListingPermissionError) as error:
        change(admin, partner, name="Renamed", kind="legal")
    assert set(error.value.fields) == {"name", "kind"}
    assert change(admin, partner, name=partner.name) == []  # unchanged is no change
    assert change(coordinator, partner, name="Renamed Partner", kind="legal") == ["kind",
                                                                                  "name"]
    assert partner.kind == OrganizationKind.LEGAL
    factory.organization(name="Taken Name")
    with pytest.raises(ListingError) as taken:
        change(coordinator, partner, name="taken name")
    assert "name" in taken.value.fields


def test_the_age_range_is_checked_against_what_is_stored(partner: Organization,
                                                         admin: User) -> None:
    change(admin, partner, min_age=18)
    with pytest.raises(ListingError):
        change(admin, partner, max_age=17)
    with pytest.raises(ValidationError):
        CHANGES.load({"min_age": 20, "max_age": 10})


@pytest.mark.parametrize(("raw", "field"), [
    ({"hours": [{"days": ["mon"], "opens": "09:00", "closes": "12:00"},
                {"days": ["mon"], "opens": "11:00", "closes": "13:00"}]}, "hours"),
    ({"open_24_7": True}, "hours"),
    ({"closures": [{"starts_on": "2026-12-26", "ends_on": "2026-12-24"}]}, "closures"),
    ({"closures": [{"starts_on": "2026-01-01", "ends_on": "2027-06-01"}]}, "closures"),
    ({"latitude": 39.9, "longitude": None}, "longitude"),
])
def test_bad_hours_closures_and_points_are_refused(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        CHANGES.load({"locations": [new_location(**raw)]})
    assert field in error.value.messages["locations"][0]


def test_a_confidential_location_with_hours_and_closures(partner: Organization,
                                                         admin: User) -> None:
    office = location_data(partner.locations[0])
    assert change(admin, partner, locations=[office, new_location()]) == ["locations"]
    house = partner.locations[1]
    assert house.confidential and house.true_point == (COLUMBUS[0] + 0.03, COLUMBUS[1] + 0.02)
    assert (house.latitude, house.longitude) != house.true_point  # searched at the city
    assert house.timezone == "America/New_York"
    assert sorted((h.weekday, f"{h.opens:%H:%M}") for h in house.hours) == [
        (0, "09:00"), (0, "13:00"), (1, "09:00")]
    assert [(c.starts_on, c.ends_on, c.note) for c in house.closures] == [
        (dt.date(2026, 12, 25), dt.date(2026, 12, 25), "Christmas")]
    # Sent back unchanged, nothing changes: the edit pages resend the other locations.
    assert change(admin, partner, locations=[location_data(loc)
                                             for loc in partner.locations]) == []


def test_the_time_zone_comes_from_the_point(partner: Organization, admin: User) -> None:
    denver = new_location(city="Denver", state="CO", latitude=39.7392, longitude=-104.9903,
                          confidential=False)
    change(admin, partner, locations=[denver])
    assert partner.locations[0].timezone == "America/Denver"


def test_moving_a_location_moves_its_radius_areas(partner: Organization, admin: User) -> None:
    office = partner.locations[0]
    area = add_coverage_area(partner, {"kind": "radius", "radius_mi": 10,
                                       "location_id": office.id})
    moved = location_data(office) | {"latitude": 29.80, "longitude": -95.40}
    assert change(admin, partner, locations=[moved]) == ["locations"]
    assert (office.latitude, office.longitude) == (29.80, -95.40)
    assert (area.center_lat, area.center_lon) == (29.80, -95.40)
    assert partner.locations[0] is office


def test_a_location_given_by_address_only_keeps_its_dragged_point(partner: Organization,
                                                                  admin: User) -> None:
    office = partner.locations[0]
    data = location_data(office)
    exact = office.true_point
    data.pop("latitude"), data.pop("longitude")
    change(admin, partner, locations=[data | {"name": "Main office"}])
    assert office.true_point == exact and office.name == "Main office"


def test_a_location_of_another_listing_cannot_be_named(partner: Organization, admin: User,
                                                       factory: Factory) -> None:
    other = factory.organization()
    with pytest.raises(ListingError) as error:
        change(admin, partner, locations=[location_data(other.locations[0])])
    assert "locations" in error.value.fields


def test_a_coordinator_cannot_see_or_remove_a_confidential_location(
        partner: Organization, admin: User, coordinator: User) -> None:
    change(admin, partner, locations=[location_data(partner.locations[0]), new_location()])
    house = partner.locations[1]
    with pytest.raises(ListingError):  # its id is no location the coordinator may name
        change(coordinator, partner, locations=[location_data(house)])
    change(coordinator, partner, locations=[])  # the office goes; the safe house stays
    assert partner.locations == [house]


def test_removing_a_location_says_what_happens(partner: Organization, admin: User,
                                               factory: Factory) -> None:
    office = partner.locations[0]
    add_coverage_area(partner, {"kind": "radius", "radius_mi": 10, "location_id": office.id})
    sender = factory.user(organization=factory.organization(name="Sender"))
    referral = factory.referral(sender, partner)
    impact = removal_impact(partner, office)
    assert impact.open_referrals == [referral.public_id]
    assert impact.removed_areas == ["Within 10 mi of Houston, TX"]
    assert impact.blocked  # the last location, with a referral in progress
    with pytest.raises(ListingError) as error:
        change(admin, partner, locations=[])
    assert referral.public_id in str(error.value)
    # With another location it may go: the referral stays open, its radius area goes.
    change(admin, partner, locations=[location_data(office), new_location()])
    assert not removal_impact(partner, office).blocked
    assert change(admin, partner, locations=[location_data(partner.locations[1])]) == [
        "coverage_areas", "locations"]
    assert not [a for a in partner.coverage_areas if a.kind == CoverageKind.RADIUS]


def test_an_import_may_change_everything(partner: Organization) -> None:
    """An HSDS import (no actor) goes through the same operation."""
    assert change(None, partner, name="Imported Name") == ["name"]
