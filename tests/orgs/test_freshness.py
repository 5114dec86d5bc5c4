"""The organization's own "this listing is current", the sweep's reminders, and the
coordinators' list of stale listings."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.cli import main
from directory.db import utcnow
from directory.orgs.freshness import (
    confirm_listing,
    remind_stale_listings,
    stale_listings,
)
from directory.orgs.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.mail.helpers import mail_to

DAY = dt.timedelta(days=1)
SUBJECT = "Is the listing of {} still current?"


@pytest.fixture()
def partner(factory: Factory, db: Session) -> Organization:
    organization = factory.organization(name="Fresh Partner")
    organization.created_at = utcnow() - 400 * DAY
    db.flush()
    return organization


@pytest.fixture()
def admin(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.ADMIN)


def reminders_to(db: Session, user: User, organization: Organization) -> int:
    return sum(1 for message in mail_to(db, user.email)
               if message.subject == SUBJECT.format(organization.name))


def test_the_sweep_reminds_once_then_again_thirty_days_later(
        partner: Organization, admin: User, factory: Factory, db: Session) -> None:
    referrer = factory.user(organization=partner)
    now = utcnow()
    first = remind_stale_listings(180, now)
    assert (first.first, first.second) == (1, 0) and partner.slug in first.mailed
    assert reminders_to(db, admin, partner) == 1 and not mail_to(db, referrer.email)
    assert partner.review is not None and partner.review.reminded_at == now
    assert remind_stale_listings(180, now + 29 * DAY).mailed == []
    second = remind_stale_listings(180, now + 30 * DAY)
    assert (second.first, second.second) == (0, 1)
    assert remind_stale_listings(180, now + 90 * DAY).mailed == []  # twice, no more
    assert reminders_to(db, admin, partner) == 2


def test_confirming_starts_the_count_over(partner: Organization, admin: User,
                                          db: Session) -> None:
    now = utcnow()
    remind_stale_listings(180, now)
    confirm_listing(admin, partner, now)
    assert partner.confirmed_at == now and partner.review.confirmed_by_id == admin.id
    assert partner not in [s.organization for s in stale_listings(180, now + 179 * DAY)]
    assert remind_stale_listings(180, now + 179 * DAY).mailed == []
    later = remind_stale_listings(180, now + 181 * DAY)
    assert later.first == 1  # a new period: its first reminder again


def test_fresh_inactive_and_adminless_listings(factory: Factory, db: Session,
                                               partner: Organization) -> None:
    factory.organization(name="New Partner")  # created today: fresh
    suspended = factory.organization(name="Gone Partner", status="suspended")
    suspended.created_at = utcnow() - 400 * DAY
    db.flush()
    stale = [s.organization for s in stale_listings(180)]
    assert partner in stale and suspended not in stale
    report = remind_stale_listings(180)
    assert report.without_admin >= 1 and partner.slug not in report.mailed  # no admin yet


def test_the_sweep_command_reports_the_counts(app: Flask, admin: User, db: Session,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("directory.cli.build_app", lambda overrides=None: app)
    result = CliRunner().invoke(main, ["sweep", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)["listing_reminders"]
    assert counts["first"] >= 1 and counts["stale"] >= 1
    again = json.loads(CliRunner().invoke(main, ["sweep", "--json"]).output)
    assert again["listing_reminders"]["first"] == 0


def test_an_admin_confirms_in_one_click_and_the_profile_says_both(
        client: FlaskClient, auth: AuthActions, admin: User, partner: Organization,
        factory: Factory, db: Session) -> None:
    partner.verified_at = utcnow() - 200 * DAY
    db.flush()
    auth.login(admin.email)
    page = client.get(f"/organizations/{partner.slug}").get_data(as_text=True)
    assert "Not yet confirmed by the organization" in page
    response = client.post(f"/organizations/{partner.slug}/confirm")
    assert response.status_code == 302
    page = client.get(f"/organizations/{partner.slug}").get_data(as_text=True)
    assert ("Confirmed by the organization 0 days ago;\n    verified by the network 200 days "
            "ago.") in page
    history = client.get(f"/organizations/{partner.slug}/history").get_data(as_text=True)
    assert "Listing confirmed" in history


def test_a_coordinator_lists_stale_listings_and_reminds(
        client: FlaskClient, auth: AuthActions, admin: User, partner: Organization,
        factory: Factory, db: Session) -> None:
    auth.login(factory.user(coordinator=True).email)
    page = client.get("/listings/stale").get_data(as_text=True)
    assert "Fresh Partner" in page and "Never (listed 400 days ago)" in page
    response = client.post(f"/listings/{partner.slug}/remind")
    assert response.status_code == 302
    assert reminders_to(db, admin, partner) == 1
    assert "Reminder sent to 1 admin of" in client.get("/listings/stale").get_data(
        as_text=True)
    assert client.post(f"/organizations/{partner.slug}/confirm").status_code == 403
