"""The waits stored on each referral for the reports (migration 0019's triggers): from sending
to the first view, to the answer, and to the answer when it was no decline, in microseconds,
always what the timestamps give, whichever way they were written."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from directory.referrals import operations as ops
from directory.referrals.models import DeclineReason, Referral, ReferralStatus
from tests.factories import Factory
from tests.referrals.conftest import Partners

US = dt.timedelta(microseconds=1)


def _stored(db: Session, referral: Referral) -> tuple[int | None, int | None, int | None]:
    """The three columns as the database holds them (not the session's copy)."""
    db.flush()
    row = db.execute(select(Referral.viewed_after_us, Referral.answered_after_us,
                            Referral.accepted_after_us).where(Referral.id == referral.id)).one()
    return tuple(row)  # type: ignore[return-value]


def _timestamps(db: Session, referral: Referral) -> tuple[dt.datetime | None, ...]:
    row = db.execute(select(Referral.sent_at, Referral.viewed_at, Referral.responded_at)
                     .where(Referral.id == referral.id)).one()
    return tuple(row)


def test_viewing_and_accepting_store_the_waits_from_the_timestamps(
        partners: Partners, factory: Factory, db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    assert _stored(db, referral) == (None, None, None)  # sent: nothing has ended yet
    assert ops.mark_viewed(partners.receiver_user, referral)
    sent, viewed, _answered = _timestamps(db, referral)
    assert _stored(db, referral) == ((viewed - sent) // US, None, None)
    assert referral.viewed_after_us == (viewed - sent) // US
    ops.transition(partners.receiver_user, referral,
                   {"to": "accepted", "version": referral.version})
    sent, viewed, answered = _timestamps(db, referral)
    assert answered is not None and answered > viewed > sent
    assert _stored(db, referral) == ((viewed - sent) // US, (answered - sent) // US,
                                     (answered - sent) // US)


def test_a_decline_is_an_answer_but_no_acceptance(partners: Partners, factory: Factory,
                                                  db: Session) -> None:
    referral = factory.referral(partners.referrer, partners.receiver)
    ops.transition(partners.receiver_user, referral, {
        "to": "declined", "version": referral.version, "reason": "no_capacity",
        "note": "No bed tonight."})
    sent, _viewed, answered = _timestamps(db, referral)
    assert _stored(db, referral) == (None, (answered - sent) // US, None)


def test_any_write_of_the_timestamps_keeps_the_waits_in_step(partners: Partners,
                                                             factory: Factory,
                                                             db: Session) -> None:
    """A row written directly (a bulk load, an import, a correction) has the same waits, to the
    microsecond, across days and whole seconds."""
    sent = dt.datetime(2026, 1, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)
    referral = Referral(sender_org_id=partners.sender.id, receiver_org_id=partners.receiver.id,
                        service="case_management", urgency="urgent", age_range="18-24",
                        status=ReferralStatus.ACCEPTED, sent_at=sent,
                        viewed_at=sent + dt.timedelta(microseconds=1),
                        responded_at=sent + dt.timedelta(days=3, hours=1, microseconds=2))
    db.add(referral)
    assert _stored(db, referral) == (1, 262_800_000_002, 262_800_000_002)
    db.execute(update(Referral).where(Referral.id == referral.id).values(
        status=ReferralStatus.DECLINED, decline_reason=DeclineReason.NO_CAPACITY,
        sent_at=sent - dt.timedelta(seconds=1, microseconds=999_999)))
    assert _stored(db, referral) == (2_000_000, 262_802_000_001, None)
    db.execute(update(Referral).where(Referral.id == referral.id).values(
        viewed_at=None, responded_at=None, decline_reason=None))
    assert _stored(db, referral) == (None, None, None)
