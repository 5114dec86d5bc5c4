from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory import create_app
from directory.accounts.operations import AccountError, create_user, set_password
from directory.db import get_database
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory


def test_sign_in_and_out(client: FlaskClient, auth: AuthActions, factory: Factory) -> None:
    organization = factory.organization()
    user = factory.user(organization=organization)
    response = auth.login(user.email.upper())  # emails are case-insensitive
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/organizations").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/organizations").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(
        client: FlaskClient, auth: AuthActions, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    wrong = auth.login(user.email, "not the password at all")
    unknown = auth.login("nobody@test.example", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.get_data(as_text=True)
    # Each answer carries its own session's CSRF token (the language switch): nothing else differs.
    assert (_without_tokens(wrong.get_data(as_text=True)).replace(user.email, "EMAIL")
            == _without_tokens(unknown.get_data(as_text=True)).replace(
                "nobody@test.example", "EMAIL"))


def _without_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', page)


@pytest.mark.parametrize("data", [{}, {"email": "not-an-email", "password": "x"},
                                  {"email": "a@b.example", "password": "x" * 300},
                                  {"email": "a" * 300 + "@b.example", "password": "x"}])
def test_malformed_sign_in_is_refused_with_400(client: FlaskClient, data: dict[str, str]) -> None:
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("target", "expected"), [
    ("/organizations?kind=legal", "/organizations?kind=legal"),
    ("https://evil.example/phish", "/"),
    ("//evil.example/phish", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_redirects_only_to_local_paths(client: FlaskClient, factory: Factory,
                                            target: str, expected: str) -> None:
    user = factory.user(organization=factory.organization())
    response = client.post("/login", query_string={"next": target},
                           data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == expected


def test_deactivated_user_cannot_sign_in(auth: AuthActions, factory: Factory,
                                         db: Session) -> None:
    user = factory.user(organization=factory.organization())
    user.active = False
    db.flush()
    assert auth.login(user.email).status_code == 401


def test_password_change_ends_other_sessions(client: FlaskClient, auth: AuthActions,
                                             factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    auth.login(user.email)
    assert client.get("/organizations").status_code == 200
    set_password(user, "a brand new long password")
    db.flush()
    assert client.get("/organizations").status_code == 302


def test_duplicate_emails_are_refused(factory: Factory) -> None:
    factory.user(email="twin@test.example")
    with pytest.raises(AccountError, match="already exists"):
        create_user("TWIN@test.example", "Twin")


def test_logout_needs_post(client: FlaskClient) -> None:
    assert client.get("/logout").status_code == 405


def test_forged_csrf_token_is_refused(app: Flask, settings: dict, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    guarded = create_app({**settings, "WTF_CSRF_ENABLED": True})
    get_database(guarded).engine.dispose()
    guarded.extensions["directory.db"] = get_database(app)
    client = guarded.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert client.get("/organizations").status_code == 302  # not signed in
