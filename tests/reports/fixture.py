"""A small network with hand-computed figures (see the table in ``build``).

Referrals are written as rows with chosen timestamps (as the synthetic generator does): the
figures depend on when things happened, which the operations stamp with the present.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from directory.orgs.models import Organization, OrganizationKind
from directory.referrals.models import (
    CloseOutcome,
    DeclineReason,
    Referral,
    ReferralStatus,
    Urgency,
)
from directory.reports.operations import DateRange
from tests.factories import Factory

JANUARY = DateRange(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
NOW = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


@dataclass
class Network:
    a: Organization  # nonprofit
    b: Organization  # law enforcement
    c: Organization  # nonprofit


def _at(day: int, month: int = 1, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def _hours(start: dt.datetime, hours: float | None) -> dt.datetime | None:
    return None if hours is None else start + dt.timedelta(hours=hours)


def add_referral(db: Session, sender: Organization, receiver: Organization, sent: dt.datetime,
                 status: ReferralStatus, *, viewed: float | None = None,
                 answered: float | None = None, service: str = "case_management",
                 urgency: Urgency = Urgency.URGENT, decline_reason: DeclineReason | None = None,
                 outcome: CloseOutcome | None = None) -> Referral:
    referral = Referral(sender_org_id=sender.id, receiver_org_id=receiver.id, service=service,
                        urgency=urgency, age_range="18-24", status=status, sent_at=sent,
                        response_due_at=sent + dt.timedelta(hours=24),
                        viewed_at=_hours(sent, viewed), responded_at=_hours(sent, answered),
                        decline_reason=decline_reason, outcome=outcome)
    db.add(referral)
    return referral


def build(factory: Factory, db: Session) -> Network:
    """In January 2026 (``NOW``: February 1st):

    ====  =====  ========  ======  ========  =========================
    ref   route  sent      viewed  answered  status
    ====  =====  ========  ======  ========  =========================
    r1    A->B   Jan 5     +1 h    +2 h      completed
    r2    A->B   Jan 6     +4 h    +10 h     closed (could not contact)
    r3    A->B   Jan 7     +1 h    +60 h     declined (no capacity)
    r4    C->B   Jan 8     -       +30 h     accepted (shelter, emergency)
    r5    B->A   Jan 9     -       -         sent, overdue since Jan 10
    r6    B->C   Jan 10    -       -         expired
    r7    A->C   Dec 20    +1 h    +5 h      completed (previous range)
    ====  =====  ========  ======  ========  =========================
    """
    network = Network(factory.organization(kind=OrganizationKind.NONPROFIT),
                      factory.organization(kind=OrganizationKind.LAW_ENFORCEMENT),
                      factory.organization(kind=OrganizationKind.NONPROFIT))
    a, b, c = network.a, network.b, network.c
    S = ReferralStatus
    add_referral(db, a, b, _at(5), S.COMPLETED, viewed=1, answered=2)
    add_referral(db, a, b, _at(6), S.CLOSED, viewed=4, answered=10,
                 outcome=CloseOutcome.COULD_NOT_CONTACT)
    add_referral(db, a, b, _at(7), S.DECLINED, viewed=1, answered=60,
                 decline_reason=DeclineReason.NO_CAPACITY)
    add_referral(db, c, b, _at(8), S.ACCEPTED, answered=30, service="shelter",
                 urgency=Urgency.EMERGENCY)
    add_referral(db, b, a, _at(9), S.SENT)
    add_referral(db, b, c, _at(10), S.EXPIRED)
    add_referral(db, a, c, _at(20, 12, 2025), S.COMPLETED, viewed=1, answered=5)
    db.flush()
    return network
