"""The listing's edit pages over HTTP: forms in, update_listing applied, errors on the page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.orgs.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Edited Partner")


@pytest.fixture()
def admin(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.ADMIN)


def test_the_edit_page_saves_the_listing(client: FlaskClient, auth: AuthActions, admin: User,
                                         partner: Organization, db: Session) -> None:
    auth.login(admin.email)
    page = client.get(f"/organizations/{partner.slug}/edit").get_data(as_text=True)
    assert 'name="kind"' not in page  # name and kind: a coordinator's change
    response = client.post(f"/organizations/{partner.slug}/edit", data={
        "description": "Youth shelter.", "services": ["shelter.youth"], "languages": ["es"],
        "populations": ["adolescents"], "min_age": "12", "max_age": "17",
        "accepting_referrals": "y", "capacity_note": "2 beds open",
        "contacts-0-name": "Intake", "contacts-0-phone": "555-0100", "name": "Sneaky"})
    assert response.status_code == 302
    db.refresh(partner)
    assert (partner.description, partner.min_age, partner.name) == ("Youth shelter.", 12,
                                                                    "Edited Partner")
    assert [s.category.code for s in partner.services] == ["shelter.youth"]
    assert partner.contacts[0].phone == "555-0100"
    profile = client.get(f"/organizations/{partner.slug}").get_data(as_text=True)
    assert "Capacity: 2 beds open" in profile and "(as of " in profile


def test_bad_input_is_shown_on_its_field_and_stores_nothing(
        client: FlaskClient, auth: AuthActions, admin: User, partner: Organization,
        db: Session) -> None:
    auth.login(admin.email)
    response = client.post(f"/organizations/{partner.slug}/edit", data={
        "description": "Changed", "website": "javascript:alert(1)",
        "contacts-0-name": "", "contacts-0-email": "not an email"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Not a valid URL." in page
    db.refresh(partner)
    assert partner.description == "A test listing."


def test_accepting_referrals_is_one_click_either_way(client: FlaskClient, auth: AuthActions,
                                                     admin: User, partner: Organization,
                                                     db: Session) -> None:
    auth.login(admin.email)
    url = f"/organizations/{partner.slug}/accepting"
    response = client.post(url, data={"accepting": "no", "next": "https://evil.example/"})
    assert response.status_code == 302 and response.headers["Location"].endswith(partner.slug)
    db.refresh(partner)
    assert partner.accepting_referrals is False
    client.post(url, data={"accepting": "no"})  # a second click of the same page: no undo
    db.refresh(partner)
    assert partner.accepting_referrals is False
    assert client.post(url, data={"accepting": "maybe"}).status_code == 400


def test_a_location_by_typed_coordinates_and_its_hours(client: FlaskClient, auth: AuthActions,
                                                       admin: User, partner: Organization,
                                                       db: Session) -> None:
    auth.login(admin.email)
    url = f"/organizations/{partner.slug}/locations/new"
    located = client.post(url, data={"city": "Columbus", "state": "OH", "postal_code": "43215",
                                     "locate": "1"})
    assert located.status_code == 200 and 'value="39.' in located.get_data(as_text=True)
    bad = client.post(url, data={"city": "Columbus", "state": "OH", "latitude": "39.97",
                                 "longitude": "-82.99", "mon": "9 to 5"})
    assert bad.status_code == 400 and "Write times as 09:00-17:00" in bad.get_data(as_text=True)
    overlapping = client.post(url, data={"city": "Columbus", "state": "OH",
                                         "latitude": "39.97", "longitude": "-82.99",
                                         "mon": "09:00-13:00, 12:00-17:00"})
    assert overlapping.status_code == 400
    assert "overlap on Monday" in overlapping.get_data(as_text=True)
    saved = client.post(url, data={"name": "Annex", "city": "Columbus", "state": "OH",
                                   "latitude": "39.97", "longitude": "-82.99",
                                   "mon": "09:00-12:00, 13:00-17:00", "open_24_7": "",
                                   "closures": "2026-12-24 to 2026-12-26 Holidays"})
    assert saved.status_code == 302
    db.expire_all()
    annex = partner.locations[1]
    assert annex.true_point == (39.97, -82.99) and len(annex.hours) == 2
    assert annex.timezone == "America/New_York" and annex.closures[0].note == "Holidays"


def test_removing_a_location_says_what_happens_first(client: FlaskClient, auth: AuthActions,
                                                     admin: User, partner: Organization,
                                                     factory: Factory, db: Session) -> None:
    sender = factory.user(organization=factory.organization(name="Sending Partner"))
    referral = factory.referral(sender, partner)
    auth.login(admin.email)
    url = f"/organizations/{partner.slug}/locations/{partner.locations[0].id}/remove"
    page = client.get(url).get_data(as_text=True)
    assert referral.public_id in page and "cannot be removed while they are open" in page
    refused = client.post(url)
    assert refused.status_code == 400 and referral.public_id in refused.get_data(as_text=True)
    db.expire_all()
    assert len(partner.locations) == 1


def test_a_coordinator_never_opens_a_confidential_location(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    shelter = factory.organization(name="Hidden Shelter", locations=[
        {"name": "House", "address": "9 Secret Rd", "city": "Houston", "state": "TX",
         "postal_code": "77002", "confidential": True}])
    auth.login(factory.user(coordinator=True).email)
    url = f"/organizations/{shelter.slug}/locations/{shelter.locations[0].id}"
    assert client.get(url).status_code == 404
    assert "9 Secret Rd" not in client.get(f"/organizations/{shelter.slug}/edit").get_data(
        as_text=True)
