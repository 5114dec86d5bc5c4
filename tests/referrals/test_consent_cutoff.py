"""A consent that is revoked, has ended or was withdrawn cuts the receiver off at once and
everywhere: client details, notes, timeline notes, the consent's own free text, redirects,
placements; and what the retention rules purge is gone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from directory.accounts.permissions import Permission, can
from directory.admin.operations import suspend_organization
from directory.db import utcnow
from directory.mail.models import OutboxMessage
from directory.referrals import disclosure
from directory.referrals import operations as ops
from directory.referrals.errors import ReferralConflict, ReferralError
from directory.referrals.models import Consent, Notification, Referral, ReferralStatus
from directory.referrals.schemas import ConsentSchema, IdentifyingSchema, PlacementSchema
from directory.referrals.sweep import sweep
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.referrals.conftest import Partners

NOTE = "Trafficker drives a red van."
DECLINE_NOTE = "She is afraid of the night shift."
FREE_TEXT = {"purpose": "Housing referral for R.", "verbal_reason": "Phone intake at 2am",
             "legal_basis": "Minor is pregnant (Fam. Code 32.003)"}
HANDOFF = {"contact_person": "Ana on the night desk", "handoff_time": "Tuesday 4pm at the clinic"}


def _consent(**changes: Any) -> dict[str, Any]:
    return ConsentSchema().load({"purpose": "Legal help", "method": "written",
                                 "expires_on": (dt.date.today() + dt.timedelta(days=5)
                                                ).isoformat(), **changes})


def _accepted(partners: Partners, factory: Factory, **changes: Any) -> Referral:
    referral = factory.referral(partners.referrer, partners.receiver, **changes)
    ops.transition(partners.receiver_user, referral, {"to": "accepted",
                                                      "version": referral.version})
    return referral


def _page(client: FlaskClient, auth: AuthActions, email: str, referral: Referral) -> str:
    auth.logout()
    auth.login(email)
    response = client.get(f"/referrals/{referral.public_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _api(client: FlaskClient, auth: AuthActions, email: str, referral: Referral) -> Any:
    auth.logout()
    auth.login(email)
    response = client.get(f"/api/v1/referrals/{referral.public_id}")
    assert response.status_code == 200
    return response.get_json()


# --- 1. redirects -------------------------------------------------------------------------------

def test_a_redirect_after_revocation_carries_no_client_details(
        partners: Partners, factory: Factory, client: FlaskClient, auth: AuthActions) -> None:
    referral = _accepted(partners, factory)
    disclosure.revoke_consent(partners.referrer, referral)
    draft = ops.transition(partners.receiver_user, referral, {
        "to": "closed", "version": referral.version, "outcome": "redirected",
        "redirect_to": partners.third.slug})
    assert draft is not None and draft.client_data is None and draft.identifying_data is None
    view = disclosure.client_view(partners.receiver_user, draft)
    assert view.details == {} and view.identifying == {}
    page = _page(client, auth, partners.receiver_user.email, draft)
    assert "J.D." not in page and "Safe housing" not in page and "Text first" not in page
    # The original sender sees where the client was redirected, on the original referral.
    page = _page(client, auth, partners.referrer.email, referral)
    assert "Third Partner" in page and draft.public_id in page


def test_a_redirect_under_consent_in_force_carries_the_de_identified_details_only(
        partners: Partners, factory: Factory) -> None:
    referral = _accepted(partners, factory, name="Maria Example",
                         consent={"items": ["name"]})
    draft = ops.transition(partners.receiver_user, referral, {
        "to": "closed", "version": referral.version, "outcome": "redirected",
        "redirect_to": partners.third.slug})
    assert draft is not None and draft.identifying_data is None
    assert disclosure.client_view(partners.receiver_user, draft).details["alias"] == "J.D."
    assert "Maria" not in repr(disclosure.client_view(partners.receiver_user, draft).details)


# --- 2. notes and timeline notes --------------------------------------------------------------

@pytest.mark.parametrize("ending", ["revoked", "expired"])
def test_notes_and_timeline_notes_go_dark_for_the_receiver_when_consent_ends(
        ending: str, partners: Partners, factory: Factory, client: FlaskClient,
        auth: AuthActions, db: Session) -> None:
    referral = _accepted(partners, factory)
    disclosure.add_note(partners.referrer, referral, {"body": NOTE})
    if ending == "revoked":
        disclosure.revoke_consent(partners.referrer, referral)
    else:
        db.execute(text("UPDATE referral_consents SET expires_on = :day WHERE referral_id = :id"),
                   {"day": dt.date.today() - dt.timedelta(days=1), "id": referral.id})
        db.expire_all()
    ops.transition(partners.referrer, referral, {"to": "withdrawn", "version": referral.version,
                                                 "note": DECLINE_NOTE})
    view = disclosure.client_view(partners.receiver_user, referral)
    assert view.notes_hidden and [body for _, body in view.notes] == []
    assert view.event_notes == {}
    page = _page(client, auth, partners.receiver_user.email, referral)
    assert NOTE not in page and DECLINE_NOTE not in page
    assert "withdrawn" in page  # the timeline keeps who moved it where
    body = _api(client, auth, partners.receiver_user.email, referral)
    assert body["client"] is None and body["notes"] == []
    assert all(event["note"] == "" for event in body["timeline"])
    assert "withdrawn" in [event["to_status"] for event in body["timeline"]]
    assert not can(partners.receiver_user, Permission.ADD_REFERRAL_NOTE, referral)
    response = client.post(f"/api/v1/referrals/{referral.public_id}/notes",
                           json={"body": "still here?"})
    assert response.status_code == 403
    assert len(referral.notes) == 1
    # The sender keeps the whole thread.
    sender_view = disclosure.client_view(partners.referrer, referral)
    assert [body for _, body in sender_view.notes] == [NOTE]
    assert DECLINE_NOTE in sender_view.event_notes.values()


# --- 3. drafts are purged -----------------------------------------------------------------------

def test_an_unsent_redirected_draft_is_purged_after_the_draft_retention(
        partners: Partners, factory: Factory) -> None:
    referral = _accepted(partners, factory)
    draft = ops.transition(partners.receiver_user, referral, {
        "to": "closed", "version": referral.version, "outcome": "redirected",
        "redirect_to": partners.third.slug})
    assert draft is not None and draft.client_data is not None
    days = current_app.config["DRAFT_RETENTION_DAYS"]
    assert draft.public_id not in sweep(utcnow() + dt.timedelta(days=days - 1)).purged
    assert draft.public_id in sweep(utcnow() + dt.timedelta(days=days + 1)).purged
    assert draft.client_data is None and draft.purged_at is not None
    with pytest.raises(ReferralError):
        ops.send_draft(partners.receiver_user, draft, draft.version, _consent())


# --- 4. placements ------------------------------------------------------------------------------

def test_partners_that_lost_a_placement_lose_their_consent_at_once(
        partners: Partners, factory: Factory, db: Session) -> None:
    placement = ops.create_placement_request(partners.referrer, PlacementSchema().load({
        "to": [partners.receiver.slug, partners.third.slug], "service": "case_management",
        "urgency": "emergency", "age_range": "12-17", "alias": "T.", "language": "English",
        "needs": "A bed for tonight.", "contact_instructions": "Via caseworker.",
        "contact_person": "Caseworker", "handoff_time": "Now",
        "consent": {"purpose": "Shelter bed", "method": "written", "minor_basis": "guardian",
                    "expires_on": (dt.date.today() + dt.timedelta(days=20)).isoformat()}}))
    winner, loser = placement.referrals
    ops.transition(partners.receiver_user, winner, {"to": "accepted", "version": winner.version})
    db.refresh(loser)
    assert loser.status == ReferralStatus.WITHDRAWN
    assert all(consent.revoked_at is not None for consent in loser.consents)
    assert not disclosure.client_view(partners.third_user, loser).shown
    assert not can(partners.third_user, Permission.ADD_REFERRAL_NOTE, loser)
    assert disclosure.client_view(partners.receiver_user, winner).shown


# --- 7. the consent's free text and the hand-off plan -----------------------------------------

def test_consent_free_text_and_the_handoff_plan_are_encrypted_hidden_and_purged(
        partners: Partners, factory: Factory, client: FlaskClient, auth: AuthActions,
        db: Session) -> None:
    referral = _accepted(partners, factory, age_range="12-17", **HANDOFF,
                         consent={"method": "verbal", "minor_basis": "minor_alone",
                                  **FREE_TEXT})
    consents = db.execute(text("SELECT * FROM referral_consents WHERE referral_id = :id"),
                          {"id": referral.id}).all()
    row = db.execute(text("SELECT * FROM referrals WHERE id = :id"), {"id": referral.id}).one()
    stored = repr([tuple(consent) for consent in consents]) + repr(tuple(row))
    for value in (*FREE_TEXT.values(), *HANDOFF.values()):
        assert value not in stored  # encrypted at rest
    page = _page(client, auth, partners.receiver_user.email, referral)
    for value in (*FREE_TEXT.values(), *HANDOFF.values()):
        assert value in page.replace("&#39;", "'")
    disclosure.revoke_consent(partners.referrer, referral)
    page = _page(client, auth, partners.receiver_user.email, referral)
    body = _api(client, auth, partners.receiver_user.email, referral)
    for value in (*FREE_TEXT.values(), *HANDOFF.values()):
        assert value not in page.replace("&#39;", "'") and value not in repr(body)
    page = _page(client, auth, partners.referrer.email, referral)
    assert HANDOFF["contact_person"] in page and FREE_TEXT["legal_basis"] in page
    ops.transition(partners.receiver_user, referral, {"to": "completed", "note": "Housed.",
                                                      "version": referral.version})
    days = current_app.config["CLIENT_DATA_RETENTION_DAYS"]
    assert referral.public_id in sweep(utcnow() + dt.timedelta(days=days + 1)).purged
    purged = db.execute(text(
        "SELECT c.purpose, c.verbal_reason, c.legal_basis, r.client_data "
        "FROM referral_consents c JOIN referrals r ON r.id = c.referral_id "
        "WHERE r.id = :id"), {"id": referral.id}).one()
    assert tuple(purged) == ("", "", "", None)


# --- 8. suspended organizations -----------------------------------------------------------------

def test_a_suspended_organization_is_told_nothing_about_referrals(
        partners: Partners, factory: Factory, db: Session) -> None:
    referral = _accepted(partners, factory)
    suspend_organization(partners.coordinator, partners.receiver, "Under review.")
    mail_before = db.scalars(select(OutboxMessage.id)).all()
    disclosure.add_note(partners.referrer, referral, {"body": "Any news?"})
    ops.transition(partners.referrer, referral, {"to": "withdrawn", "version": referral.version})
    told = db.scalars(select(Notification.user_id).where(
        Notification.referral_id == referral.id,
        Notification.kind.in_(["note_added", "withdrawn"]))).all()
    assert partners.receiver_user.id not in told and partners.receiver_admin.id not in told
    new_mail = db.scalars(select(OutboxMessage).where(
        OutboxMessage.id.not_in(mail_before))).all()
    assert not [mail for mail in new_mail if mail.to_address in (
        partners.receiver_user.email, partners.receiver_admin.email)]


# --- 9. deadlines and dates ---------------------------------------------------------------------

def test_an_overdue_referral_cannot_be_answered_before_the_sweep(
        partners: Partners, factory: Factory, db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, urgency="emergency")
    db.execute(text("UPDATE referrals SET response_due_at = :due WHERE id = :id"),
               {"due": utcnow() - dt.timedelta(minutes=1), "id": referral.id})
    db.expire_all()
    with pytest.raises(ReferralConflict) as refused:
        ops.transition(partners.receiver_user, referral, {"to": "accepted",
                                                          "version": referral.version})
    assert "deadline" in refused.value.message
    db.expire_all()
    assert db.get(Referral, referral.id).status == ReferralStatus.SENT  # the sweep expires it


def test_consent_ends_at_the_end_of_its_day_in_the_recording_organizations_zone(
        partners: Partners, factory: Factory, db: Session) -> None:
    # The factory's organizations are in Houston (America/Chicago, UTC-6 in winter).
    referral = factory.referral(partners.referrer, partners.receiver)
    consent = referral.consent
    last_day = consent.expires_on
    evening = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(3, 0),
                                  tzinfo=dt.UTC)  # 21:00 on the last day in Houston
    assert consent.in_force(evening)
    assert not consent.in_force(evening + dt.timedelta(hours=7))  # 04:00 the day after


# --- 10. revocation races -----------------------------------------------------------------------

def test_revocation_revokes_every_consent_in_force(partners: Partners, factory: Factory,
                                                   db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    stale = db.get(Referral, referral.id)
    assert stale is not None and len(stale.consents) == 1
    # A consent recorded at the same moment by someone else, unseen by the revoking request.
    db.add(Consent(referral_id=referral.id, receiver_org_id=partners.receiver.id,
                   items=["name"], purpose="x", method="written",
                   expires_on=dt.date.today() + dt.timedelta(days=3)))
    db.execute(text("SELECT 1"))
    disclosure.revoke_consent(partners.referrer, stale)
    db.expire_all()
    consents = db.scalars(select(Consent).where(Consent.referral_id == referral.id)).all()
    assert len(consents) == 2 and all(consent.revoked_at is not None for consent in consents)
    assert not disclosure.client_view(partners.receiver_user, db.get(Referral, referral.id)).shown


def test_sharing_identifying_details_after_a_revocation_needs_a_fresh_page(
        partners: Partners, factory: Factory, db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    version = referral.version
    disclosure.revoke_consent(partners.referrer, referral)
    assert referral.version > version  # a revocation is a change others must see first
    with pytest.raises(ReferralConflict):
        ops.share_identifying(partners.referrer, referral, {
            **IdentifyingSchema().load({"name": "Maria Example", "consent": {
                "purpose": "Legal help", "method": "written", "items": ["name"],
                "expires_on": (dt.date.today() + dt.timedelta(days=5)).isoformat()}}),
            "version": version})
