"""Referrals through the JSON API: the hand-off with a token, conflicts, outsiders, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.models import User
from directory.api.operations import create_token
from directory.audit.models import AuditEvent
from directory.referrals.models import Referral, ReferralStatus
from tests.factories import Factory
from tests.referrals.conftest import Partners

API = "/api/v1/referrals"


@pytest.fixture()
def people(factory: Factory) -> Partners:
    sender = factory.organization(name="API Sending Outreach")
    receiver = factory.organization(name="API Receiving Shelter")
    third = factory.organization(name="API Third Partner")
    return Partners(sender=sender, receiver=receiver, third=third,
                    referrer=factory.user(organization=sender),
                    receiver_user=factory.user(organization=receiver),
                    receiver_admin=factory.user(organization=receiver),
                    third_user=factory.user(organization=third),
                    coordinator=factory.user(coordinator=True))


def bearer(user: User) -> dict[str, str]:
    _, secret = create_token(user, "test", None)
    return {"Authorization": f"Bearer {secret}"}


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()["error"]


def test_the_hand_off_through_the_api(client: FlaskClient, factory: Factory, people: Partners,
                                      db: Session) -> None:
    sender, receiver = bearer(people.referrer), bearer(people.receiver_user)
    created = client.post(API, json=factory.referral_data(people.receiver), headers=sender)
    assert created.status_code == 201, created.get_json()
    public_id = created.get_json()["id"]
    assert created.get_json()["status"] == "sent"

    inbox = client.get(API, query_string={"box": "inbox"}, headers=receiver).get_json()
    item = next(item for item in inbox["items"] if item["id"] == public_id)
    assert item["sender"]["name"] == "API Sending Outreach" and item["viewed_at"] is None
    assert "client" not in item and "needs" not in str(item)

    detail = client.get(f"{API}/{public_id}", headers=receiver).get_json()
    assert detail["client"]["details"]["needs"] == "Safe housing and legal advice."
    assert detail["viewed_at"] is not None and "accepted" in detail["transitions"]
    assert db.scalars(select(AuditEvent).where(
        AuditEvent.action == "referral_client_details_viewed",
        AuditEvent.actor_id == people.receiver_user.id)).first() is not None

    accepted = client.post(f"{API}/{public_id}/transitions", headers=receiver,
                           json={"to": "accepted", "version": detail["version"]})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    note = client.post(f"{API}/{public_id}/notes", json={"body": "Intake booked."},
                       headers=receiver)
    assert note.status_code == 201 and note.get_json()["body"] == "Intake booked."
    completed = client.post(f"{API}/{public_id}/transitions", headers=receiver, json={
        "to": "completed", "version": accepted.get_json()["version"], "note": "Housed."})
    assert completed.status_code == 200, completed.get_json()

    seen = client.get(f"{API}/{public_id}", headers=sender).get_json()
    assert seen["status"] == "completed" and seen["viewed_at"] is not None
    assert [note["body"] for note in seen["notes"]] == ["Intake booked."]
    assert "Housed." in [event["note"] for event in seen["timeline"]]
    outbox = client.get(API, query_string={"box": "outbox", "status": "completed"},
                        headers=sender).get_json()
    assert [item["id"] for item in outbox["items"]] == [public_id]


def test_a_stale_version_is_a_409_and_changes_nothing(client: FlaskClient, factory: Factory,
                                                      people: Partners, db: Session) -> None:
    referral = factory.referral(people.referrer, people.receiver)
    response = client.post(f"{API}/{referral.public_id}/transitions",
                           headers=bearer(people.receiver_user),
                           json={"to": "accepted", "version": referral.version - 1})
    assert _error(response, 409)["code"] == "conflict"
    db.expire_all()
    assert db.get(Referral, referral.id).status == ReferralStatus.SENT


@pytest.mark.parametrize("who", ["third", "coordinator"])
@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "", None), ("POST", "/transitions", {"to": "accepted", "version": 1}),
    ("POST", "/notes", {"body": "Hello"}), ("POST", "/consent/revoke", None)])
def test_outsiders_get_404_on_every_referral_route(client: FlaskClient, factory: Factory,
                                                   people: Partners, who: str, method: str,
                                                   path: str, body: Any) -> None:
    referral = factory.referral(people.referrer, people.receiver)
    response = client.open(f"{API}/{referral.public_id}{path}", method=method, json=body,
                           headers=bearer(people.actor(who)))
    _error(response, 404)
    listed = client.get(API, query_string={"box": "inbox"}, headers=bearer(people.actor(who)))
    assert referral.public_id not in str(listed.get_json())


def test_revoking_consent_hides_client_details_from_the_receiver(
        client: FlaskClient, factory: Factory, people: Partners) -> None:
    referral = factory.referral(people.referrer, people.receiver)
    receiver = bearer(people.receiver_user)
    assert client.get(f"{API}/{referral.public_id}", headers=receiver).get_json()["client"]
    revoked = client.post(f"{API}/{referral.public_id}/consent/revoke",
                          headers=bearer(people.referrer))
    assert revoked.status_code == 200 and revoked.get_json()["consent_in_force"] is False
    detail = client.get(f"{API}/{referral.public_id}", headers=receiver).get_json()
    assert detail["client"] is None
    _error(client.post(f"{API}/{referral.public_id}/consent/revoke", headers=receiver), 403)


def test_bad_input_is_a_400_with_fields(client: FlaskClient, factory: Factory,
                                        people: Partners) -> None:
    sender = bearer(people.referrer)
    data = factory.referral_data(people.receiver, alias="", consent={"purpose": ""})
    fields = _error(client.post(API, json=data, headers=sender), 400)["fields"]
    assert "alias" in fields and "purpose" in fields["consent"]
    wrong = factory.referral_data(people.receiver, service="not_a_service")
    assert "service" in _error(client.post(API, json=wrong, headers=sender), 400)["fields"]
    referral = factory.referral(people.referrer, people.receiver)
    declined = client.post(f"{API}/{referral.public_id}/transitions",
                           headers=bearer(people.receiver_user),
                           json={"to": "declined", "version": referral.version})
    assert set(_error(declined, 400)["fields"]) == {"reason", "note"}
    assert "box" in _error(client.get(API, headers=sender), 400)["fields"]
    _error(client.post(f"{API}/{referral.public_id}/notes", json={"body": ""},
                       headers=sender), 400)


def test_the_list_pages_with_cursors(client: FlaskClient, factory: Factory,
                                     people: Partners) -> None:
    made = {factory.referral(people.referrer, people.receiver).public_id for _ in range(5)}
    seen: list[str] = []
    query: dict[str, Any] = {"box": "outbox", "limit": 2}
    while True:
        body = client.get(API, query_string=query, headers=bearer(people.referrer)).get_json()
        seen += [item["id"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        query["cursor"] = body["next_cursor"]
    assert sorted(seen) == sorted(made)
    other = client.get(API, headers=bearer(people.referrer),
                       query_string={"box": "inbox", "cursor": query["cursor"]})
    assert "cursor" in _error(other, 400)["fields"]


def test_a_redirected_draft_is_sent_with_its_own_consent(client: FlaskClient, factory: Factory,
                                                         people: Partners) -> None:
    referral = factory.referral(people.referrer, people.receiver)
    sender, receiver = bearer(people.referrer), bearer(people.receiver_user)
    path = f"{API}/{referral.public_id}/transitions"
    accepted = client.post(path, headers=receiver,
                           json={"to": "accepted", "version": referral.version}).get_json()
    closed = client.post(path, headers=sender, json={
        "to": "closed", "version": accepted["version"], "outcome": "redirected",
        "redirect_to": people.third.slug})
    assert closed.status_code == 200 and closed.get_json()["outcome"] == "redirected"
    drafts = client.get(API, query_string={"box": "outbox", "status": "draft"},
                        headers=sender).get_json()["items"]
    draft = next(item for item in drafts if item["receiver"]["slug"] == people.third.slug)
    draft_path = f"{API}/{draft['id']}/transitions"
    unconsented = client.post(draft_path, headers=sender,
                              json={"to": "sent", "version": draft["version"]})
    assert "consent" in _error(unconsented, 400)["fields"]
    consent = factory.referral_data(people.third)["consent"]
    sent = client.post(draft_path, headers=sender,
                       json={"to": "sent", "version": draft["version"], "consent": consent})
    assert sent.status_code == 200 and sent.get_json()["status"] == "sent", sent.get_json()
    with_consent = client.post(path, headers=sender, json={
        "to": "withdrawn", "version": 1, "consent": consent})
    assert "consent" in _error(with_consent, 400)["fields"]
