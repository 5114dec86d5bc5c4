"""Cross-site request forgery, with CSRF protection on as deployed.

Each case is a state change its user is allowed to make. A forged request (no token, a made-up
token, or a real token of another browser's session) is refused with 400 and stores nothing;
then the same request with the page's own token goes through and changes what it should, which
shows that only the missing token stopped it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from directory.api.operations import create_token
from tests.conftest import PASSWORD
from tests.factories import Factory
from tests.security.conftest import (
    Network,
    StoredData,
    csrf_token,
    guarded_sign_in,
)

HTTPS = "https://directory.test"
NEW_PASSWORD = "a completely new passphrase"
Build = Callable[[Network], Any]


@dataclass(frozen=True)
class Case:
    """One state change: who makes it, where, with what, and the status it gets."""

    actor: str | None  # an attribute of Network; None: a visitor
    method: str
    path: Build
    data: Build = field(default=lambda n: {})
    ok: int = 302
    api: bool = False

    def request(self, network: Network) -> tuple[str, dict[str, Any]]:
        """The path and data, built once (building may create what the case acts on)."""
        return self.path(network), dict(self.data(network))

    def send(self, client: FlaskClient, request: tuple[str, dict[str, Any]],
             token: str | None, **kwargs: Any) -> TestResponse:
        path, data = request[0], dict(request[1])
        if self.api:
            headers = kwargs.pop("headers", {}) | ({"X-CSRFToken": token} if token else {})
            return client.open(path, method=self.method, json=data, headers=headers, **kwargs)
        if token is not None:
            data["csrf_token"] = token
        return client.open(path, method=self.method, data=data, **kwargs)


def _referral_form(network: Network) -> dict[str, str]:
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    return {"service": "case_management", "urgency": "urgent", "age_range": "18-24",
            "alias": "Forged", "language": "English", "needs": "A forged referral.",
            "contact_instructions": "None.", "contact_person": "Nobody",
            "handoff_time": "Never", "consent_purpose": "Forgery", "consent_method": "written",
            "consent_expires_on": expires}


def _consent_form() -> dict[str, str]:
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    return {"consent_purpose": "Share the name", "consent_method": "written",
            "consent_expires_on": expires, "consent_items": "name"}


def _referral(network: Network) -> str:
    return f"/referrals/{network.b_to_c.public_id}"


def _api_referral(network: Network) -> str:
    return f"/api/v1/referrals/{network.b_to_c.public_id}"


def _membership(network: Network) -> int:
    membership = network.b_referrer.membership_in(network.b.id)
    assert membership is not None
    return membership.id


def _token_id(network: Network) -> int:
    token, _ = create_token(network.b_referrer, "to revoke", None)
    return token.id


WEB_CASES: dict[str, Case] = {
    "send a referral": Case("b_referrer", "POST",
                            lambda n: f"/referrals/new?to={n.c.slug}", _referral_form),
    "accept a referral": Case("c_referrer", "POST", lambda n: f"{_referral(n)}/transitions",
                              lambda n: {"to": "accepted", "version": n.b_to_c.version}),
    "add a note": Case("c_referrer", "POST", lambda n: f"{_referral(n)}/notes",
                       lambda n: {"body": "Forged note."}),
    "revoke consent": Case("b_referrer", "POST", lambda n: f"{_referral(n)}/consent/revoke"),
    "share identifying details": Case(
        "b_referrer", "POST", lambda n: f"{_referral(n)}/identifying",
        lambda n: {"name": "Forged Name", **_consent_form()}),
    "mark notifications read": Case("c_referrer", "POST",
                                    lambda n: "/referrals/notifications/read"),
    "change the password": Case("b_referrer", "POST", lambda n: "/account/password",
                                lambda n: {"current_password": PASSWORD,
                                           "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    "end the other sessions": Case("b_referrer", "POST",
                                   lambda n: "/account/sessions/end-others",
                                   lambda n: {"sessions-password": PASSWORD}),
    "set up two-factor sign-in": Case("b_referrer", "POST",
                                      lambda n: "/account/two-factor/setup",
                                      lambda n: {"password": PASSWORD}),
    "create an API token": Case("b_referrer", "POST", lambda n: "/account/tokens",
                                lambda n: {"name": "forged", "expires_in_days": "30"}, ok=200),
    "revoke an API token": Case("b_referrer", "POST",
                                lambda n: f"/account/tokens/{_token_id(n)}/revoke"),
    "invite a member": Case("b_admin", "POST",
                            lambda n: f"/organizations/{n.b.slug}/invitations",
                            lambda n: {"email": "forged@test.example", "role": "admin"}),
    "change a role": Case("b_admin", "POST",
                          lambda n: f"/organizations/{n.b.slug}/members/{_membership(n)}/role",
                          lambda n: {"role": "admin"}),
    "remove a member": Case(
        "b_admin", "POST",
        lambda n: f"/organizations/{n.b.slug}/members/{_membership(n)}/remove"),
    "add a coverage area": Case("b_admin", "POST",
                                lambda n: f"/organizations/{n.b.slug}/coverage",
                                lambda n: {"kind": "state", "state": "OH"}),
    "suspend an organization": Case("coordinator", "POST",
                                    lambda n: f"/admin/organizations/{n.a.slug}/status",
                                    lambda n: {"action": "suspend", "reason": "Forged."}),
    "verify a listing": Case("coordinator", "POST",
                             lambda n: f"/admin/organizations/{n.a.slug}/verify"),
    "suspend a user": Case("coordinator", "POST",
                           lambda n: f"/admin/users/{n.a_admin.id}/status",
                           lambda n: {"action": "suspend", "reason": "Forged."}),
    "end a user's sessions": Case("coordinator", "POST",
                                  lambda n: f"/admin/users/{n.a_admin.id}/sessions/end"),
    "sign out": Case("b_referrer", "POST", lambda n: "/logout"),
    "sign in (login CSRF)": Case(None, "POST", lambda n: "/login",
                                 lambda n: {"email": n.b_referrer.email, "password": PASSWORD}),
    "ask for a password reset": Case(None, "POST", lambda n: "/password/forgot",
                                     lambda n: {"email": n.b_referrer.email}),
}
API_CASES: dict[str, Case] = {
    "patch a listing": Case("b_admin", "PATCH", lambda n: f"/api/v1/organizations/{n.b.slug}",
                            lambda n: {"description": "Forged."}, ok=200, api=True),
    "send a referral": Case("b_referrer", "POST", lambda n: "/api/v1/referrals",
                            lambda n: Factory.referral_data(n.c, alias="Forged"), ok=201,
                            api=True),
    "accept a referral": Case("c_referrer", "POST",
                              lambda n: f"{_api_referral(n)}/transitions",
                              lambda n: {"to": "accepted", "version": n.b_to_c.version},
                              ok=200, api=True),
    "add a note": Case("c_referrer", "POST", lambda n: f"{_api_referral(n)}/notes",
                       lambda n: {"body": "Forged note."}, ok=201, api=True),
    "revoke consent": Case("b_referrer", "POST", lambda n: f"{_api_referral(n)}/consent/revoke",
                           ok=200, api=True),
}


def _signed_in_client(guarded: Flask, network: Network, case: Case) -> tuple[FlaskClient, str]:
    """A browser of the case's user, signed in, and the CSRF token its pages carry."""
    client = guarded.test_client()
    if case.actor is None:
        return client, csrf_token(client, "/login")
    guarded_sign_in(client, getattr(network, case.actor))
    return client, csrf_token(client, "/account")


def _forgeries(guarded: Flask) -> list[str | None]:
    """No token, a made-up one, and a real token of another browser (the attacker's own)."""
    return [None, "forged", csrf_token(guarded.test_client(), "/login")]


def _refused(response: TestResponse, case: Case) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    if case.api:
        assert response.get_json()["error"]["code"] == "csrf_failed"
    else:
        assert "form expired" in response.get_data(as_text=True)


def _attack_then_control(guarded: Flask, network: Network, stored: StoredData,
                         case: Case) -> None:
    client, real = _signed_in_client(guarded, network, case)
    request = case.request(network)
    before = stored.snapshot()
    for token in _forgeries(guarded):
        _refused(case.send(client, request, token), case)
        stored.assert_unchanged(before)
    response = case.send(client, request, real)
    assert response.status_code == case.ok, response.get_data(as_text=True)[:500]
    assert stored.changed_tables(before) != []


@pytest.mark.parametrize("name", WEB_CASES)
def test_forged_forms_are_refused_and_store_nothing(guarded: Flask, network: Network,
                                                    stored: StoredData, name: str) -> None:
    _attack_then_control(guarded, network, stored, WEB_CASES[name])


@pytest.mark.parametrize("name", API_CASES)
def test_forged_api_requests_with_the_session_are_refused(guarded: Flask, network: Network,
                                                          stored: StoredData, name: str) -> None:
    _attack_then_control(guarded, network, stored, API_CASES[name])


def test_a_refused_sign_in_opens_no_session(guarded: Flask, network: Network,
                                            stored: StoredData) -> None:
    """Login CSRF: the forged sign-in neither signs the browser in nor records a session."""
    client = guarded.test_client()
    before = stored.snapshot()
    response = client.post("/login", data={"email": network.b_referrer.email,
                                           "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/organizations").status_code == 302
    stored.assert_unchanged(before)


@pytest.mark.parametrize(("authorization", "status", "code"), [
    ("Bearer ", 401, "unauthorized"), ("Bearer dir_forged", 401, "unauthorized"),
    ("bearer x", 401, "unauthorized"), ("Basic Zm9yZ2VkOmZvcmdlZA==", 400, "csrf_failed")])
def test_a_fake_authorization_header_does_not_skip_the_check_with_a_cookie(
        guarded: Flask, network: Network, stored: StoredData, authorization: str,
        status: int, code: str) -> None:
    """Only a real token exempts a request from CSRF checks: with a bogus bearer token the
    cookie is ignored (401), with another scheme the CSRF check applies (400)."""
    case = API_CASES["patch a listing"]
    client, _ = _signed_in_client(guarded, network, case)
    before = stored.snapshot()
    response = case.send(client, case.request(network), None,
                         headers={"Authorization": authorization})
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    stored.assert_unchanged(before)


def test_a_real_token_is_exempt_but_acts_only_as_its_user(guarded: Flask, network: Network,
                                                         stored: StoredData) -> None:
    """The documented exemption: a request with a personal token needs no CSRF token."""
    _, secret = create_token(network.b_admin, "script", None)
    client = guarded.test_client()
    before = stored.snapshot()
    response = client.patch(f"/api/v1/organizations/{network.b.slug}",
                            headers={"Authorization": f"Bearer {secret}"},
                            json={"description": "Through a token."})
    assert response.status_code == 200
    assert stored.changed_tables(before) != []


@pytest.mark.parametrize("referer", [None, "https://evil.example/",
                                     "https://directory.test.evil.example/",
                                     "http://directory.test/"])
def test_over_https_a_real_token_from_another_origin_is_refused(
        guarded: Flask, network: Network, stored: StoredData, referer: str | None) -> None:
    """Over HTTPS the Referer must be this site, so a token leaked to another site does not
    help it post from there."""
    client = guarded.test_client()
    login = f"{HTTPS}/login"
    token = csrf_token(client, "/login", base_url=HTTPS)
    signed_in = client.post("/login", base_url=HTTPS, headers={"Referer": login}, data={
        "email": network.b_admin.email, "password": PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302
    token = csrf_token(client, "/account", base_url=HTTPS)
    path = f"/organizations/{network.b.slug}/invitations"
    data = {"email": "cross-site@test.example", "role": "admin", "csrf_token": token}
    before = stored.snapshot()
    headers = {"Referer": referer} if referer else {}
    response = client.post(path, base_url=HTTPS, headers=headers, data=data)
    assert response.status_code == 400
    stored.assert_unchanged(before)
    same_site = client.post(path, base_url=HTTPS, headers={"Referer": f"{HTTPS}/"}, data=data)
    assert same_site.status_code == 302
    assert stored.changed_tables(before) != []
