"""Changing one's own name, and one's email address by a link mailed to the new address."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from directory.accounts.models import AccountToken, TokenPurpose, User
from directory.audit.models import AuditEvent
from directory.db import utcnow
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to, link_path, mail_to

NEW = "new.address@test.example"


@pytest.fixture()
def member(factory: Factory, auth: AuthActions) -> User:
    user = factory.user(email="old.address@test.example")
    auth.login(user.email)
    return user


def _audit(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _ask(client: FlaskClient, address: str = NEW, password: str = PASSWORD) -> object:
    return client.post("/account/email", data={"email-new_email": address,
                                               "email-current_password": password})


def test_the_account_page_offers_both_changes(client: FlaskClient, member: User) -> None:
    page = client.get("/account").text
    assert 'id="name-form"' in page and 'id="email-form"' in page
    assert f'value="{member.name}"' in page


def test_a_name_change_is_saved_and_audited(client: FlaskClient, member: User,
                                            db: Session) -> None:
    old_name = member.name
    response = client.post("/account/name", data={"name-name": "  Dana Rivera  "})
    assert response.status_code == 302
    db.expire_all()
    assert member.name == "Dana Rivera"
    [event] = _audit(db, "name_changed")
    assert event.details == {"old_name": old_name, "new_name": "Dana Rivera"}
    assert client.post("/account/name", data={"name-name": "Dana Rivera"}).status_code == 302
    assert len(_audit(db, "name_changed")) == 1  # the same name changes nothing


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_a_bad_name_is_refused(client: FlaskClient, member: User, db: Session,
                               name: str) -> None:
    before = member.name
    response = client.post("/account/name", data={"name-name": name})
    assert response.status_code == 400 and 'aria-invalid="true"' in response.text
    db.expire_all()
    assert member.name == before


def test_an_email_change_happens_only_when_the_link_is_followed(
        client: FlaskClient, auth: AuthActions, member: User, db: Session) -> None:
    response = _ask(client, "New.Address@Test.Example")
    assert response.status_code == 302
    db.expire_all()
    assert member.email == "old.address@test.example"  # not yet
    notice = last_mail_to(db, "old.address@test.example")
    assert NEW in notice.text_body and "http" not in notice.text_body  # no link to follow
    confirm = last_mail_to(db, NEW)
    path = link_path(confirm)
    page = client.get(path)
    assert page.status_code == 200 and NEW in page.text
    db.expire_all()
    assert member.email == "old.address@test.example"  # opening the page changes nothing
    assert client.post(path).status_code == 302
    db.expire_all()
    assert member.email == NEW and member.email_verified
    changed = mail_to(db, "old.address@test.example")[-1]
    assert changed.subject == "Your Partner Directory email address was changed"
    assert [e.details for e in _audit(db, "email_change_requested")] == [
        {"old_email": "old.address@test.example", "new_email": NEW}]
    assert [e.details for e in _audit(db, "email_changed")] == [
        {"old_email": "old.address@test.example", "new_email": NEW}]
    auth.logout()
    assert auth.login(NEW).status_code == 302  # signs in with the new address
    assert client.get("/account").status_code == 200


def test_a_used_link_does_not_work_twice(client: FlaskClient, member: User,
                                         db: Session) -> None:
    _ask(client)
    path = link_path(last_mail_to(db, NEW))
    assert client.post(path).status_code == 302
    assert client.get(path).status_code == 410
    assert client.post(path).status_code == 410


def test_an_expired_link_changes_nothing(client: FlaskClient, member: User,
                                         db: Session) -> None:
    _ask(client)
    path = link_path(last_mail_to(db, NEW))
    db.execute(update(AccountToken).where(AccountToken.purpose == TokenPurpose.CHANGE_EMAIL)
               .values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    assert client.post(path).status_code == 410
    db.expire_all()
    assert member.email == "old.address@test.example"


def test_a_newer_request_cancels_the_older_link(client: FlaskClient, member: User,
                                                db: Session) -> None:
    _ask(client)
    first = link_path(last_mail_to(db, NEW))
    _ask(client, "third.address@test.example")
    assert client.post(first).status_code == 410
    assert client.post(link_path(last_mail_to(db, "third.address@test.example"))
                       ).status_code == 302


@pytest.mark.parametrize("address,password,message", [
    ("not-an-address", PASSWORD, "valid email"),
    ("", PASSWORD, "This field is required"),
    ("taken@test.example", PASSWORD, "Another account uses that address."),
    ("old.address@test.example", PASSWORD, "That is your address already."),
    (NEW, "wrong password entirely", "Your current password is not right."),
])
def test_bad_requests_are_refused_and_mail_nothing(
        client: FlaskClient, member: User, factory: Factory, db: Session,
        address: str, password: str, message: str) -> None:
    factory.user(email="taken@test.example")
    response = _ask(client, address, password)
    assert response.status_code == 400 and message in response.text
    assert mail_to(db, NEW) == [] and mail_to(db, "old.address@test.example") == []


def test_an_address_taken_after_the_link_was_mailed_is_refused(
        client: FlaskClient, member: User, factory: Factory, db: Session) -> None:
    _ask(client)
    path = link_path(last_mail_to(db, NEW))
    factory.user(email=NEW)
    response = client.post(path)
    assert response.status_code == 409 and "Another account uses that address" in response.text
    db.expire_all()
    assert member.email == "old.address@test.example"


def test_visitors_cannot_change_anything(client: FlaskClient) -> None:
    assert client.post("/account/name", data={"name-name": "X"}).status_code in (302, 401, 403)
    assert client.post("/account/email", data={"email-new_email": NEW}).status_code in (
        302, 401, 403)
    assert client.get("/account/email/confirm/nonsense").status_code == 410
