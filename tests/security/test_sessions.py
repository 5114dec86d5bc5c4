"""Session attacks: fixation (a cookie planted before sign-in), replay of a stolen cookie after
each way the README says a session ends, and forged cookies that name another user. The
replayed or forged cookie never acts, and the request it carries stores nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.membership import remove_member
from directory.accounts.models import User, UserSession
from directory.accounts.operations import request_password_reset
from directory.accounts.sessions import end_sessions_of, hash_token
from directory.admin.operations import suspend_user
from tests.conftest import PASSWORD
from tests.mail.helpers import last_mail_to, link_path
from tests.security.conftest import Network, StoredData, csrf_token, sign_in

HOST = "directory.test"
NEW_PASSWORD = "a completely new passphrase"


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session", domain=HOST)
    assert cookie is not None
    return cookie.value


def browser_with(app: Flask, cookie: str, user_agent: str | None = None) -> FlaskClient:
    """Another browser carrying a copy of ``cookie``."""
    browser = app.test_client()
    browser.set_cookie("session", cookie, domain=HOST)
    if user_agent is not None:
        browser.environ_base["HTTP_USER_AGENT"] = user_agent
    return browser


def acts(browser: FlaskClient) -> bool:
    """Whether the browser's cookie is signed in (a members' page answers)."""
    return browser.get("/organizations").status_code == 200


def replay_state_change(browser: FlaskClient) -> int:
    """A stolen cookie tries to make an API token: the status it gets."""
    return browser.post("/account/tokens", data={"name": "stolen",
                                                 "expires_in_days": "0"}).status_code


def open_tokens(db: Session, user: User) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(UserSession.token_hash).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None))))


# --- fixation -------------------------------------------------------------------------------

def test_a_cookie_planted_before_sign_in_is_not_the_one_signed_in(
        app: Flask, client: FlaskClient, network: Network, db: Session,
        stored: StoredData) -> None:
    with client.session_transaction() as planted:
        planted["session_token"] = "known-to-the-attacker"
        planted["_user_id"] = f"{network.b_referrer.id}:{network.b_referrer.session_version}"
    fixed = session_cookie(client)
    attacker = browser_with(app, fixed)
    before = stored.snapshot()
    assert not acts(attacker)  # the planted values alone sign nobody in
    sign_in(client, network.b_referrer)
    assert session_cookie(client) != fixed
    with client.session_transaction() as current:
        assert current["session_token"] != "known-to-the-attacker"
    assert hash_token("known-to-the-attacker") not in open_tokens(db, network.b_referrer)
    assert acts(client) and not acts(attacker)
    assert replay_state_change(attacker) == 302
    assert set(stored.changed_tables(before)) <= {"user_sessions", "users", "audit_events"}


def test_a_csrf_token_known_before_sign_in_is_useless_after_it(
        guarded: Flask, network: Network, stored: StoredData) -> None:
    """The attacker fixes the victim's cookie to one whose CSRF token they know: sign-in
    starts a fresh cookie session, so a forged form with that token is refused."""
    attacker = guarded.test_client()
    known = csrf_token(attacker, "/login")
    victim = browser_with(guarded, session_cookie(attacker))
    signed_in = victim.post("/login", data={"email": network.b_admin.email,
                                            "password": PASSWORD, "csrf_token": known})
    assert signed_in.status_code == 302  # the page's token, before sign-in: accepted
    path = f"/organizations/{network.b.slug}/invitations"
    before = stored.snapshot()
    forged = victim.post(path, data={"email": "fixed@test.example", "role": "admin",
                                     "csrf_token": known})
    assert forged.status_code == 400
    stored.assert_unchanged(before)
    own = victim.post(path, data={"email": "fixed@test.example", "role": "admin",
                                  "csrf_token": csrf_token(victim, "/account")})
    assert own.status_code == 302  # the control: the token of the new session works


def test_the_attackers_own_session_planted_in_a_victims_browser_stays_theirs(
        app: Flask, client: FlaskClient, network: Network, db: Session) -> None:
    """Cookie tossing: the victim's sign-in over the attacker's cookie never turns that
    cookie into a session of the victim (the sign-in page does not switch accounts)."""
    sign_in(client, network.a_referrer)
    tossed = session_cookie(client)
    victim = browser_with(app, tossed)
    response = victim.post("/login", data={"email": network.b_referrer.email,
                                           "password": PASSWORD})
    assert response.status_code == 302
    assert open_tokens(db, network.b_referrer) == set()
    attacker = browser_with(app, tossed)
    assert attacker.get("/api/v1/me").get_json()["id"] == network.a_referrer.id


def test_each_sign_in_starts_a_new_server_session(client: FlaskClient, network: Network,
                                                  db: Session) -> None:
    sign_in(client, network.b_referrer)
    first = open_tokens(db, network.b_referrer)
    client.post("/logout")
    sign_in(client, network.b_referrer)
    second = open_tokens(db, network.b_referrer)
    assert len(first) == len(second) == 1 and first != second


# --- a stolen cookie after the session ended ------------------------------------------------

def _sign_out(app: Flask, victim: FlaskClient, network: Network, db: Session) -> None:
    assert victim.post("/logout").status_code == 302


def _change_password(app: Flask, victim: FlaskClient, network: Network, db: Session) -> None:
    other = app.test_client()
    sign_in(other, network.b_referrer)
    assert other.post("/account/password", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD}).status_code == 302


def _reset_password(app: Flask, victim: FlaskClient, network: Network, db: Session) -> None:
    request_password_reset(network.b_referrer.email)
    db.flush()
    path = link_path(last_mail_to(db, network.b_referrer.email))
    assert app.test_client().post(path, data={"password": NEW_PASSWORD,
                                              "confirm": NEW_PASSWORD}).status_code == 302


def _end_other_sessions(app: Flask, victim: FlaskClient, network: Network,
                        db: Session) -> None:
    other = app.test_client()
    sign_in(other, network.b_referrer)
    assert other.post("/account/sessions/end-others",
                      data={"sessions-password": PASSWORD}).status_code == 302


def _coordinator_ends_sessions(app: Flask, victim: FlaskClient, network: Network,
                               db: Session) -> None:
    end_sessions_of(network.coordinator, network.b_referrer)
    db.flush()


def _suspended(app: Flask, victim: FlaskClient, network: Network, db: Session) -> None:
    suspend_user(network.coordinator, network.b_referrer, "Lost laptop.")
    db.flush()


def _removed(app: Flask, victim: FlaskClient, network: Network, db: Session) -> None:
    membership = network.b_referrer.membership_in(network.b.id)
    assert membership is not None
    remove_member(network.b_admin, membership)
    db.flush()


ENDINGS: dict[str, Callable[[Flask, FlaskClient, Network, Session], None]] = {
    "sign-out": _sign_out,
    "password change elsewhere": _change_password,
    "password reset": _reset_password,
    "ending the other sessions": _end_other_sessions,
    "a coordinator ends them": _coordinator_ends_sessions,
    "suspension": _suspended,
    "removal from the organization": _removed,
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_stolen_cookie_stops_working_when_the_session_ends(
        app: Flask, client: FlaskClient, network: Network, db: Session, stored: StoredData,
        ending: str) -> None:
    sign_in(client, network.b_referrer)
    stolen = session_cookie(client)
    assert acts(browser_with(app, stolen))  # the copy works while the session is open
    ENDINGS[ending](app, client, network, db)
    thief = browser_with(app, stolen)
    before = stored.snapshot()
    assert replay_state_change(thief) == 302  # sent to sign in
    assert thief.get("/api/v1/me").status_code == 401
    assert not acts(browser_with(app, stolen))
    stored.assert_unchanged(before)


def test_the_password_changing_browser_gets_a_new_session(app: Flask, client: FlaskClient,
                                                          network: Network,
                                                          stored: StoredData) -> None:
    sign_in(client, network.b_referrer)
    old = session_cookie(client)
    assert client.post("/account/password", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD}).status_code == 302
    assert session_cookie(client) != old and acts(client)
    thief = browser_with(app, old)
    before = stored.snapshot()
    assert replay_state_change(thief) == 302
    stored.assert_unchanged(before)


# --- forged cookies -------------------------------------------------------------------------

def test_a_cookie_naming_another_user_with_ones_own_token_is_refused(
        app: Flask, client: FlaskClient, network: Network, stored: StoredData) -> None:
    """Even with the signing key, a cookie needs the victim's own server-side token: the
    attacker's token under the victim's id signs nobody in."""
    sign_in(client, network.a_referrer)
    with client.session_transaction() as session:
        session["_user_id"] = f"{network.b_admin.id}:{network.b_admin.session_version}"
    before = stored.snapshot()
    assert client.get("/api/v1/me").status_code == 401
    assert replay_state_change(client) == 302
    stored.assert_unchanged(before)


def test_a_cookie_with_an_old_session_version_is_refused(
        app: Flask, client: FlaskClient, network: Network, db: Session,
        stored: StoredData) -> None:
    sign_in(client, network.b_referrer)
    with client.session_transaction() as session:
        session["_user_id"] = f"{network.b_referrer.id}:{network.b_referrer.session_version - 1}"
    before = stored.snapshot()
    assert not acts(client)
    stored.assert_unchanged(before)


def test_a_cookie_from_another_browser_is_refused(app: Flask, client: FlaskClient,
                                                  network: Network,
                                                  stored: StoredData) -> None:
    """Flask-Login's "strong" session protection: a copy of the cookie sent by a browser that
    identifies itself differently is not signed in."""
    sign_in(client, network.b_referrer)
    assert acts(browser_with(app, session_cookie(client)))  # the same browser: it works
    thief = browser_with(app, session_cookie(client), user_agent="ThiefBrowser/1.0")
    before = stored.snapshot()
    assert replay_state_change(thief) == 302
    stored.assert_unchanged(before)
    assert acts(client)
