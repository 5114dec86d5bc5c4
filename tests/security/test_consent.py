"""Consent rules under attack: a referral (or a redirected draft) sent without a complete
consent record, client details looked for where outsiders and coordinators can look, and the
receiver trying to keep seeing them once consent is revoked or has ended.

Cases marked xfail(strict=True) fail today: they are the findings of this suite.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.referrals import disclosure
from directory.referrals import operations as ops
from directory.referrals.models import Consent, Referral, ReferralStatus
from tests.factories import Factory
from tests.mail.helpers import last_mail_to, link_path
from tests.security.conftest import (
    ALIAS,
    AUDIT_TABLE,
    NEEDS,
    Network,
    StoredData,
    bearer,
    sign_in,
)

API = "/api/v1/referrals"
SECRET_NOTE = "Intake said the client's cousin is at 12 Heron Court."
IDENTIFYING_NAME = "Marisol Quintero-Vance"
# The factory's organizations are in Houston, and a consent's dates are dates there (not UTC).
TODAY = dt.datetime.now(ZoneInfo("America/Chicago")).date()


def _days(days: int) -> str:
    return (TODAY + dt.timedelta(days=days)).isoformat()


def _web_form(**changes: str | None) -> dict[str, str]:
    data: dict[str, str | None] = {
        "service": "case_management", "urgency": "urgent", "age_range": "18-24",
        "alias": ALIAS, "language": "English", "needs": NEEDS,
        "contact_instructions": "Email first.", "contact_person": "Intake",
        "handoff_time": "Monday 9am", "consent_purpose": "Legal referral",
        "consent_method": "written", "consent_expires_on": _days(30)}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# What a consent record lacks, as the API body and as the web form: each must be refused.
NO_CONSENT: dict[str, tuple[dict[str, Any], dict[str, str | None]]] = {
    "no consent record": ({"consent": None}, {
        "consent_purpose": None, "consent_method": None, "consent_expires_on": None}),
    "no purpose": ({"consent": {"purpose": ""}}, {"consent_purpose": ""}),
    "no method": ({"consent": {"method": ""}}, {"consent_method": None}),
    "an unknown method": ({"consent": {"method": "implied"}}, {"consent_method": "implied"}),
    "verbal without a reason": ({"consent": {"method": "verbal"}}, {"consent_method": "verbal"}),
    "no end date": ({"consent": {"expires_on": ""}}, {"consent_expires_on": None}),
    "ended yesterday": ({"consent": {"expires_on": _days(-1)}},
                        {"consent_expires_on": _days(-1)}),
    "ends today": ({"consent": {"expires_on": _days(0)}}, {"consent_expires_on": _days(0)}),
    "a minor without the guardian or a basis": ({"age_range": "12-17"}, {"age_range": "12-17"}),
    "a minor alone without the legal basis": (
        {"age_range": "12-17", "consent": {"minor_basis": "minor_alone"}},
        {"age_range": "12-17", "consent_minor_basis": "minor_alone"}),
    "a name the consent does not name": ({"name": IDENTIFYING_NAME},
                                         {"name": IDENTIFYING_NAME}),
    "a phone the consent does not name": ({"phone": "555-0199", "consent": {"items": ["name"]}},
                                          {"phone": "555-0199", "consent_items": "name"}),
}


def _api_body(network: Network, changes: dict[str, Any]) -> dict[str, Any]:
    changes = dict(changes)
    consent = changes.pop("consent", {})
    body = Factory.referral_data(network.c, alias=ALIAS, needs=NEEDS, **changes)
    if consent is None:
        del body["consent"]
    else:
        body["consent"] = {**body["consent"], **consent}
    return body


@pytest.mark.parametrize("case", NO_CONSENT)
def test_no_referral_is_sent_without_a_complete_consent(client: FlaskClient, network: Network,
                                                        stored: StoredData, case: str) -> None:
    api_changes, form_changes = NO_CONSENT[case]
    token = bearer(network.a_referrer)
    sign_in(client, network.a_referrer)
    before = stored.snapshot()
    api = client.post(API, headers=token, json=_api_body(network, api_changes))
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "validation_error"
    web = client.post(f"/referrals/new?to={network.c.slug}", data=_web_form(**form_changes))
    assert web.status_code == 400
    stored.assert_unchanged(before)


def test_the_complete_consent_is_accepted(client: FlaskClient, network: Network,
                                          stored: StoredData) -> None:
    """The control of the cases above."""
    before = stored.snapshot()
    response = client.post(API, headers=bearer(network.a_referrer),
                           json=_api_body(network, {}))
    assert response.status_code == 201
    assert {"referrals", "referral_consents"} <= set(stored.changed_tables(before))


def _redirected_draft(network: Network, db: Session) -> Referral:
    """B's referral to C, accepted, closed by B as redirected to A: B's draft to A."""
    referral = network.b_to_c
    ops.transition(network.c_referrer, referral, {"to": ReferralStatus.ACCEPTED,
                                                  "version": referral.version})
    draft = ops.transition(network.b_referrer, referral, {
        "to": ReferralStatus.CLOSED, "version": referral.version, "outcome": "redirected",
        "redirect_to": network.a.slug})
    assert draft is not None
    db.flush()
    return draft


@pytest.mark.parametrize("consent", [None, {}, {"purpose": "Onward", "method": "written",
                                                "expires_on": _days(-1)}])
def test_a_redirected_draft_is_not_sent_without_its_own_consent(
        client: FlaskClient, network: Network, db: Session, stored: StoredData,
        consent: dict[str, str] | None) -> None:
    draft = _redirected_draft(network, db)
    token = bearer(network.b_referrer)
    sign_in(client, network.b_referrer)
    before = stored.snapshot()
    body: dict[str, Any] = {"to": "sent", "version": draft.version}
    if consent is not None:
        body["consent"] = consent
    api = client.post(f"{API}/{draft.public_id}/transitions", headers=token, json=body)
    assert api.status_code == 400
    assert any(name.startswith("consent") for name in api.get_json()["error"]["fields"])
    form = {f"consent_{key}": value for key, value in (consent or {}).items()}
    web = client.post(f"/referrals/{draft.public_id}/send",
                      data={"version": str(draft.version), **form})
    assert web.status_code == 400
    stored.assert_unchanged(before)
    db.expire_all()
    assert db.get(Referral, draft.id).status == ReferralStatus.DRAFT


def test_a_placement_request_carries_no_identifying_details(
        client: FlaskClient, network: Network, factory: Factory, stored: StoredData) -> None:
    other = factory.organization(name="Second Shelter")
    sign_in(client, network.a_referrer)
    before = stored.snapshot()
    response = client.post("/referrals/placements/new", data=_web_form(
        partners=f"{network.c.slug}\n{other.slug}", name=IDENTIFYING_NAME,
        consent_items="name"))
    assert response.status_code == 400
    assert IDENTIFYING_NAME not in response.get_data(as_text=True).split("<form")[0]
    stored.assert_unchanged(before)


# --- client details stay with the two sides -------------------------------------------------

def _both_sides_have_used_it(client: FlaskClient, network: Network) -> Referral:
    """C opens B's referral and both write notes: there is something to find."""
    referral = network.b_to_c
    for user in (network.c_referrer, network.b_referrer):
        sign_in(client, user)
        assert ALIAS in client.get(f"/referrals/{referral.public_id}").get_data(as_text=True)
        assert client.post(f"/referrals/{referral.public_id}/notes",
                           data={"body": SECRET_NOTE}).status_code == 302
        client.post("/logout")
    return referral


def _outsider_pages(network: Network, referral: Referral) -> list[str]:
    b, c = network.b.slug, network.c.slug
    return ["/", f"/organizations/{b}", f"/organizations/{c}", "/referrals/inbox",
            "/referrals/outbox", "/referrals/notifications", f"/referrals/{referral.public_id}",
            f"/organizations/{b}/members", "/account", f"/api/v1/referrals/{referral.public_id}",
            "/api/v1/referrals?box=inbox", "/api/v1/referrals?box=outbox",
            f"/api/v1/organizations/{c}", "/api/v1/hsds/export?format=json"]


def _coordinator_pages(network: Network, referral: Referral) -> list[str]:
    return [*_outsider_pages(network, referral), "/reports/", "/admin/",
            f"/admin/organizations/{network.b.slug}", f"/admin/organizations/{network.c.slug}",
            f"/admin/users/{network.b_referrer.id}", f"/admin/users/{network.c_referrer.id}",
            "/admin/audit", f"/admin/audit?organization={network.c.slug}"]


def _assert_no_client_details(text: str, where: str) -> None:
    for secret in (ALIAS, NEEDS, SECRET_NOTE):
        assert secret not in text, f"{secret!r} on {where}"


@pytest.mark.parametrize("who", ["a_referrer", "a_admin", "coordinator"])
def test_no_page_shows_client_details_to_outsiders_or_coordinators(
        client: FlaskClient, network: Network, stored: StoredData, who: str) -> None:
    referral = _both_sides_have_used_it(client, network)
    user: User = getattr(network, who)
    sign_in(client, user)
    pages = (_coordinator_pages if user.is_coordinator else _outsider_pages)(network, referral)
    before = stored.snapshot()
    for path in pages:
        response = client.get(path)
        assert response.status_code in (200, 403, 404), path
        _assert_no_client_details(response.get_data(as_text=True), path)
    stored.assert_unchanged(before, refusals_audited=True)


def test_lists_mail_notifications_and_the_audit_log_carry_no_client_details(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    """Even for the two sides, only the referral's page shows its details; nothing stored
    outside the encrypted columns holds them."""
    referral = _both_sides_have_used_it(client, network)
    token = bearer(network.c_referrer)
    for box in ("inbox", "outbox"):
        listing = client.get(API, query_string={"box": box}, headers=token)
        _assert_no_client_details(listing.get_data(as_text=True), box)
    state = stored.snapshot()
    for table in ("mail_outbox", "notifications", AUDIT_TABLE, "referral_events"):
        _assert_no_client_details(repr(state[table]), table)
    _assert_no_client_details(repr(state), "the database")
    assert state[AUDIT_TABLE], "the views were audited"
    assert referral.public_id in repr(state[AUDIT_TABLE])


# --- revocation and expiry ------------------------------------------------------------------

def _assert_receiver_sees_nothing(client: FlaskClient, referral: Referral,
                                  token: dict[str, str]) -> None:
    """Neither the page nor the API shows C's receiver the client's details."""
    page = client.get(f"/referrals/{referral.public_id}").get_data(as_text=True)
    body = client.get(f"{API}/{referral.public_id}", headers=token)
    _assert_no_client_details(page, "the receiver's page")
    _assert_no_client_details(body.get_data(as_text=True), "the receiver's API answer")
    assert IDENTIFYING_NAME not in page + body.get_data(as_text=True)
    assert body.get_json()["client"] is None


def test_after_revocation_the_receiver_sees_no_client_details(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    referral = network.b_to_c
    token = bearer(network.c_referrer)
    sign_in(client, network.c_referrer)
    shown = client.get(f"{API}/{referral.public_id}", headers=token).get_json()["client"]
    assert shown["details"]["needs"] == NEEDS  # before: shown
    revoked = client.post(f"{API}/{referral.public_id}/consent/revoke",
                          headers=bearer(network.b_referrer))
    assert revoked.status_code == 200 and revoked.get_json()["consent_in_force"] is False
    _assert_receiver_sees_nothing(client, referral, token)  # also marks the notice read
    before = stored.snapshot()
    _assert_receiver_sees_nothing(client, referral, token)
    viewed = [row for row in stored.added(before, AUDIT_TABLE)
              if row["action"] == "referral_client_details_viewed" and row["details"]["items"]]
    assert viewed == [], "a view of client details was recorded after the revocation"
    stored.assert_unchanged(before, refusals_audited=True)
    sender = client.get(f"{API}/{referral.public_id}", headers=bearer(network.b_referrer))
    assert sender.get_json()["client"]["details"]["alias"] == ALIAS  # the sender still does


def test_a_revoked_consent_cannot_be_revoked_again_or_by_the_receiver(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    referral = network.b_to_c
    sender, receiver = bearer(network.b_referrer), bearer(network.c_referrer)
    assert client.post(f"{API}/{referral.public_id}/consent/revoke",
                       headers=receiver).status_code == 403
    assert client.post(f"{API}/{referral.public_id}/consent/revoke",
                       headers=sender).status_code == 200
    before = stored.snapshot()
    for token in (sender, receiver):
        again = client.post(f"{API}/{referral.public_id}/consent/revoke", headers=token)
        assert again.status_code == 403
    stored.assert_unchanged(before, refusals_audited=True)


def test_after_revocation_identifying_details_are_hidden_too(
        client: FlaskClient, network: Network, factory: Factory, stored: StoredData) -> None:
    referral = factory.referral(network.b_referrer, network.c, alias=ALIAS,
                                name=IDENTIFYING_NAME, consent={"items": ["name"]})
    token = bearer(network.c_referrer)
    sign_in(client, network.c_referrer)
    shown = client.get(f"{API}/{referral.public_id}", headers=token).get_json()["client"]
    assert shown["identifying"] == {"name": IDENTIFYING_NAME}
    disclosure.revoke_consent(network.b_referrer, referral)
    _assert_receiver_sees_nothing(client, referral, token)  # also marks the notice read
    before = stored.snapshot()
    _assert_receiver_sees_nothing(client, referral, token)
    stored.assert_unchanged(before, refusals_audited=True)


def test_after_the_consent_ends_the_receiver_sees_no_client_details(
        client: FlaskClient, network: Network, db: Session, stored: StoredData) -> None:
    referral = network.b_to_c
    consent = db.scalars(select(Consent).where(Consent.referral_id == referral.id)).one()
    consent.expires_on = TODAY - dt.timedelta(days=1)
    db.flush()
    token = bearer(network.c_referrer)
    sign_in(client, network.c_referrer)
    _assert_receiver_sees_nothing(client, referral, token)  # also records "viewed"
    before = stored.snapshot()
    _assert_receiver_sees_nothing(client, referral, token)
    stored.assert_unchanged(before, refusals_audited=True)


def test_a_receiver_cannot_recover_revoked_details_through_a_redirect(
        client: FlaskClient, network: Network, db: Session, stored: StoredData) -> None:
    referral = network.b_to_c
    ops.transition(network.c_referrer, referral, {"to": ReferralStatus.ACCEPTED,
                                                  "version": referral.version})
    disclosure.revoke_consent(network.b_referrer, referral)
    db.flush()
    token = bearer(network.c_referrer)
    assert client.get(f"{API}/{referral.public_id}", headers=token).get_json()["client"] is None
    closed = client.post(f"{API}/{referral.public_id}/transitions", headers=token, json={
        "to": "closed", "version": referral.version, "outcome": "redirected",
        "redirect_to": network.a.slug})
    assert closed.status_code in (200, 400, 403)
    drafts = client.get(API, query_string={"box": "outbox", "status": "draft"},
                        headers=token).get_json()["items"]
    for draft in drafts:
        response = client.get(f"{API}/{draft['id']}", headers=token)
        _assert_no_client_details(response.get_data(as_text=True), f"draft {draft['id']}")
        sign_in(client, network.c_referrer)
        page = client.get(f"/referrals/{draft['id']}").get_data(as_text=True)
        _assert_no_client_details(page, f"draft page {draft['id']}")


def test_a_coordinator_cannot_join_an_organization_to_read_its_referrals(
        client: FlaskClient, network: Network, db: Session) -> None:
    coordinator = network.coordinator
    sign_in(client, coordinator)
    invited = client.post(f"/organizations/{network.c.slug}/invitations",
                          data={"email": coordinator.email, "role": MemberRole.REFERRER.value})
    if invited.status_code == 302:  # invited: accept it, signed in as the coordinator
        client.post(link_path(last_mail_to(db, coordinator.email)))
    response = client.get(f"{API}/{network.b_to_c.public_id}")
    assert response.status_code == 404 or response.get_json()["client"] is None
    page = client.get(f"/referrals/{network.b_to_c.public_id}").get_data(as_text=True)
    _assert_no_client_details(page, "the referral page")
