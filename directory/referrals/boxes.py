"""A member's inbox and outbox (the network's figures are in ``directory/reports``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
