"""Insecure direct object references: a member of organization A aims requests at what belongs
to organization B (its referrals, members, roles, invitations, tokens, listing, coverage,
application), at another user's tokens, and coordinators at client details. Each attack is
refused with the status the README documents (404 for what one may not know exists, 403
beyond) and leaves the stored data as it was (the refusal may be audited, nothing else)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.membership import invite_member
from directory.accounts.models import (
    ApplicationStatus,
    MemberRole,
    MembershipApplication,
    User,
)
from directory.api.operations import create_token
from directory.orgs.coverage import add_coverage_area
from directory.referrals import operations as ops
from directory.referrals.models import Referral, ReferralStatus
from tests.security.conftest import ALIAS, NEEDS, Network, StoredData, bearer, sign_in

IN_A_MONTH = (dt.date.today() + dt.timedelta(days=30)).isoformat()
CONSENT_FORM = {"consent_purpose": "Planted", "consent_method": "written",
                "consent_expires_on": IN_A_MONTH}
CONSENT_JSON = {"purpose": "Planted", "method": "written", "expires_on": IN_A_MONTH}

# (method, path after /referrals/<id>, form) of every web action on one referral.
WEB_REFERRAL_ACTIONS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "", {}),
    ("POST", "/transitions", {"to": "accepted", "version": "{version}"}),
    ("POST", "/transitions", {"to": "declined", "version": "{version}",
                              "reason": "no_capacity", "note": "planted"}),
    ("POST", "/transitions", {"to": "withdrawn", "version": "{version}"}),
    ("POST", "/send", {"version": "{version}", **CONSENT_FORM}),
    ("POST", "/notes", {"body": "planted note"}),
    ("POST", "/consent/revoke", {}),
    ("POST", "/identifying", {"name": "Planted Name", "consent_items": "name",
                              **CONSENT_FORM}),
]
# (method, path after /api/v1/referrals/<id>, JSON body) of every API action on one referral.
API_REFERRAL_ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("POST", "/transitions", {"to": "accepted", "version": "{version}"}),
    ("POST", "/transitions", {"to": "withdrawn", "version": "{version}"}),
    ("POST", "/transitions", {"to": "sent", "version": "{version}", "consent": CONSENT_JSON}),
    ("POST", "/notes", {"body": "planted note"}),
    ("POST", "/consent/revoke", None),
]
OUTSIDERS = ["a_referrer", "a_admin", "coordinator"]


def action_id(method: str, suffix: str, body: dict[str, Any] | None) -> str:
    """A test id such as ``POST /transitions to=accepted``."""
    target = f" to={body['to']}" if body and "to" in body else ""
    return f"{method} {suffix or '/'}{target}"


def _filled(data: dict[str, Any] | None, referral: Referral) -> Any:
    """The attack's form with the referral's current version: the request would be valid for
    a side of the referral, so only the access rule can refuse it."""
    if data is None:
        return None
    return {key: str(referral.version) if value == "{version}" else value
            for key, value in data.items()}


def _json_version(data: dict[str, Any] | None, referral: Referral) -> Any:
    if data is None:
        return None
    return {key: referral.version if value == "{version}" else value
            for key, value in data.items()}


def _no_client_details(text: str) -> None:
    assert ALIAS not in text and NEEDS not in text


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize(("method", "suffix", "data"), WEB_REFERRAL_ACTIONS,
                         ids=[action_id(*action) for action in WEB_REFERRAL_ACTIONS])
def test_outsiders_get_404_for_every_web_action_on_another_organizations_referral(
        client: FlaskClient, network: Network, stored: StoredData, who: str, method: str,
        suffix: str, data: dict[str, str]) -> None:
    referral = network.b_to_c
    sign_in(client, getattr(network, who))
    before = stored.snapshot()
    response = client.open(f"/referrals/{referral.public_id}{suffix}", method=method,
                           data=_filled(data, referral))
    assert response.status_code == 404
    _no_client_details(response.get_data(as_text=True))
    stored.assert_unchanged(before, refusals_audited=True)


@pytest.mark.parametrize("via", ["token", "session"])
@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize(("method", "suffix", "body"), API_REFERRAL_ACTIONS,
                         ids=[action_id(*action) for action in API_REFERRAL_ACTIONS])
def test_outsiders_get_404_for_every_api_action_on_another_organizations_referral(
        client: FlaskClient, network: Network, stored: StoredData, who: str, via: str,
        method: str, suffix: str, body: dict[str, Any] | None) -> None:
    referral = network.b_to_c
    user: User = getattr(network, who)
    headers: dict[str, str] = {}
    if via == "token":
        headers = bearer(user)
    else:
        sign_in(client, user)
    before = stored.snapshot()
    response = client.open(f"/api/v1/referrals/{referral.public_id}{suffix}", method=method,
                           json=_json_version(body, referral), headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    _no_client_details(response.get_data(as_text=True))
    stored.assert_unchanged(before, refusals_audited=True)


@pytest.mark.parametrize("guess", ["{id}", "%", "_", "*", "{public_id}%", " {public_id}",
                                   "{public_id_upper}", "../{public_id}"])
def test_guessed_and_mangled_referral_ids_find_nothing(
        client: FlaskClient, network: Network, stored: StoredData, guess: str) -> None:
    """URLs carry a random id: the database key, wildcards, or a near miss of the real id
    find nothing, even for a side of the referral."""
    referral = network.b_to_c
    token = bearer(network.b_referrer)
    public_id = guess.format(id=referral.id, public_id=referral.public_id,
                             public_id_upper=referral.public_id.swapcase())
    before = stored.snapshot()
    response = client.get(f"/api/v1/referrals/{public_id}", headers=token)
    assert response.status_code == 404
    _no_client_details(response.get_data(as_text=True))
    stored.assert_unchanged(before, refusals_audited=True)


@pytest.mark.parametrize("who", ["a_referrer", "a_admin"])
def test_another_organizations_referral_is_in_no_list(client: FlaskClient, network: Network,
                                                      stored: StoredData, who: str) -> None:
    user: User = getattr(network, who)
    token = bearer(user)
    sign_in(client, user)
    before = stored.snapshot()
    pages = [client.get(f"/referrals/{box}", query_string=query).get_data(as_text=True)
             for box in ("inbox", "outbox")
             for query in ({}, {"partner": network.b.slug}, {"partner": network.c.slug})]
    pages += [client.get("/api/v1/referrals", headers=token, query_string={
        "box": box, "partner": partner}).get_data(as_text=True)
        for box in ("inbox", "outbox") for partner in ("", network.b.slug, network.c.slug)]
    assert all(network.b_to_c.public_id not in page for page in pages)
    assert any(network.a_to_b.public_id in page for page in pages)  # its own one is listed
    stored.assert_unchanged(before, refusals_audited=True)


def _redirected_draft(network: Network, db: Session) -> Referral:
    """B closes its referral to C as redirected to A: a draft from B to A, not yet sent."""
    referral = network.b_to_c
    ops.transition(network.c_referrer, referral, {"to": ReferralStatus.ACCEPTED,
                                                  "version": referral.version})
    draft = ops.transition(network.b_referrer, referral, {
        "to": ReferralStatus.CLOSED, "version": referral.version, "outcome": "redirected",
        "redirect_to": network.a.slug})
    assert draft is not None and draft.status == ReferralStatus.DRAFT
    db.flush()
    return draft


def test_the_receiver_of_a_draft_does_not_know_it_exists(client: FlaskClient,
                                                         network: Network, db: Session,
                                                         stored: StoredData) -> None:
    draft = _redirected_draft(network, db)
    token = bearer(network.a_referrer)
    sign_in(client, network.a_referrer)
    before = stored.snapshot()
    assert client.get(f"/referrals/{draft.public_id}").status_code == 404
    assert client.get(f"/api/v1/referrals/{draft.public_id}", headers=token).status_code == 404
    sent = client.post(f"/referrals/{draft.public_id}/send",
                       data={"version": str(draft.version), **CONSENT_FORM})
    assert sent.status_code == 404
    inbox = client.get("/api/v1/referrals", query_string={"box": "inbox"}, headers=token)
    assert draft.public_id not in inbox.get_data(as_text=True)
    stored.assert_unchanged(before, refusals_audited=True)


# --- the wrong side of a referral -----------------------------------------------------------

# A is the sender of a_to_b, B its receiver: each tries the other side's moves.
WRONG_SIDE: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("a_referrer", "POST", "/transitions", {"to": "accepted", "version": "{version}"}),
    ("a_referrer", "POST", "/transitions", {"to": "declined", "version": "{version}",
                                            "reason": "no_capacity", "note": "planted"}),
    ("b_referrer", "POST", "/transitions", {"to": "withdrawn", "version": "{version}"}),
    ("b_referrer", "POST", "/consent/revoke", None),
]


@pytest.mark.parametrize(("who", "method", "suffix", "body"), WRONG_SIDE,
                         ids=[f"{who} {action_id(*action)}" for who, *action in WRONG_SIDE])
def test_each_side_is_refused_the_other_sides_moves(
        client: FlaskClient, network: Network, stored: StoredData, who: str, method: str,
        suffix: str, body: dict[str, Any] | None) -> None:
    referral = network.a_to_b
    token = bearer(getattr(network, who))
    sign_in(client, getattr(network, who))
    before = stored.snapshot()
    api = client.open(f"/api/v1/referrals/{referral.public_id}{suffix}", method=method,
                      json=_json_version(body, referral), headers=token)
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "forbidden"
    web = client.open(f"/referrals/{referral.public_id}{suffix}", method=method,
                      data=_filled(body or {}, referral))
    assert web.status_code == 403
    stored.assert_unchanged(before, refusals_audited=True)


def test_the_receiver_cannot_share_identifying_details(client: FlaskClient, network: Network,
                                                       stored: StoredData) -> None:
    referral = network.a_to_b
    sign_in(client, network.b_referrer)
    before = stored.snapshot()
    response = client.post(f"/referrals/{referral.public_id}/identifying",
                           data={"name": "Planted Name", "consent_items": "name",
                                 **CONSENT_FORM})
    assert response.status_code == 403
    stored.assert_unchanged(before, refusals_audited=True)


# --- members, roles and invitations ---------------------------------------------------------

def _member_attacks(network: Network) -> list[tuple[str, dict[str, str], int]]:
    """(path, form, status) of what A's admin tries on B's people, through B's address (403:
    B exists but is not theirs) and through A's own address with B's ids (404)."""
    b_membership = network.b_referrer.membership_in(network.b.id)
    b_admin_membership = network.b_admin.membership_in(network.b.id)
    assert b_membership is not None and b_admin_membership is not None
    invitation = invite_member(network.b_admin, network.b, "b-invitee@test.example",
                               MemberRole.REFERRER)
    a, b = f"/organizations/{network.a.slug}", f"/organizations/{network.b.slug}"
    return [
        (f"{b}/members/{b_membership.id}/role", {"role": "admin"}, 403),
        (f"{b}/members/{b_admin_membership.id}/role", {"role": "referrer"}, 403),
        (f"{b}/members/{b_membership.id}/remove", {}, 403),
        (f"{b}/invitations", {"email": "planted@test.example", "role": "admin"}, 403),
        (f"{b}/invitations/{invitation.id}/revoke", {}, 403),
        (f"{a}/members/{b_membership.id}/role", {"role": "admin"}, 404),
        (f"{a}/members/{b_admin_membership.id}/remove", {}, 404),
        (f"{a}/invitations/{invitation.id}/revoke", {}, 404),
    ]


def test_an_admin_cannot_touch_another_organizations_members(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    attacks = _member_attacks(network)
    sign_in(client, network.a_admin)
    before = stored.snapshot()
    for path, data, status in attacks:
        assert client.post(path, data=data).status_code == status, path
    stored.assert_unchanged(before, refusals_audited=True)


def test_another_organizations_member_list_is_out_of_reach(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    sign_in(client, network.a_admin)
    before = stored.snapshot()
    response = client.get(f"/organizations/{network.b.slug}/members")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert network.b_referrer.email not in page and network.b_admin.email not in page
    stored.assert_unchanged(before, refusals_audited=True)


def test_a_referrer_cannot_promote_themselves_or_demote_their_admin(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    own = network.a_referrer.membership_in(network.a.id)
    admin = network.a_admin.membership_in(network.a.id)
    assert own is not None and admin is not None
    members = f"/organizations/{network.a.slug}/members"
    sign_in(client, network.a_referrer)
    before = stored.snapshot()
    assert client.post(f"{members}/{own.id}/role", data={"role": "admin"}).status_code == 403
    assert client.post(f"{members}/{admin.id}/role",
                       data={"role": "referrer"}).status_code == 403
    assert client.post(f"{members}/{admin.id}/remove").status_code == 403
    assert client.post(f"/organizations/{network.a.slug}/invitations",
                       data={"email": "friend@test.example", "role": "admin"}).status_code == 403
    stored.assert_unchanged(before, refusals_audited=True)


def test_another_organizations_application_cannot_be_answered(
        client: FlaskClient, network: Network, db: Session, stored: StoredData) -> None:
    application = MembershipApplication(organization=network.b, applicant=network.b_admin,
                                        status=ApplicationStatus.INFO_REQUESTED,
                                        coordinator_message="Who are your funders?")
    db.add(application)
    db.flush()
    sign_in(client, network.a_admin)
    before = stored.snapshot()
    response = client.post(f"/application/{application.id}/reply",
                           data={"reply": "Planted answer."})
    assert response.status_code == 404
    assert "Who are your funders?" not in client.get("/application").get_data(as_text=True)
    stored.assert_unchanged(before, refusals_audited=True)


# --- personal API tokens --------------------------------------------------------------------

def test_another_users_token_cannot_be_revoked_or_seen(client: FlaskClient, network: Network,
                                                       stored: StoredData) -> None:
    token, secret = create_token(network.b_referrer, "B's intake script", None)
    sign_in(client, network.a_referrer)
    before = stored.snapshot()
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert "B's intake script" not in client.get("/account/tokens").get_data(as_text=True)
    stored.assert_unchanged(before, refusals_audited=True)
    works = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert works.status_code == 200 and works.get_json()["id"] == network.b_referrer.id


def test_a_coordinator_cannot_revoke_someone_elses_token(client: FlaskClient,
                                                         network: Network,
                                                         stored: StoredData) -> None:
    token, _ = create_token(network.b_admin, "B admin script", None)
    sign_in(client, network.coordinator)
    before = stored.snapshot()
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    stored.assert_unchanged(before, refusals_audited=True)


def test_a_token_cannot_act_as_anyone_else(client: FlaskClient, network: Network,
                                           stored: StoredData) -> None:
    """A cookie of B's admin sent along with A's token is ignored: the token alone decides."""
    sign_in(client, network.b_admin)
    token = bearer(network.a_referrer)
    before = stored.snapshot()
    me = client.get("/api/v1/me", headers=token)
    assert me.get_json()["id"] == network.a_referrer.id
    patch = client.patch(f"/api/v1/organizations/{network.b.slug}", headers=token,
                         json={"description": "Defaced."})
    assert patch.status_code == 403
    stored.assert_unchanged(before, refusals_audited=True)


# --- listings and coverage ------------------------------------------------------------------

@pytest.mark.parametrize("via", ["token", "session"])
@pytest.mark.parametrize("who", ["a_admin", "a_referrer", "b_referrer"])
def test_only_the_listings_admins_patch_it(client: FlaskClient, network: Network,
                                           stored: StoredData, who: str, via: str) -> None:
    """A's admin and referrer are outsiders; B's referrer is a member but no admin."""
    user: User = getattr(network, who)
    headers = bearer(user) if via == "token" else {}
    if via == "session":
        sign_in(client, user)
    before = stored.snapshot()
    response = client.patch(f"/api/v1/organizations/{network.b.slug}", headers=headers,
                            json={"description": "Defaced.", "accepting_referrals": False})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    stored.assert_unchanged(before, refusals_audited=True)


def test_an_admin_cannot_change_another_organizations_coverage(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    area = add_coverage_area(network.b, {"kind": "state", "state": "TX"})
    b_location = network.b.locations[0]
    a, b = f"/organizations/{network.a.slug}", f"/organizations/{network.b.slug}"
    sign_in(client, network.a_admin)
    before = stored.snapshot()
    assert client.get(f"{b}/coverage").status_code == 403
    assert client.post(f"{b}/coverage", data={"kind": "state", "state": "OH"}).status_code == 403
    assert client.post(f"{b}/coverage/{area.id}/delete").status_code == 403
    assert client.post(f"{a}/coverage/{area.id}/delete").status_code == 404
    # A radius around B's location, drawn on A's own listing: the location is not A's.
    borrowed = client.post(f"{a}/coverage", data={"kind": "radius", "radius_mi": "5",
                                                  "location_id": str(b_location.id)})
    assert borrowed.status_code == 400
    assert "this organization" in borrowed.get_data(as_text=True)
    stored.assert_unchanged(before, refusals_audited=True)
