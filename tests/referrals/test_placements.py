"""Placement requests: one de-identified request to several partners; the first to accept
gets the referral, the others are withdrawn and told; identifying details follow under the
accepting partner's own consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.referrals import disclosure
from directory.referrals import operations as ops
from directory.referrals.errors import InvalidReferral, ReferralForbidden
from directory.referrals.models import Notification, PlacementRequest, Referral, ReferralStatus
from directory.referrals.schemas import IdentifyingSchema, PlacementSchema
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.referrals.conftest import Partners

CONSENT = {"purpose": "Shelter bed", "method": "written",
           "expires_on": (dt.date.today() + dt.timedelta(days=20)).isoformat()}


def _data(*slugs: str, **changes: Any) -> dict[str, Any]:
    data = {"to": list(slugs), "service": "case_management", "urgency": "emergency",
            "age_range": "12-17", "alias": "T.", "language": "English",
            "needs": "A bed for tonight.", "contact_instructions": "Via caseworker.",
            "contact_person": "Caseworker", "handoff_time": "Now",
            "consent": {**CONSENT, "minor_basis": "guardian"}}
    data.update(changes)
    return data


def _place(partners: Partners, factory: Factory) -> PlacementRequest:
    fourth = factory.organization(name="Fourth Shelter")
    factory.user(organization=fourth)
    return ops.create_placement_request(partners.referrer, PlacementSchema().load(
        _data(partners.receiver.slug, partners.third.slug, fourth.slug)))


def test_one_request_reaches_every_partner_de_identified(partners: Partners,
                                                         factory: Factory) -> None:
    placement = _place(partners, factory)
    assert len(placement.referrals) == 3
    for referral in placement.referrals:
        assert referral.status == ReferralStatus.SENT and referral.identifying_data is None
        assert referral.consent.receiver_org_id == referral.receiver_org_id
        assert referral.consent.items == []


@pytest.mark.parametrize("changes", [
    {"name": "Tia Example"}, {"consent": {**CONSENT, "items": ["phone"]}}, {"to": ["one"]}])
def test_a_placement_request_is_de_identified_and_for_several(changes: dict[str, Any],
                                                              partners: Partners) -> None:
    data = _data(partners.receiver.slug, partners.third.slug)
    data.update(changes)
    with pytest.raises(ValidationError):
        PlacementSchema().load(data)


def test_a_partner_without_the_service_refuses_the_whole_request(
        partners: Partners, factory: Factory, db: Session) -> None:
    other = factory.organization(services=["legal.immigration"])
    before = db.scalar(select(func.count()).select_from(Referral))
    with pytest.raises(InvalidReferral) as refused:
        ops.create_placement_request(partners.referrer, PlacementSchema().load(
            _data(partners.receiver.slug, other.slug)))
    assert "does not offer Case management" in refused.value.fields["to"]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Referral)) == before


def test_the_first_to_accept_gets_it_and_the_others_are_withdrawn_and_told(
        partners: Partners, factory: Factory, db: Session) -> None:
    placement = _place(partners, factory)
    first, second, third = placement.referrals
    ops.transition(partners.receiver_user, first, {"to": "accepted", "version": first.version})
    assert first.status == ReferralStatus.ACCEPTED
    assert second.status == third.status == ReferralStatus.WITHDRAWN
    assert second.events[-1].actor_id is None
    told = db.scalars(select(Notification.referral_id).where(
        Notification.kind == "withdrawn")).all()
    assert second.id in told and third.id in told
    with pytest.raises(ReferralForbidden):
        ops.transition(partners.third_user, second, {"to": "accepted",
                                                     "version": second.version})
    db.expire_all()
    assert db.get(PlacementRequest, placement.id).filled_referral_id == first.id


def test_identifying_details_go_only_to_the_partner_that_accepted(
        partners: Partners, factory: Factory) -> None:
    placement = _place(partners, factory)
    first, second, _ = placement.referrals
    ops.transition(partners.receiver_user, first, {"to": "accepted", "version": first.version})
    share = IdentifyingSchema().load({"name": "Tia Example", "consent": {
        **CONSENT, "items": ["name"], "minor_basis": "guardian"}})
    with pytest.raises(ReferralForbidden):
        ops.share_identifying(partners.referrer, second, share)  # withdrawn
    with pytest.raises(ReferralForbidden):
        ops.share_identifying(partners.receiver_user, first, share)  # only the referrer
    with pytest.raises(InvalidReferral):
        ops.share_identifying(partners.referrer, first, IdentifyingSchema().load(
            {"phone": "555-0123", "consent": {**CONSENT, "items": ["name"],
                                              "minor_basis": "guardian"}}))
    ops.share_identifying(partners.referrer, first, share)
    receiver_view = disclosure.client_view(partners.receiver_user, first)
    assert receiver_view.identifying == {"name": "Tia Example"}
    assert len(first.consents) == 2 and first.events[-1].kind == "identifying_shared"
    assert second.identifying_data is None


def test_placement_page_sends_to_several_partners(client: FlaskClient, auth: AuthActions,
                                                  partners: Partners, db: Session) -> None:
    auth.login(partners.referrer.email)
    assert client.get(f"/referrals/placements/new?to={partners.receiver.slug}").status_code == 200
    data = {"partners": f"{partners.receiver.slug}\n{partners.third.slug}",
            "service": "case_management", "urgency": "urgent", "age_range": "18-24",
            "alias": "T.", "language": "English", "needs": "Bed.", "contact_instructions": "Call",
            "contact_person": "Me", "handoff_time": "Now", "consent_purpose": "Bed",
            "consent_method": "electronic", "consent_expires_on": CONSENT["expires_on"]}
    refused = client.post("/referrals/placements/new", data={**data, "name": "Tia"})
    assert refused.status_code == 400 and "de-identified" in refused.text
    sent = client.post("/referrals/placements/new", data=data)
    assert sent.status_code == 302
    placement = db.scalars(select(PlacementRequest).order_by(PlacementRequest.id.desc())).first()
    assert {r.receiver_org_id for r in placement.referrals} == {partners.receiver.id,
                                                                partners.third.id}
