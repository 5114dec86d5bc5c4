"""Password rules, password reset by a mailed link, email confirmation, and password change."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.accounts.models import AccountToken, User
from directory.accounts.operations import AccountError, create_user, set_password
from directory.accounts.passwords import password_problem, verify_password
from directory.db import utcnow
from directory.mail.models import OutboxMessage
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to, link_path, mail_to

NEW_PASSWORD = "lantern meadow quietly 42"


@pytest.mark.parametrize(("password", "allowed"), [
    ("x7#kq2!mzp4", False),          # 11 characters
    ("x7#kq2!mzp4w", True),          # 12
    (("correct horse battery staple, " * 3)[:64], True),  # 64 are allowed
    ("four random words here " * 5 + "abc", True),  # 118
    ("k" + "j8" * 64, False),        # 129
    ("password1234", False),         # common
    ("Password2024!!", False),       # common word with digits and symbols around it
    ("iloveyou123456", False),
    ("qwertyuiopasdfgh", False),     # a keyboard row
    ("aaaaaaaaaaaaaaaa", False),     # one character
    ("ababababababab", False),
    ("ünïcödé pässwörd ☂", True),    # any character counts, no composition rules
    ("all lower case words", True),
])
def test_password_rules(password: str, allowed: bool) -> None:
    assert (password_problem(password) is None) is allowed


def test_passwords_based_on_the_account_are_refused() -> None:
    assert password_problem("jordan.smith2025", email="jordan.smith@test.example")
    assert password_problem("xx jordan.smith@test.example", email="jordan.smith@test.example")
    assert password_problem("Jordan Smith 99", name="Jordan Smith")
    assert password_problem("partner directory!") is not None
    assert password_problem("jordan walks the dog at dawn", email="jordan@test.example") is None


def test_operations_apply_the_rules(factory: Factory, db: Session) -> None:
    with pytest.raises(AccountError, match="at least 12"):
        create_user("short@test.example", "Short", "tooshort")
    assert db.scalar(select(func.count()).where(User.email == "short@test.example")) == 0
    user = factory.user()
    before = user.password_hash
    with pytest.raises(AccountError, match="common"):
        set_password(user, "password123456")
    assert user.password_hash == before


# --- reset ---------------------------------------------------------------------------------

def request_reset(client: FlaskClient, db: Session, email: str) -> str:
    response = client.post("/password/forgot", data={"email": email})
    assert response.status_code == 302
    return link_path(last_mail_to(db, email))


def test_password_reset_by_mail(app: Flask, client: FlaskClient, factory: Factory,
                                db: Session) -> None:
    user = factory.user(organization=factory.organization(), email_verified=False)
    elsewhere = app.test_client()
    elsewhere.post("/login", data={"email": user.email, "password": PASSWORD})
    path = request_reset(client, db, user.email)
    assert path.startswith("/password/reset/")
    assert client.get(path).status_code == 200

    weak = client.post(path, data={"password": "password1234", "confirm": "password1234"})
    assert weak.status_code == 400 and "common" in weak.get_data(as_text=True)
    differ = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert differ.status_code == 400 and "differ" in differ.get_data(as_text=True)

    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    db.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert user.email_verified  # the link proved the address
    assert elsewhere.get("/organizations").status_code == 302  # every session ended
    assert "was changed" in last_mail_to(db, user.email).subject

    again = client.post(path, data={"password": "another fine passphrase",
                                    "confirm": "another fine passphrase"})
    assert again.status_code == 410 and "no longer works" in again.get_data(as_text=True)
    db.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)


def test_unknown_addresses_get_the_same_answer_and_no_mail(client: FlaskClient, db: Session,
                                                           factory: Factory) -> None:
    user = factory.user()
    known = client.post("/password/forgot", data={"email": user.email}, follow_redirects=True)
    unknown = client.post("/password/forgot", data={"email": "nobody@test.example"},
                          follow_redirects=True)
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert mail_to(db, "nobody@test.example") == []
    assert len(mail_to(db, user.email)) == 1


def test_suspended_accounts_get_no_reset_link(client: FlaskClient, db: Session,
                                              factory: Factory) -> None:
    user = factory.user()
    user.active = False
    db.flush()
    assert client.post("/password/forgot", data={"email": user.email}).status_code == 302
    assert mail_to(db, user.email) == []


def test_expired_reset_links_are_refused(client: FlaskClient, db: Session,
                                         factory: Factory) -> None:
    user = factory.user()
    path = request_reset(client, db, user.email)
    token = db.scalar(select(AccountToken).where(AccountToken.user_id == user.id))
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.flush()
    before = user.password_hash
    assert client.get(path).status_code == 410
    assert client.post(path, data={"password": NEW_PASSWORD,
                                   "confirm": NEW_PASSWORD}).status_code == 410
    db.refresh(user)
    assert user.password_hash == before


def test_a_new_link_replaces_the_old_one(client: FlaskClient, db: Session,
                                         factory: Factory) -> None:
    user = factory.user()
    first = request_reset(client, db, user.email)
    second = request_reset(client, db, user.email)
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


@pytest.mark.parametrize("token", ["x", "A" * 43, "A" * 500, "abc%20def", "%E2%80%AEabc"])
def test_made_up_links_are_refused(client: FlaskClient, token: str) -> None:
    assert client.get(f"/password/reset/{token}").status_code == 410
    assert client.get(f"/verify-email/{token}").status_code == 410
    assert client.get(f"/invitations/{token}").status_code == 410


def test_a_reset_link_does_not_skip_two_factor(client: FlaskClient, db: Session,
                                               factory: Factory) -> None:
    from tests.accounts.conftest import enable_two_factor

    user = factory.user(organization=factory.organization())
    enable_two_factor(user)
    path = request_reset(client, db, user.email)
    client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    response = client.post("/login", data={"email": user.email, "password": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/two-factor"


def test_reset_links_use_the_configured_base_url(app: Flask, client: FlaskClient, db: Session,
                                                 factory: Factory) -> None:
    user = factory.user()
    app.config["BASE_URL"] = "https://directory.example.org"
    try:
        client.post("/password/forgot", data={"email": user.email},
                    headers={"Host": "evil.example"})
    finally:
        app.config["BASE_URL"] = None
    assert "https://directory.example.org/password/reset/" in last_mail_to(db, user.email).text_body


# --- email confirmation --------------------------------------------------------------------

def test_confirming_an_email_address(client: FlaskClient, auth: AuthActions, db: Session,
                                     factory: Factory) -> None:
    user = factory.user(organization=factory.organization(), email_verified=False)
    auth.login(user.email)
    assert "Email not confirmed" in client.get("/account").get_data(as_text=True)
    assert client.post("/account/verify-email").status_code == 302
    path = link_path(last_mail_to(db, user.email))
    page = client.get(path)
    assert page.status_code == 200 and "Confirm my email address" in page.get_data(as_text=True)
    db.refresh(user)
    assert not user.email_verified  # opening the link (a mail scanner may) changes nothing
    assert client.post(path).status_code == 302
    db.refresh(user)
    assert user.email_verified
    assert client.post(path).status_code == 410
    again = client.post("/account/verify-email")
    assert again.status_code == 400 and "already confirmed" in again.get_data(as_text=True)


# --- change --------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "message"), [
    ({"current_password": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
     "current password is not right"),
    ({"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": "something else"},
     "differ"),
    ({"current_password": PASSWORD, "password": "short", "confirm": "short"}, "at least 12"),
    ({"current_password": PASSWORD, "password": "x" * 129, "confirm": "x" * 129}, "at most 128"),
    ({"current_password": PASSWORD}, "required"),
])
def test_password_change_refusals_change_nothing(client: FlaskClient, auth: AuthActions,
                                                 factory: Factory, db: Session,
                                                 data: dict[str, str], message: str) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    before = user.password_hash
    response = client.post("/account/password", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.refresh(user)
    assert user.password_hash == before
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert client.get("/organizations").status_code == 200  # still signed in
