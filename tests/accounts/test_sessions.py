"""Server-side sessions: a new one at sign-in, ended by sign-out, password change and the
idle and absolute timeouts; cookie flags; the list of sessions on the account page."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import create_app
from directory.accounts.models import User, UserSession
from directory.db import get_database, utcnow
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory

HOST = "directory.test"


def open_sessions(db: Session, user: User) -> list[UserSession]:
    db.expire_all()
    return list(db.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None))))


def signed_in(client: FlaskClient) -> bool:
    return client.get("/organizations").status_code == 200


def test_sign_in_starts_a_new_session_and_keeps_nothing_of_the_old_one(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    auth.login(user.email)
    with client.session_transaction() as after:
        assert "planted" not in after
        first_token = after["session_token"]
    auth.logout()
    auth.login(user.email)
    with client.session_transaction() as again:
        assert again["session_token"] != first_token
    assert len(open_sessions(db, user)) == 1


def test_sign_out_ends_every_session_on_the_server(app: Flask, client: FlaskClient,
                                                   auth: AuthActions, factory: Factory,
                                                   db: Session) -> None:
    user = factory.user(organization=factory.organization())
    phone = app.test_client()
    phone.post("/login", data={"email": user.email, "password": PASSWORD})
    auth.login(user.email)
    stolen = client.get_cookie("session", domain=HOST)
    assert stolen is not None
    auth.logout()
    replay = app.test_client()
    replay.set_cookie("session", stolen.value, domain=HOST)
    response = replay.get("/organizations")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert not signed_in(phone)
    assert open_sessions(db, user) == []


def test_password_change_ends_every_other_session_and_renews_this_one(
        app: Flask, client: FlaskClient, auth: AuthActions, factory: Factory,
        db: Session) -> None:
    user = factory.user(organization=factory.organization())
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    auth.login(user.email)
    with client.session_transaction() as before:
        old_token = before["session_token"]
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "a completely new passphrase",
        "confirm": "a completely new passphrase"})
    assert response.status_code == 302
    assert signed_in(client)
    with client.session_transaction() as after:
        assert after["session_token"] != old_token
    assert not signed_in(other)
    assert len(open_sessions(db, user)) == 1


def test_idle_sessions_end(client: FlaskClient, auth: AuthActions, factory: Factory,
                           db: Session) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    (record,) = open_sessions(db, user)
    record.last_seen_at = utcnow() - dt.timedelta(minutes=31)
    db.flush()
    response = client.get("/organizations")
    assert response.headers["Location"].startswith("/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session has ended" in page
    assert open_sessions(db, user) == []


def test_recent_activity_keeps_a_session_open(client: FlaskClient, auth: AuthActions,
                                              factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    (record,) = open_sessions(db, user)
    record.last_seen_at = utcnow() - dt.timedelta(minutes=29)
    db.flush()
    assert signed_in(client)
    db.refresh(record)
    assert utcnow() - record.last_seen_at < dt.timedelta(seconds=5)


def test_sessions_end_at_their_absolute_limit(client: FlaskClient, auth: AuthActions,
                                              factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    (record,) = open_sessions(db, user)
    assert dt.timedelta(hours=11) < record.expires_at - utcnow() <= dt.timedelta(hours=12)
    record.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.flush()
    assert not signed_in(client)


def test_remember_me_keeps_the_cookie_and_the_session_longer(
        client: FlaskClient, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "remember": "y"})
    assert "Expires=" in response.headers["Set-Cookie"]
    (record,) = open_sessions(db, user)
    assert record.remember
    assert record.expires_at - utcnow() > dt.timedelta(days=13)
    # Remembered sessions are not ended by a short pause.
    record.last_seen_at = utcnow() - dt.timedelta(hours=5)
    db.flush()
    assert signed_in(client)


def test_a_browser_session_cookie_without_remember_me(client: FlaskClient,
                                                      factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "Expires=" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_in_production_settings(app: Flask, settings: dict,
                                                         factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    secure = create_app({**settings, "SESSION_COOKIE_SECURE": True})
    get_database(secure).engine.dispose()
    secure.extensions["directory.db"] = get_database(app)
    response = secure.test_client().post(
        "/login", base_url=f"https://{HOST}",
        data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Path=/" in cookie and "Domain" not in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_account_page_lists_sessions_and_ends_the_others(
        app: Flask, client: FlaskClient, auth: AuthActions, factory: Factory,
        db: Session) -> None:
    user = factory.user(organization=factory.organization())
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = "OtherBrowser/1.0"
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    assert signed_in(other)
    auth.login(user.email)
    page = client.get("/account").get_data(as_text=True)
    assert "This browser" in page and "OtherBrowser/1.0" in page
    refused = client.post("/account/sessions/end-others",
                          data={"sessions-password": "not my password"})
    assert refused.status_code == 400 and signed_in(other)
    response = client.post("/account/sessions/end-others", data={"sessions-password": PASSWORD})
    assert response.status_code == 302
    assert "1 other session ended" in client.get("/account").get_data(as_text=True)
    assert signed_in(client) and not signed_in(other)


def test_a_deleted_session_record_signs_the_browser_out(client: FlaskClient, auth: AuthActions,
                                                         factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    for record in open_sessions(db, user):
        db.delete(record)
    db.flush()
    assert not signed_in(client)


def test_member_pages_are_not_cached(client: FlaskClient, auth: AuthActions,
                                     factory: Factory) -> None:
    auth.login(factory.user(organization=factory.organization()).email)
    assert client.get("/organizations").headers["Cache-Control"] == "no-store"
    assert client.get("/account").headers["Cache-Control"] == "no-store"
