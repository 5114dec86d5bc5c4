"""Referral pages over HTTP: the hand-off, bad input, 404 for outsiders, 409 on conflicts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory import create_app
from directory.audit.models import AuditEvent
from directory.db import get_database, utcnow
from directory.referrals import operations as ops
from directory.referrals.models import Referral, ReferralStatus
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.referrals.conftest import Partners


def form(**changes: Any) -> dict[str, Any]:
    """The new-referral form as a browser posts it."""
    data = {"service": "case_management", "urgency": "urgent", "age_range": "18-24",
            "alias": "Zed", "language": "Tagalog", "needs": "Shelter tonight.",
            "contact_instructions": "Call the case manager first.",
            "contact_person": "Ana at intake", "handoff_time": "Today 3pm",
            "consent_purpose": "Shelter placement", "consent_method": "written",
            "consent_expires_on": (dt.date.today() + dt.timedelta(days=14)).isoformat()}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Referral)) or 0


def _public_id(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[1]


def test_the_hand_off_from_referral_to_outcome(client: FlaskClient, auth: AuthActions,
                                               partners: Partners, db: Session) -> None:
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/new?to={partners.receiver.slug}")
    assert page.status_code == 200 and "Refer a client to Receiving Shelter" in page.text
    sent = client.post(f"/referrals/new?to={partners.receiver.slug}",
                       data=form(name="Zed Q", consent_items="name"))
    assert sent.status_code == 302, sent.text
    public_id = _public_id(sent.headers["Location"])
    assert "not yet" in client.get(f"/referrals/{public_id}").text  # not viewed
    auth.logout()

    auth.login(partners.receiver_user.email)
    home = client.get("/referrals/inbox").text
    assert public_id in home and 'id="unread-count">1<' in home
    page = client.get(f"/referrals/{public_id}").text
    assert "Zed Q" in page and "Tagalog" in page and "Accept referral" in page
    assert 'id="unread-count"' not in client.get("/referrals/inbox").text
    version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    assert client.post(f"/referrals/{public_id}/transitions",
                       data={"to": "accepted", "version": version}).status_code == 302
    assert client.post(f"/referrals/{public_id}/notes",
                       data={"body": "Bed 4 is ready."}).status_code == 302
    done = client.post(f"/referrals/{public_id}/transitions",
                       data={"to": "completed", "version": version + 1,
                             "note": "Placed in our shelter."})
    assert done.status_code == 302
    auth.logout()

    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/{public_id}").text
    assert 'id="status">Completed<' in page
    assert "Placed in our shelter." in page and "Bed 4 is ready." in page
    assert "not yet" not in page  # the receiver's first opening is shown
    assert "Accept referral" not in page and "Withdraw referral" not in page


@pytest.mark.parametrize("changes,message", [
    ({"alias": None}, "This field is required."),
    ({"urgency": "whenever"}, "Choose one of the options."),
    ({"consent_purpose": None}, "This field is required."),
    ({"consent_method": "verbal"}, "Say why consent could only be given verbally."),
    ({"age_range": "12-17"}, "guardian"),
    ({"phone": "555-0100"}, "Identifying details are shared only when the consent names them"),
    ({"consent_expires_on": "2020-01-01"}, "The consent must end after today."),
    ({"service": "legal.immigration"}, "does not offer"),
    ({"needs": "x" * 2001}, "Use at most 2000 characters."),
])
def test_bad_input_is_refused_with_a_message_and_stores_nothing(
        changes: dict[str, Any], message: str, client: FlaskClient, auth: AuthActions,
        partners: Partners, db: Session) -> None:
    before = _count(db)
    auth.login(partners.referrer.email)
    response = client.post(f"/referrals/new?to={partners.receiver.slug}", data=form(**changes))
    assert response.status_code == 400
    assert message in response.text
    assert _count(db) == before


def test_unknown_partner_is_404_and_no_partner_goes_to_search(
        client: FlaskClient, auth: AuthActions, partners: Partners) -> None:
    auth.login(partners.referrer.email)
    assert client.get("/referrals/new?to=no-such-partner").status_code == 404
    assert client.get("/referrals/new").headers["Location"].startswith("/search")


def test_every_referral_url_is_404_for_a_third_organization_and_for_guessed_ids(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    urls = [("GET", ""), ("POST", "/transitions"), ("POST", "/send"), ("POST", "/notes"),
            ("POST", "/consent/revoke")]
    for user in (partners.third_user, partners.coordinator):
        auth.login(user.email)
        for method, suffix in urls:
            response = client.open(f"/referrals/{referral.public_id}{suffix}", method=method,
                                   data={"to": "accepted", "version": 2, "body": "x"})
            assert response.status_code == 404, (user.email, method, suffix)
        auth.logout()
    auth.login(partners.referrer.email)
    near_miss = referral.public_id[:-1] + ("B" if referral.public_id.endswith("A") else "A")
    for guess in (str(referral.id), near_miss, "1", "x" * 200):
        assert client.get(f"/referrals/{guess}").status_code == 404
    assert referral.status == ReferralStatus.SENT


def test_a_stale_form_answers_409_and_changes_nothing(client: FlaskClient, auth: AuthActions,
                                                      partners: Partners, factory: Factory,
                                                      db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    ops.transition(partners.referrer, referral, {"to": "withdrawn", "version": 2})
    auth.login(partners.receiver_user.email)
    response = client.post(f"/referrals/{referral.public_id}/transitions",
                           data={"to": "accepted", "version": 2})
    assert response.status_code in (403, 409)  # withdrawn: accepting is no longer a move
    referral2 = factory.referral(partners.referrer, partners.receiver)
    ops.transition(partners.receiver_admin, referral2, {"to": "declined", "version": 2,
                                                        "reason": "other", "note": "No."})
    # The loser of a race, whose form holds the version before the winner's move: a conflict,
    # whatever the state now allows.
    response = client.post(f"/referrals/{referral2.public_id}/transitions",
                           data={"to": "declined", "version": 2, "reason": "other",
                                 "note": "Also no."})
    assert response.status_code == 409
    # Against the current version, a move the state does not allow is refused as such.
    response = client.post(f"/referrals/{referral2.public_id}/transitions",
                           data={"to": "declined", "version": 3, "reason": "other",
                                 "note": "Also no."})
    assert response.status_code == 403
    referral3 = factory.referral(partners.referrer, partners.receiver)
    events = len(referral3.events)
    response = client.post(f"/referrals/{referral3.public_id}/transitions",
                           data={"to": "accepted", "version": 1})
    assert response.status_code == 409
    assert "Someone else changed this referral" in response.text
    db.expire_all()
    assert referral3.status == ReferralStatus.SENT and len(referral3.events) == events


@pytest.mark.parametrize("data,status", [
    ({"to": "accepted"}, 400), ({"to": "accepted", "version": "two"}, 400),
    ({"to": "flying", "version": 2}, 400), ({"to": "declined", "version": 2}, 400),
    ({"to": "declined", "version": 2, "reason": "no_capacity"}, 400),
    ({"to": "completed", "version": 2, "note": "n"}, 403)])
def test_bad_transitions_are_refused_with_the_right_status(
        data: dict[str, Any], status: int, client: FlaskClient, auth: AuthActions,
        partners: Partners, factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    auth.login(partners.receiver_user.email)
    response = client.post(f"/referrals/{referral.public_id}/transitions", data=data)
    assert response.status_code == status
    assert referral.status == ReferralStatus.SENT


def test_every_view_of_client_details_is_audited(client: FlaskClient, auth: AuthActions,
                                                 partners: Partners, factory: Factory,
                                                 db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    auth.login(partners.receiver_user.email)
    for _ in range(2):
        assert client.get(f"/referrals/{referral.public_id}").status_code == 200
    views = db.scalars(select(AuditEvent).where(
        AuditEvent.action == "referral_client_details_viewed",
        AuditEvent.actor_id == partners.receiver_user.id)).all()
    assert len(views) == 2 and views[0].organization_id == partners.receiver.id


def test_revoking_consent_on_the_page_hides_details_from_the_receiver(
        client: FlaskClient, auth: AuthActions, partners: Partners, factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, alias="Quince")
    auth.login(partners.referrer.email)
    assert client.post(f"/referrals/{referral.public_id}/consent/revoke").status_code == 302
    assert "Revoked" in client.get(f"/referrals/{referral.public_id}").text
    auth.logout()
    auth.login(partners.receiver_user.email)
    page = client.get(f"/referrals/{referral.public_id}").text
    assert "Quince" not in page and "no longer in force" in page


def test_inbox_filters_and_overdue_items(client: FlaskClient, auth: AuthActions,
                                         partners: Partners, factory: Factory,
                                         db: Session) -> None:
    urgent = factory.referral(partners.referrer, partners.receiver, urgency="emergency")
    routine = factory.referral(partners.referrer, partners.receiver, urgency="routine")
    urgent.response_due_at = utcnow() - dt.timedelta(minutes=1)
    db.flush()
    auth.login(partners.receiver_user.email)
    page = client.get("/referrals/inbox?urgency=emergency").text
    assert urgent.public_id in page and routine.public_id not in page
    assert "Overdue" in page
    page = client.get(f"/referrals/inbox?partner={partners.sender.slug}&status=sent&age=7").text
    assert urgent.public_id in page and routine.public_id in page
    assert routine.public_id not in client.get("/referrals/inbox?status=accepted").text
    assert urgent.public_id not in client.get("/referrals/outbox").text


def test_coordinators_see_counts_never_client_details(client: FlaskClient, auth: AuthActions,
                                                      partners: Partners,
                                                      factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, alias="Quince")
    auth.login(partners.coordinator.email)
    assert "/reports/" in client.get("/admin/").text
    assert client.get("/referrals/report").headers["Location"].endswith("/reports/")
    page = client.get("/reports/").text
    assert "Time to an answer" in page and "Quince" not in page
    assert client.get(f"/referrals/{referral.public_id}").status_code == 404


def test_a_partner_profile_offers_a_referral(client: FlaskClient, auth: AuthActions,
                                             partners: Partners) -> None:
    auth.login(partners.referrer.email)
    page = client.get(f"/organizations/{partners.receiver.slug}").text
    assert f"/referrals/new?to={partners.receiver.slug}" in page
    own = client.get(f"/organizations/{partners.sender.slug}").text
    assert "/referrals/new" not in own


@pytest.fixture()
def guarded_client(app: Flask, settings: dict[str, Any], db: Session) -> FlaskClient:
    """A client of the application with CSRF protection on, as deployed."""
    application = create_app({**settings, "WTF_CSRF_ENABLED": True})
    get_database(application).engine.dispose()
    application.extensions["directory.db"] = get_database(app)
    return application.test_client()


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def test_the_real_forms_work_with_their_csrf_tokens(guarded_client: FlaskClient,
                                                    partners: Partners) -> None:
    client = guarded_client
    login = client.get("/login").text
    client.post("/login", data={"csrf_token": _token(login), "email": partners.referrer.email,
                                "password": PASSWORD})
    page = client.get(f"/referrals/new?to={partners.receiver.slug}").text
    sent = client.post(f"/referrals/new?to={partners.receiver.slug}",
                       data=form(csrf_token=_token(page)))
    assert sent.status_code == 302, sent.text
    url = sent.headers["Location"]
    page = client.get(url).text
    assert client.post(f"{url}/notes", data={"csrf_token": _token(page),
                                             "body": "Hello."}).status_code == 302
    assert client.post(f"{url}/transitions", data={
        "csrf_token": _token(page), "to": "withdrawn", "version": 2}).status_code == 302


def test_the_client_language_comes_from_the_directory_list(
        client: FlaskClient, auth: AuthActions, partners: Partners, db: Session) -> None:
    auth.login(partners.referrer.email)
    page = client.get(f"/referrals/new?to={partners.receiver.slug}").text
    field = re.search(r'<select id="language" name="language".*?</select>', page, re.DOTALL)
    assert field is not None  # a list, no longer free text
    assert '<option value="Spanish" >Spanish</option>' in field.group(0)
    assert '<option value="American Sign Language" >' in field.group(0)

    before = _count(db)
    refused = client.post(f"/referrals/new?to={partners.receiver.slug}",
                          data=form(language="Klingon"))
    assert refused.status_code == 400 and _count(db) == before
    assert "Choose a language from the list." in refused.text
    assert '<a href="#language">Choose a language from the list.</a>' in refused.text
    assert 'id="error-summary"' in refused.text
    missing = client.post(f"/referrals/new?to={partners.receiver.slug}", data=form(language=""))
    assert missing.status_code == 400 and "Choose the client&#39;s language." in missing.text


@pytest.mark.parametrize(("given", "stored"), [
    ("Spanish", "Spanish"), ("spanish", "Spanish"), ("es", "Spanish"),
    ("ASE", "American Sign Language"),
])
def test_the_client_language_is_stored_by_name_as_before(
        given: str, stored: str, client: FlaskClient, auth: AuthActions,
        partners: Partners) -> None:
    auth.login(partners.referrer.email)
    sent = client.post(f"/referrals/new?to={partners.receiver.slug}", data=form(language=given))
    assert sent.status_code == 302, sent.text
    page = client.get(sent.headers["Location"]).text
    assert f"<dt>Language</dt><dd>{stored}</dd>" in page
