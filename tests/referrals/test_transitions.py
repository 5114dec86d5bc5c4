"""Every transition of the state machine, allowed and forbidden, by each kind of actor."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from directory.db import utcnow
from directory.referrals import operations as ops
from directory.referrals.errors import (
    InvalidReferral,
    ReferralConflict,
    ReferralForbidden,
    ReferralNotFound,
)
from directory.referrals.models import Referral, ReferralStatus
from directory.referrals.schemas import ConsentSchema
from directory.referrals.sweep import sweep
from tests.factories import Factory
from tests.referrals.conftest import Partners

S = ReferralStatus
ACTORS = ("sender", "receiver", "third", "coordinator")

# The architecture's lifecycle, written out independently of the state machine module.
ALLOWED = {
    (S.DRAFT, S.SENT, "sender"),
    (S.DRAFT, S.WITHDRAWN, "sender"),
    (S.SENT, S.ACCEPTED, "receiver"),
    (S.SENT, S.DECLINED, "receiver"),
    (S.SENT, S.WITHDRAWN, "sender"),
    (S.ACCEPTED, S.COMPLETED, "receiver"),
    (S.ACCEPTED, S.CLOSED, "receiver"),
    (S.ACCEPTED, S.CLOSED, "sender"),
    (S.ACCEPTED, S.WITHDRAWN, "sender"),
}
MOVE_DATA: dict[str, Any] = {"reason": "no_capacity", "note": "Full tonight.",
                             "outcome": "could_not_contact"}


def in_state(state: ReferralStatus, partners: Partners, factory: Factory) -> Referral:
    """A referral from the sending to the receiving organization, driven to ``state`` through
    the operations (a draft: one redirected to the receiving organization)."""
    if state == S.DRAFT:
        # The sending organization closes a referral it received as redirected: the linked
        # draft goes from it to the receiving organization.
        first = factory.referral(partners.third_user, partners.sender)
        ops.transition(partners.referrer, first, {"to": "accepted", "version": first.version})
        draft = ops.transition(partners.referrer, first, {
            "to": "closed", "version": first.version, "outcome": "redirected",
            "redirect_to": partners.receiver.slug})
        assert draft is not None and draft.status == S.DRAFT
        return draft
    referral = factory.referral(partners.referrer, partners.receiver)
    steps = {S.SENT: [], S.ACCEPTED: [S.ACCEPTED], S.COMPLETED: [S.ACCEPTED, S.COMPLETED],
             S.CLOSED: [S.ACCEPTED, S.CLOSED], S.DECLINED: [S.DECLINED],
             S.WITHDRAWN: [S.WITHDRAWN]}
    if state == S.EXPIRED:
        sweep(utcnow() + dt.timedelta(days=30))
        assert referral.status == S.EXPIRED
        return referral
    for step in steps[state]:
        actor = partners.referrer if step == S.WITHDRAWN else partners.receiver_user
        ops.transition(actor, referral, {"to": step, "version": referral.version, **MOVE_DATA})
    assert referral.status == state
    return referral


CONSENT = {"purpose": "Shelter referral", "method": "electronic",
           "expires_on": (dt.date.today() + dt.timedelta(days=10)).isoformat()}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("target", [s for s in S if s != S.DRAFT])
@pytest.mark.parametrize("source", list(S))
def test_transition(source: S, target: S, actor: str, partners: Partners, factory: Factory,
                    db: Session) -> None:
    referral = in_state(source, partners, factory)
    version, events = referral.version, len(referral.events)
    user = partners.actor(actor)

    def move() -> None:
        if target == S.SENT:
            ops.send_draft(user, referral, version, ConsentSchema().load(CONSENT))
        else:
            ops.transition(user, referral, {"to": target, "version": version, **MOVE_DATA})

    if (source, target, actor) in ALLOWED:
        move()
        db.expire_all()
        assert referral.status == target
        assert referral.version == version + 1
        assert len(referral.events) == events + 1
        assert (referral.events[-1].from_status, referral.events[-1].to_status) == (
            source.value, target.value)
        return
    # The third organization and coordinators are no side: for them it does not exist;
    # a draft does not exist for its receiver yet.
    invisible = actor in ("third", "coordinator") or (actor == "receiver" and source == S.DRAFT)
    with pytest.raises(ReferralNotFound if invisible else ReferralForbidden):
        move()
    db.expire_all()
    assert (referral.status, referral.version, len(referral.events)) == (source, version, events)


def test_a_stale_version_is_a_conflict_and_changes_nothing(partners: Partners,
                                                            factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    with pytest.raises(ReferralConflict):
        ops.transition(partners.receiver_user, referral,
                       {"to": "accepted", "version": referral.version - 1})
    assert referral.status == S.SENT


@pytest.mark.parametrize(("target", "missing"), [
    ("declined", {"reason": "no_capacity"}), ("declined", {"note": "Full."}),
    ("closed", {"note": "n"})])
def test_required_fields_of_a_move(target: str, missing: dict[str, str], partners: Partners,
                                   factory: Factory) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    if target == "closed":
        ops.transition(partners.receiver_user, referral, {"to": "accepted", "version": 2})
    before = referral.version
    with pytest.raises(InvalidReferral) as refused:
        ops.transition(partners.receiver_user, referral,
                       {"to": target, "version": referral.version, **missing})
    assert refused.value.fields
    assert referral.version == before
