"""A member's inbox and outbox (the network's figures are in ``directory/reports``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from directory.accounts.models import User
from directory.db import db_session, utcnow
from directory.orgs.models import Organization
from directory.referrals.models import Referral, ReferralStatus, Urgency


@dataclass(frozen=True)
class BoxFilters:
    status: str = ""
    urgency: str = ""
    partner: str = ""
    max_age_days: int | None = None


def box(user: User, which: str, filters: BoxFilters, *, offset: int = 0,
        limit: int = 200) -> list[Referral]:
    """The user's inbox (received) or outbox (sent), newest first, ``limit`` from ``offset``."""
    org_ids = [m.organization_id for m in user.memberships if m.organization.is_active]
    own = Referral.receiver_org_id if which == "inbox" else Referral.sender_org_id
    partner_column = Referral.sender_org_id if which == "inbox" else Referral.receiver_org_id
    query = select(Referral).where(own.in_(org_ids))
    if which == "inbox":
        query = query.where(Referral.status != ReferralStatus.DRAFT)
    if filters.status in ReferralStatus._value2member_map_:
        query = query.where(Referral.status == filters.status)
    if filters.urgency in Urgency._value2member_map_:
        query = query.where(Referral.urgency == filters.urgency)
    if filters.partner:
        query = query.where(partner_column.in_(select(Organization.id).where(or_(
            Organization.slug == filters.partner,
            func.lower(Organization.name).contains(filters.partner.lower(), autoescape=True)))))
    if filters.max_age_days is not None:
        query = query.where(
            Referral.created_at >= utcnow() - dt.timedelta(days=filters.max_age_days))
    return list(db_session.scalars(
        query.order_by(Referral.created_at.desc(), Referral.id.desc()).offset(offset).limit(limit)
        .options(selectinload(Referral.sender), selectinload(Referral.receiver))))


@dataclass(frozen=True)
class Desk:
    """What needs a member now: received referrals not yet opened or past their deadline, and
    the referrals their organizations sent that wait for an answer. ``limit`` of each."""

    new: list[Referral]
    overdue: list[Referral]
    awaiting: list[Referral]


def desk(user: User, *, limit: int = 10, now: dt.datetime | None = None) -> Desk:
    now = now or utcnow()
    org_ids = [m.organization_id for m in user.memberships if m.organization.is_active]

    def waiting(column: Any, *conditions: Any) -> list[Referral]:
        return list(db_session.scalars(
            select(Referral).where(column.in_(org_ids), Referral.status == ReferralStatus.SENT,
                                   *conditions)
            .order_by(Referral.response_due_at, Referral.id).limit(limit)
            .options(selectinload(Referral.sender), selectinload(Referral.receiver))))

    return Desk(
        new=waiting(Referral.receiver_org_id, Referral.viewed_at.is_(None),
                    Referral.response_due_at >= now),
        overdue=waiting(Referral.receiver_org_id, Referral.response_due_at < now),
        awaiting=waiting(Referral.sender_org_id))


def network_overdue(now: dt.datetime | None = None) -> dict[str, int]:
    """Network-wide, by urgency: the referrals past their answer deadline (counts only)."""
    rows = db_session.execute(
        select(Referral.urgency, func.count())
        .where(Referral.status == ReferralStatus.SENT, Referral.response_due_at < (now or utcnow()))
        .group_by(Referral.urgency))
    counts = {urgency.value: 0 for urgency in Urgency}
    counts.update({urgency.value: count for urgency, count in rows})
    return counts
