"""Referral operations: sending with consent, reading client details, notes, revocation,
redirection, the sweep and key rotation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.admin.operations import suspend_organization
from directory.audit.models import AuditEvent
from directory.datakey import rotate_data_key
from directory.db import utcnow
from directory.referrals import crypto, disclosure
from directory.referrals import operations as ops
from directory.referrals.errors import InvalidReferral, ReferralForbidden, ReferralNotFound
from directory.referrals.models import Notification, Referral, ReferralStatus
from directory.referrals.schemas import ConsentSchema, ReferralSchema
from directory.referrals.sweep import sweep
from directory.reports import dashboard
from directory.reports import operations as report_ops
from directory.reports.operations import DateRange, Dimension, Scope
from directory.reports.tables import Viewer
from tests.factories import Factory
from tests.mail.helpers import mail_to
from tests.referrals.conftest import Partners

IDENTIFIED = {"name": "Maria Example", "phone": "555-0142",
              "consent": {"items": ["name", "phone"]}}


def _count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_sending_sets_the_deadline_and_tells_the_receiver(partners: Partners, factory: Factory,
                                                          db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, urgency="emergency")
    assert referral.status == ReferralStatus.SENT
    assert referral.response_due_at - referral.sent_at == dt.timedelta(hours=4)
    assert [e.to_status for e in referral.events] == ["draft", "sent"]
    assert not referral.public_id.isdigit() and len(referral.public_id) >= 16
    told = db.scalars(select(Notification.user_id).where(
        Notification.referral_id == referral.id)).all()
    assert set(told) == {partners.receiver_user.id, partners.receiver_admin.id}
    (mail,) = mail_to(db, partners.receiver_user.email)
    assert "Emergency" not in mail.subject or "J.D." not in mail.text_body
    assert "J.D." not in mail.text_body and "Safe housing" not in mail.text_body
    assert f"/referrals/{referral.public_id}" in mail.text_body


@pytest.mark.parametrize("urgency,hours", [("routine", 72), ("urgent", 24), ("emergency", 4)])
def test_response_deadline_by_urgency(urgency: str, hours: int, partners: Partners,
                                      factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, urgency=urgency)
    assert referral.response_due_at - referral.sent_at == dt.timedelta(hours=hours)


@pytest.mark.parametrize("changes,field", [
    ({"consent": None}, "consent"),
    ({"urgency": "whenever"}, "urgency"),
    ({"age_range": "17"}, "age_range"),
    ({"alias": "x" * 61}, "alias"),
    ({"needs": "   "}, "needs"),
    ({"consent": {"method": "verbal"}}, "consent"),
    ({"consent": {"expires_on": "not a date"}}, "consent"),
    ({"consent": {"items": ["passport"]}}, "consent"),
])
def test_schema_refuses_bad_input(changes: dict[str, Any], field: str,
                                  partners: Partners) -> None:
    data = Factory.referral_data(partners.receiver)
    if changes.get("consent", {}) is None:
        del data["consent"]
    else:
        consent = changes.pop("consent", {})
        data.update(changes)
        data["consent"].update(consent)
    with pytest.raises(ValidationError) as refused:
        ReferralSchema().load(data)
    assert field in refused.value.messages


@pytest.mark.parametrize("changes,field", [
    ({"consent": {"expires_on": "today"}}, "consent.expires_on"),
    ({"age_range": "12-17"}, "consent.minor_basis"),
    ({"name": "Maria Example"}, "consent.items"),
    ({"service": "shelter.youth"}, "service"),
])
def test_consent_and_partner_rules_refuse_and_store_nothing(
        changes: dict[str, Any], field: str, partners: Partners, factory: Factory,
        db: Session) -> None:
    if changes.get("consent", {}).get("expires_on") == "today":
        # Today where the consent is recorded: the sending organization's date, not the UTC one.
        sender = partners.referrer.memberships[0].organization
        changes = {"consent": {"expires_on": sender.local_date().isoformat()}}
    before = _count(db, Referral)
    with pytest.raises(InvalidReferral) as refused:
        factory.referral(partners.referrer, partners.receiver, **changes)
    assert field in refused.value.fields
    assert _count(db, Referral) == before


def test_a_minor_needs_the_guardian_or_a_named_legal_basis(partners: Partners,
                                                           factory: Factory) -> None:
    with pytest.raises(ValidationError):
        factory.referral(partners.referrer, partners.receiver, age_range="12-17",
                         consent={"minor_basis": "minor_alone"})
    referral = factory.referral(partners.referrer, partners.receiver, age_range="12-17",
                                consent={"minor_basis": "minor_alone",
                                         "legal_basis": "State law lets minors 16+ consent"})
    texts = disclosure.client_view(partners.referrer, referral).consents[referral.consent.id]
    assert texts["legal_basis"].startswith("State law")
    assert "State law" not in referral.consent.legal_basis  # stored encrypted


def test_nobody_refers_to_a_suspended_partner_or_as_a_coordinator(
        partners: Partners, factory: Factory) -> None:
    with pytest.raises(ReferralForbidden):
        factory.referral(partners.coordinator, partners.receiver)
    suspend_organization(partners.coordinator, partners.receiver, "Under review.")
    with pytest.raises(InvalidReferral):
        factory.referral(partners.referrer, partners.receiver)


def test_client_details_are_shown_to_both_sides_only_and_each_view_is_audited(
        partners: Partners, factory: Factory, db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    view = disclosure.client_view(partners.receiver_user, referral)
    assert view.details["alias"] == "J.D."
    assert view.identifying == {"name": "Maria Example", "phone": "555-0142"}
    sender_view = disclosure.client_view(partners.referrer, referral)
    assert sender_view.identifying["name"] == "Maria Example"
    events = db.scalars(select(AuditEvent).where(
        AuditEvent.action == "referral_client_details_viewed")).all()
    assert {e.actor_id for e in events} == {partners.receiver_user.id, partners.referrer.id}
    assert all(e.details["referral"] == referral.public_id for e in events)
    for outsider in (partners.third_user, partners.coordinator):
        with pytest.raises(ReferralNotFound):
            ops.get_referral(outsider, referral.public_id)


def test_the_address_given_without_consent_is_refused(partners: Partners,
                                                      factory: Factory) -> None:
    with pytest.raises(InvalidReferral):
        factory.referral(partners.referrer, partners.receiver, address="1 Elm St", **IDENTIFIED)


def test_revoking_consent_hides_details_from_the_receiver_at_once(
        partners: Partners, factory: Factory, db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    with pytest.raises(ReferralForbidden):
        disclosure.revoke_consent(partners.receiver_user, referral)
    disclosure.revoke_consent(partners.referrer, referral)
    view = disclosure.client_view(partners.receiver_user, referral)
    assert not view.shown and view.details == {} and view.identifying == {}
    assert referral.events[-1].kind == "consent_revoked"
    assert db.scalar(select(Notification).where(
        Notification.user_id == partners.receiver_user.id,
        Notification.kind == "consent_revoked")) is not None
    with pytest.raises(ReferralForbidden):
        disclosure.revoke_consent(partners.referrer, referral)


def test_first_opening_by_the_receiver_is_recorded_once(partners: Partners,
                                                        factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    version = referral.version
    assert not ops.mark_viewed(partners.referrer, referral)
    assert ops.mark_viewed(partners.receiver_user, referral)
    assert not ops.mark_viewed(partners.receiver_admin, referral)
    assert referral.viewed_at is not None
    assert [e.kind for e in referral.events].count("viewed") == 1
    assert referral.version == version  # opening never turns an answer into a conflict


def test_notes_are_encrypted_and_tell_the_other_side(partners: Partners, factory: Factory,
                                                     db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    note = disclosure.add_note(partners.receiver_user, referral, {"body": "Bed ready at 6pm."})
    assert note.body and "Bed ready" not in note.body
    assert disclosure.client_view(partners.referrer, referral).notes[0][1] == "Bed ready at 6pm."
    assert db.scalar(select(Notification).where(
        Notification.user_id == partners.referrer.id, Notification.kind == "note_added"))


def test_declining_needs_a_coded_reason_and_tells_the_sender(partners: Partners,
                                                             factory: Factory,
                                                             db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    ops.transition(partners.receiver_user, referral, {
        "to": "declined", "version": referral.version, "reason": "outside_service_area",
        "note": "We serve Harris County only."})
    assert referral.decline_reason.value == "outside_service_area"
    event_notes = disclosure.client_view(partners.referrer, referral).event_notes
    assert event_notes[referral.events[-1].id] == "We serve Harris County only."
    assert mail_to(db, partners.referrer.email)[-1].subject.startswith("Referral declined")


def test_closing_as_redirected_starts_a_linked_draft_that_needs_its_own_consent(
        partners: Partners, factory: Factory, db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    ops.transition(partners.receiver_user, referral, {"to": "accepted", "version": 2})
    with pytest.raises(InvalidReferral):
        ops.transition(partners.receiver_user, referral, {
            "to": "closed", "version": 3, "outcome": "redirected", "redirect_to": "nowhere"})
    draft = ops.transition(partners.receiver_user, referral, {
        "to": "closed", "version": 3, "outcome": "redirected",
        "redirect_to": partners.third.slug})
    assert draft is not None and draft.status == ReferralStatus.DRAFT
    assert draft.redirected_from_id == referral.id and draft.receiver_org_id == partners.third.id
    assert draft.consent is None and draft.identifying_data is None
    with pytest.raises(ReferralNotFound):
        ops.get_referral(partners.third_user, draft.public_id)  # not sent yet
    with pytest.raises(ValidationError):
        ConsentSchema().load({})
    ops.send_draft(partners.receiver_user, draft, draft.version, ConsentSchema().load({
        "purpose": "Legal help", "method": "verbal", "verbal_reason": "Phone intake",
        "expires_on": (dt.date.today() + dt.timedelta(days=5)).isoformat()}))
    assert draft.status == ReferralStatus.SENT
    assert disclosure.client_view(partners.third_user, draft).details["alias"] == "J.D."


def test_sweep_expires_overdue_referrals_once_and_tells_both_sides(
        partners: Partners, factory: Factory, db: Session) -> None:
    overdue = factory.referral(partners.referrer, partners.receiver, urgency="emergency")
    fresh = factory.referral(partners.referrer, partners.receiver, urgency="routine")
    later = utcnow() + dt.timedelta(hours=5)
    first = sweep(later)
    assert first.expired == [overdue.public_id]
    assert overdue.status == ReferralStatus.EXPIRED and fresh.status == ReferralStatus.SENT
    assert overdue.events[-1].actor_id is None and overdue.events[-1].actor_name == ops.AUTOMATIC
    kinds = db.scalars(select(Notification.user_id).where(
        Notification.referral_id == overdue.id, Notification.kind == "expired")).all()
    assert partners.referrer.id in kinds and partners.receiver_user.id in kinds
    again = sweep(later)
    assert again.as_dict() == {"expired": [], "due_soon": [], "identifying_purged": [],
                               "purged": []}


def test_sweep_warns_once_when_the_deadline_is_near(partners: Partners,
                                                   factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, urgency="urgent")
    assert sweep(utcnow() + dt.timedelta(hours=12)).due_soon == []
    assert sweep(utcnow() + dt.timedelta(hours=20)).due_soon == [referral.public_id]
    assert sweep(utcnow() + dt.timedelta(hours=21)).due_soon == []


def test_sweep_purges_identifying_details_when_consent_ends(partners: Partners,
                                                           factory: Factory) -> None:
    revoked = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    lapsing = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    disclosure.revoke_consent(partners.referrer, revoked)
    report = sweep(utcnow() + dt.timedelta(hours=1))
    assert report.identifying_purged == [revoked.public_id]
    ops.transition(partners.receiver_user, lapsing, {"to": "accepted", "version": 2})
    # The consent runs 30 days from the UTC date, and ends at the end of that day where it was
    # recorded: 32 days on, it has ended in every zone.
    report = sweep(utcnow() + dt.timedelta(days=32))
    assert lapsing.public_id in report.identifying_purged
    assert revoked.identifying_data is None and lapsing.identifying_data is None
    assert disclosure.client_view(partners.referrer, lapsing).details["alias"] == "J.D."


def test_sweep_purges_client_details_after_retention_and_keeps_the_record(
        partners: Partners, factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    ops.transition(partners.receiver_user, referral, {"to": "accepted", "version": 2})
    disclosure.add_note(partners.referrer, referral, {"body": "Client arrives by bus."})
    ops.transition(partners.receiver_user, referral, {"to": "completed", "version": 3,
                                                      "note": "Housed."})
    days = current_app.config["CLIENT_DATA_RETENTION_DAYS"]
    assert sweep(utcnow() + dt.timedelta(days=days - 1)).purged == []
    assert sweep(utcnow() + dt.timedelta(days=days + 1)).purged == [referral.public_id]
    assert referral.client_data is None and referral.identifying_data is None
    assert referral.notes[0].body is None and all(e.note is None for e in referral.events)
    assert referral.status == ReferralStatus.COMPLETED and referral.service
    assert report_ops.counts(Scope(DateRange.last(1)),
                             Dimension.NETWORK)["all"].by_status["completed"] >= 1
    with pytest.raises(ReferralForbidden):
        disclosure.add_note(partners.referrer, referral, {"body": "late"})


def test_rotating_the_data_key_re_encrypts_everything(partners: Partners, factory: Factory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    disclosure.add_note(partners.referrer, referral, {"body": "Call after 5."})
    old = current_app.config["DATA_KEY"]
    new = Fernet.generate_key().decode()
    monkeypatch.setitem(current_app.config, "DATA_KEY", f"{new},{old}")
    assert rotate_data_key() == 4  # client data, identifying data, one note, the purpose
    monkeypatch.setitem(current_app.config, "DATA_KEY", new)
    assert crypto.decrypt_json(referral.identifying_data)["phone"] == "555-0142"
    assert crypto.decrypt_text(referral.notes[0].body) == "Call after 5."


def test_the_coordinators_report_has_counts_and_timings_only(partners: Partners,
                                                             factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver, **IDENTIFIED)
    ops.transition(partners.receiver_user, referral, {"to": "accepted", "version": 2})
    report = dashboard.network(DateRange.last(1), Dimension.KIND, Viewer(min_count=1))
    network = report.table("performance")
    assert network is not None and network.rows[0].cells[0] >= 1
    assert "Maria" not in repr(report) and "J.D." not in repr(report)
