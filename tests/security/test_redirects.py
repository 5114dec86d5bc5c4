"""Open redirects: ``next=`` (and look-alike parameters) aimed at another site, through the
password sign-in, the two-factor sign-in, a visit to the sign-in page when signed in, sign-out
and the sign-in redirect itself. The browser only ever goes to a path of this site."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.accounts.conftest import code_at, enable_two_factor
from tests.conftest import PASSWORD
from tests.security.conftest import Network, StoredData, sign_in

HOST = "directory.test"
OFF_SITE = [
    "https://evil.example",
    "https://evil.example/phish?x=1",
    "http://evil.example",
    "//evil.example",
    "//evil.example/%2e%2e",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https:evil.example",
    "https://directory.test@evil.example",
    "evil.example",
    "ftp://evil.example",
]
# Parameters other sites use for the same thing: the sign-in ignores every one of them.
LOOK_ALIKES = ["return_to", "redirect", "redirect_uri", "url", "continue", "dest", "goto"]


def assert_on_site(response: TestResponse) -> str:
    """The response redirects to a path of this site; returns it."""
    assert response.status_code in (301, 302, 303, 307, 308)
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.scheme in ("", "http", "https") and parts.netloc in ("", HOST), location
    assert not parts.path.startswith("//") and "\\" not in location, location
    assert location.startswith("/") or parts.netloc == HOST, location
    return location


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_never_redirects_off_site(client: FlaskClient, network: Network,
                                          stored: StoredData, target: str) -> None:
    before = stored.snapshot()
    response = client.post("/login", query_string={"next": target},
                           data={"email": network.b_referrer.email, "password": PASSWORD})
    assert assert_on_site(response) == "/"
    # Signing in changes the session records and the audit log, nothing else.
    assert set(stored.changed_tables(before)) <= {"user_sessions", "users", "audit_events"}


@pytest.mark.parametrize("parameter", LOOK_ALIKES)
def test_sign_in_ignores_look_alike_parameters(client: FlaskClient, network: Network,
                                               parameter: str) -> None:
    response = client.post("/login", query_string={parameter: "https://evil.example"},
                           data={"email": network.b_referrer.email, "password": PASSWORD})
    assert assert_on_site(response) == "/"


def test_a_local_next_is_kept(client: FlaskClient, network: Network) -> None:
    """The control: a path of this site is where the sign-in goes."""
    response = client.post("/login", query_string={"next": "/referrals/inbox?status=sent"},
                           data={"email": network.b_referrer.email, "password": PASSWORD})
    assert assert_on_site(response) == "/referrals/inbox?status=sent"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_the_two_factor_step_never_redirects_off_site(client: FlaskClient, network: Network,
                                                      target: str) -> None:
    """The target is kept across the two steps of a sign-in: still refused at the second."""
    secret, _ = enable_two_factor(network.b_admin)
    first = client.post("/login", query_string={"next": target},
                        data={"email": network.b_admin.email, "password": PASSWORD})
    assert assert_on_site(first) == "/login/two-factor"
    with client.session_transaction() as session:  # and even if the kept target were it
        session["pending_sign_in"] = {**session["pending_sign_in"], "next": target}
    second = client.post("/login/two-factor", query_string={"next": target},
                         data={"code": code_at(secret)})
    assert assert_on_site(second) == "/"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example"])
def test_signed_in_visits_and_sign_out_stay_on_site(client: FlaskClient, network: Network,
                                                    stored: StoredData, target: str) -> None:
    sign_in(client, network.b_referrer)
    before = stored.snapshot()
    assert assert_on_site(client.get("/login", query_string={"next": target})) == "/"
    assert assert_on_site(client.get("/apply", query_string={"next": target})) == "/"
    stored.assert_unchanged(before)
    out = client.post("/logout", query_string={"next": target})
    assert assert_on_site(out) == "/login"


def test_the_sign_in_redirect_carries_a_local_next(client: FlaskClient,
                                                   stored: StoredData) -> None:
    before = stored.snapshot()
    response = client.get("/referrals/inbox", query_string={"next": "https://evil.example"})
    location = assert_on_site(response)
    assert urlsplit(location).path == "/login"
    (kept,) = parse_qs(urlsplit(location).query)["next"]
    assert kept.startswith("/referrals/inbox") and not kept.startswith("//")
    stored.assert_unchanged(before)


@pytest.mark.parametrize("path", ["//evil.example/admin", "//evil.example/", "///evil.example/",
                                  "/\\evil.example/", "//organizations", "//admin",
                                  "//referrals//inbox", "//evil.example//login"])
def test_slash_tricks_in_the_path_stay_on_site(client: FlaskClient, path: str,
                                               stored: StoredData) -> None:
    """A path that starts like a network address is never sent back as one (by the router's
    slash merging, the sign-in redirect or the 404 page)."""
    before = stored.snapshot()
    response = client.get("/", environ_overrides={"PATH_INFO": path})
    if response.status_code == 404:
        assert "evil.example" in path
    else:
        location = assert_on_site(response)
        next_values = parse_qs(urlsplit(location).query).get("next", [])
        assert all(value.startswith("/") and not value.startswith("//")
                   for value in next_values), location
    stored.assert_unchanged(before)
