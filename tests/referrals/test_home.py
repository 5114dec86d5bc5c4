"""The member's home: the work that needs them; for coordinators, counts of the network."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.referrals import notifications
from directory.referrals.models import Referral
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.referrals.conftest import Partners


def _overdue(db: Session, referral: Referral) -> None:
    db.execute(update(Referral).where(Referral.id == referral.id).values(
        response_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    db.expire_all()


def test_visitors_get_the_welcome_only(client: FlaskClient) -> None:
    page = client.get("/").text
    assert "Sign in" in page and 'id="home-inbox"' not in page


def test_the_receiver_sees_new_and_overdue_referrals_and_unread_notices(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory,
        db: Session) -> None:
    fresh = factory.referral(partners.referrer, partners.receiver, alias="Fresh")
    late = factory.referral(partners.referrer, partners.receiver, alias="Late")
    _overdue(db, late)
    auth.login(partners.receiver_user.email)
    page = client.get("/").text
    inbox = page[page.index('id="home-inbox"'):page.index('id="home-awaiting"')]
    overdue, new = inbox.split("New, not yet opened")
    assert late.public_id in overdue and fresh.public_id not in overdue
    assert fresh.public_id in new and late.public_id not in new
    notices = page[page.index('id="home-notifications"'):]
    assert "New referral for Receiving Shelter" in notices
    assert "Fresh" not in page and "Late" not in page  # never client details
    notifications.mark_read(partners.receiver_user)
    assert "Nothing unread." in client.get("/").text


def test_the_sender_sees_their_referrals_awaiting_an_answer(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory) -> None:
    waiting = factory.referral(partners.referrer, partners.receiver)
    auth.login(partners.referrer.email)
    page = client.get("/").text
    awaiting = page[page.index('id="home-awaiting"'):page.index('id="home-notifications"')]
    assert waiting.public_id in awaiting and "to Receiving Shelter" in awaiting
    assert "Case management" in awaiting


def test_admins_get_a_listing_section_for_each_organization_they_administer(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory) -> None:
    second = factory.organization(name="Second House")
    factory.user(organization=second)
    from directory.accounts.membership import add_membership

    add_membership(partners.receiver_admin, second, MemberRole.ADMIN)
    auth.login(partners.receiver_admin.email)
    page = client.get("/").text
    assert page.count('class="home-listing"') == 2
    assert "Receiving Shelter" in page and "Second House" in page
    auth.logout()
    auth.login(partners.receiver_user.email)  # a referrer administers nothing
    assert 'class="home-listing"' not in client.get("/").text


def test_coordinators_see_counts_never_client_details(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory,
        db: Session) -> None:
    late = factory.referral(partners.referrer, partners.receiver, alias="Hidden Alias",
                            urgency="emergency")
    _overdue(db, late)
    auth.login(partners.coordinator.email)
    page = client.get("/").text
    network = page[page.index('id="home-network"'):]
    assert "application" in network and 'id="home-stale-listings"' in network
    assert "0 listings not confirmed for 180 days" in network  # every listing here is new
    assert "Emergency 1" in network and "Routine 0" in network
    assert late.public_id not in page and "Hidden Alias" not in page
    assert 'id="home-inbox"' not in page  # a coordinator without an organization refers not
