"""The audit log: what is recorded (actor, time, address) and the coordinators' filtered view."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import create_app
from directory.accounts.models import MemberRole, User
from directory.audit.models import AuditAction, AuditEvent
from directory.audit.operations import record
from directory.db import get_database, utcnow
from tests.conftest import AuthActions
from tests.factories import Factory


def events(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)))


def test_sign_ins_and_failures_are_recorded_with_time_and_address(
        client: FlaskClient, auth: AuthActions, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    assert auth.login(user.email, "wrong password, sorry").status_code == 401
    assert auth.login("stranger@test.example", "wrong password, sorry").status_code == 401
    auth.login(user.email)
    auth.logout()
    failed = events(db, "sign_in_failed")
    assert [(e.subject_user_id, e.details["email"]) for e in failed] == [
        (user.id, user.email), (None, "stranger@test.example")]
    assert all(e.actor_id is None and e.ip_address == "127.0.0.1" for e in failed)
    (signed_in,) = events(db, "sign_in")
    assert signed_in.actor_id == user.id and signed_in.actor_email == user.email
    assert signed_in.ip_address == "127.0.0.1"
    assert utcnow() - signed_in.occurred_at < dt.timedelta(minutes=1)
    assert events(db, "sign_out")[0].actor_id == user.id


def test_a_failed_sign_in_leaves_nothing_else_behind(auth: AuthActions, factory: Factory,
                                                     db: Session) -> None:
    user = factory.user(organization=factory.organization())
    before = user.last_login_at
    auth.login(user.email, "wrong password, sorry")
    db.refresh(user)
    assert user.last_login_at == before
    assert [e.action for e in db.scalars(select(AuditEvent))] == ["sign_in_failed"]


def test_the_address_behind_a_proxy(db: Session, app: Flask, settings: dict) -> None:
    proxied = create_app({**settings, "PROXY_COUNT": 1})
    get_database(proxied).engine.dispose()
    proxied.extensions["directory.db"] = get_database(app)
    proxied.test_client().post("/login", data={"email": "x@test.example", "password": "nope"},
                               headers={"X-Forwarded-For": "203.0.113.9"})
    assert events(db, "sign_in_failed")[0].ip_address == "203.0.113.9"


@pytest.fixture()
def coordinator(factory: Factory, auth: AuthActions) -> User:
    user = factory.user(coordinator=True)
    auth.login(user.email)
    return user


def test_coordinators_filter_the_log(client: FlaskClient, coordinator: User, factory: Factory,
                                     db: Session) -> None:
    harbor = factory.organization(name="Harbor House")
    admin = factory.user(organization=harbor, role=MemberRole.ADMIN, email="ha@test.example")
    record(AuditAction.LISTING_VERIFIED, actor=coordinator, organization=harbor)
    record(AuditAction.ROLE_CHANGED, actor=admin, organization=harbor, subject=coordinator,
           details={"from": "referrer", "to": "admin"})
    old = record(AuditAction.USER_SUSPENDED, actor=coordinator, subject=admin)
    old.occurred_at = utcnow() - dt.timedelta(days=40)
    db.flush()

    page = client.get("/admin/audit").get_data(as_text=True)
    assert ">Listing verified</td>" in page and ">Role changed</td>" in page
    assert "Role before: Referrer; Role after: Organization admin" in page
    by_action = client.get("/admin/audit?action=role_changed").get_data(as_text=True)
    assert ">Role changed</td>" in by_action and ">Listing verified</td>" not in by_action
    by_actor = client.get("/admin/audit?actor=HA@TEST").get_data(as_text=True)
    assert ">Role changed</td>" in by_actor and ">Listing verified</td>" not in by_actor
    by_org = client.get("/admin/audit?organization=harbor").get_data(as_text=True)
    assert ">Listing verified</td>" in by_org and ">User suspended</td>" not in by_org
    since = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    recent = client.get(f"/admin/audit?since={since}").get_data(as_text=True)
    assert ">User suspended</td>" not in recent and ">Listing verified</td>" in recent
    until = (utcnow() - dt.timedelta(days=30)).date().isoformat()
    older = client.get(f"/admin/audit?until={until}").get_data(as_text=True)
    assert ">User suspended</td>" in older and ">Listing verified</td>" not in older
    by_address = client.get("/admin/audit?address=127.0.0").get_data(as_text=True)
    assert ">Sign in</td>" in by_address


@pytest.mark.parametrize("query", ["since=yesterday", "action=delete_everything",
                                   f"actor={'a' * 300}", "until=2024-13-45"])
def test_bad_filters_are_refused_clearly(client: FlaskClient, coordinator: User,
                                         query: str) -> None:
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 400
    assert "Correct the filters" in response.get_data(as_text=True)


def test_wildcards_in_filters_are_taken_literally(client: FlaskClient, coordinator: User,
                                                  db: Session) -> None:
    record(AuditAction.LISTING_VERIFIED, actor=coordinator)
    page = client.get("/admin/audit?actor=%25").get_data(as_text=True)
    assert "0 events" in page


def test_the_log_pages(client: FlaskClient, coordinator: User) -> None:
    for _ in range(30):
        record(AuditAction.LISTING_VERIFIED, actor=coordinator)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Page 1 of 2" in page and 'rel="next"' in page
    assert "Page 2 of 2" in client.get("/admin/audit?page=2").get_data(as_text=True)


def test_refused_access_and_throttling_are_recorded(client: FlaskClient, auth: AuthActions,
                                                    factory: Factory, db: Session) -> None:
    referrer = factory.user(organization=factory.organization())
    auth.login(referrer.email)
    assert client.get("/admin/audit").status_code == 403
    (denied,) = events(db, "access_denied")
    assert denied.actor_id == referrer.id
    assert denied.details == {"permission": "view_audit_log", "path": "/admin/audit"}
    auth.logout()
    for _ in range(6):
        auth.login("nobody@test.example", "wrong password, again")
    (throttled,) = events(db, "rate_limited")
    assert throttled.details["endpoint"] == "accounts.login"
    assert throttled.ip_address == "127.0.0.1"
