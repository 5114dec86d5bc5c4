"""Probing referral ids leaves a trace: every refused opening of a referral (web page, API
resource and its sub-resources) is in the audit log with who, which id and from where,
throttled per user and hour; the answer stays the 404 of an id that does not exist."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.audit import operations as audit_operations
from directory.audit.models import AuditEvent
from directory.audit.operations import DENIALS_LISTED_PER_HOUR
from directory.referrals.models import Referral
from tests.security.conftest import Network, StoredData, bearer, sign_in

OUTSIDERS = ["coordinator", "a_referrer"]  # a coordinator, a third organization's member
API_ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("POST", "/transitions", {"to": "accepted", "version": 1}),
    ("POST", "/notes", {"body": "Probing."}),
    ("POST", "/consent/revoke", None),
]
NEXT_VALUE = re.compile(rb'name="next" value="[^"]*"')
CSRF_VALUE = re.compile(rb'name="csrf_token" value="[^"]*"')
WEB_ACTIONS: list[tuple[str, str]] = [("GET", ""), ("POST", "/notes"),
                                      ("POST", "/consent/revoke")]


def _unknown_id(referral: Referral) -> str:
    """An id of the same shape as ``referral``'s that no referral has."""
    return secrets.token_urlsafe(12)[:len(referral.public_id)]


def _page(body: bytes) -> bytes:
    """The page less its forms' CSRF tokens, which are signed with the second, and less the
    address the language switch returns to (the one asked for, in either case)."""
    return NEXT_VALUE.sub(b'name="next" value=""',
                          CSRF_VALUE.sub(b'name="csrf_token" value=""', body))


def _denials(db: Session, actor_id: int, action: str = "access_denied") -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.actor_id == actor_id).order_by(AuditEvent.id)))


def _traces(db: Session, actor_id: int) -> list[tuple[str | None, str | None, str | None]]:
    return [(event.details.get("permission"), event.details.get("referral"), event.ip_address)
            for event in _denials(db, actor_id)]


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize(("method", "suffix"), WEB_ACTIONS)
def test_a_refused_referral_page_is_audited_and_looks_like_a_missing_one(
        client: FlaskClient, network: Network, stored: StoredData, db: Session, who: str,
        method: str, suffix: str) -> None:
    user = getattr(network, who)
    referral = network.b_to_c
    unknown = _unknown_id(referral)
    sign_in(client, user)
    before = stored.snapshot()

    refused = client.open(f"/referrals/{referral.public_id}{suffix}", method=method,
                          data={"body": "Probing."})
    missing = client.open(f"/referrals/{unknown}{suffix}", method=method,
                          data={"body": "Probing."})
    assert refused.status_code == missing.status_code == 404
    assert _page(refused.data) == _page(missing.data)

    assert _traces(db, user.id) == [("view_referral", referral.public_id, "127.0.0.1"),
                                    ("view_referral", unknown, "127.0.0.1")]
    paths = [event.details["path"] for event in _denials(db, user.id)]
    assert paths == [f"/referrals/{referral.public_id}{suffix}", f"/referrals/{unknown}{suffix}"]
    assert all(event.actor_email == user.email for event in _denials(db, user.id))
    stored.assert_unchanged(before, refusals_audited=True)


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize(("method", "suffix", "body"), API_ACTIONS)
def test_a_refused_api_referral_is_audited_and_looks_like_a_missing_one(
        client: FlaskClient, network: Network, stored: StoredData, db: Session, who: str,
        method: str, suffix: str, body: dict[str, Any] | None) -> None:
    user = getattr(network, who)
    referral = network.b_to_c
    unknown = _unknown_id(referral)
    headers = bearer(user)
    before = stored.snapshot()

    refused = client.open(f"/api/v1/referrals/{referral.public_id}{suffix}", method=method,
                          json=body, headers=headers)
    missing = client.open(f"/api/v1/referrals/{unknown}{suffix}", method=method, json=body,
                          headers=headers)
    assert refused.status_code == missing.status_code == 404
    assert refused.get_json() == missing.get_json()
    assert refused.get_json()["error"]["code"] == "not_found"

    assert _traces(db, user.id) == [("view_referral", referral.public_id, "127.0.0.1"),
                                    ("view_referral", unknown, "127.0.0.1")]
    stored.assert_unchanged(before, refusals_audited=True)


def test_the_sides_of_a_referral_leave_no_refusal(client: FlaskClient, network: Network,
                                                  db: Session) -> None:
    for user in (network.b_referrer, network.c_referrer):
        response = client.get(f"/api/v1/referrals/{network.b_to_c.public_id}",
                              headers=bearer(user))
        assert response.status_code == 200
        assert _denials(db, user.id) == []


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The audit log's clock, set to the middle of an hour (so that the test never straddles
    two); change ``clock[0]`` to move it."""
    now = [dt.datetime(2031, 5, 6, 10, 30, tzinfo=dt.UTC)]
    monkeypatch.setattr(audit_operations, "utcnow", lambda: now[0])
    return now


def test_probing_is_listed_up_to_the_hourly_limit_then_counted(
        client: FlaskClient, network: Network, stored: StoredData, db: Session,
        clock: list[dt.datetime]) -> None:
    prober = network.a_referrer
    headers, coordinator = bearer(prober), bearer(network.coordinator)
    before = stored.snapshot()
    probes = [_unknown_id(network.b_to_c) for _ in range(DENIALS_LISTED_PER_HOUR + 5)]
    answers = set()
    for probe in probes:
        response = client.get(f"/api/v1/referrals/{probe}", headers=headers)
        assert response.status_code == 404
        answers.add(response.data)
    assert len(answers) == 1, "every probe gets the same answer, logged or counted"

    listed = _denials(db, prober.id)
    assert [event.details["referral"] for event in listed] == probes[:DENIALS_LISTED_PER_HOUR]
    (summary,) = _denials(db, prober.id, "access_denied_repeated")
    assert summary.details["count"] == 5
    assert summary.details["hour"] == "2031-05-06T10:00:00+00:00"
    assert summary.details["last_referral"] == probes[-1]
    assert summary.details["last_address"] == summary.ip_address == "127.0.0.1"
    assert summary.details["last_permission"] == "view_referral"

    # Another user has an allowance of their own; the next hour starts a new one.
    assert client.get(f"/api/v1/referrals/{probes[0]}", headers=coordinator).status_code == 404
    assert len(_denials(db, network.coordinator.id)) == 1
    clock[0] += dt.timedelta(hours=1)
    assert client.get(f"/api/v1/referrals/{probes[0]}", headers=headers).status_code == 404
    assert len(_denials(db, prober.id)) == DENIALS_LISTED_PER_HOUR + 1
    assert len(_denials(db, prober.id, "access_denied_repeated")) == 1
    added = {row["action"] for row in stored.added(before, "audit_events")}
    assert added == {"access_denied", "access_denied_repeated"}
    assert stored.changed_tables(before, ignore=["audit_events"]) == []
