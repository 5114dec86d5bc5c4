"""Freshness of listings: the organization's own confirmation that its listing is current
(apart from a coordinator's verification), and the reminders when it grows old.

A listing is *stale* when it was not confirmed (or, never confirmed, not created) within the
review period (DIRECTORY_LISTING_REVIEW_DAYS). The sweep mails its admins once, and again
REMIND_AGAIN_AFTER later; confirming starts the count over.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from directory.accounts.models import MemberRole, Membership, User
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, utcnow
from directory.i18n import recipient_language
from directory.mail.operations import MailError, external_url, queue_mail
from directory.orgs.models import ListingReview, MembershipStatus, Organization

log = logging.getLogger(__name__)

REMIND_AGAIN_AFTER = dt.timedelta(days=30)
AUTOMATIC_REMINDERS = 2


def _review_of(organization: Organization) -> ListingReview:
    if organization.review is None:
        organization.review = ListingReview(organization_id=organization.id, reminders=0)
    return organization.review


def confirm_listing(actor: User, organization: Organization,
                    now: dt.datetime | None = None) -> None:
    """Record the organization's word that its listing is current, and stop the reminders."""
    review = _review_of(organization)
    review.confirmed_at, review.confirmed_by_id = now or utcnow(), actor.id
    review.reminded_at, review.reminders = None, 0
    db_session.flush()
    record(AuditAction.LISTING_CONFIRMED, actor=actor, organization=organization)


@dataclass(frozen=True)
class StaleListing:
    organization: Organization
    since: dt.datetime  # last confirmed, or created when never confirmed
    confirmed: bool
    reminders: int
    reminded_at: dt.datetime | None

    def days(self, now: dt.datetime | None = None) -> int:
        return ((now or utcnow()) - self.since).days


# When a listing was last confirmed, or created when never confirmed.
_since_confirmed = func.coalesce(ListingReview.confirmed_at, Organization.created_at)


def _stale(query: Select[Any], review_days: int, now: dt.datetime | None) -> Select[Any]:
    """``query`` limited to the active listings not confirmed within ``review_days``."""
    return (query.outerjoin(ListingReview, ListingReview.organization_id == Organization.id)
            .where(Organization.status == MembershipStatus.ACTIVE,
                   _since_confirmed < (now or utcnow()) - dt.timedelta(days=review_days)))


def count_stale_listings(review_days: int, now: dt.datetime | None = None) -> int:
    return db_session.scalar(
        _stale(select(func.count()).select_from(Organization), review_days, now)) or 0


def stale_listings(review_days: int, now: dt.datetime | None = None) -> list[StaleListing]:
    """Active listings not confirmed within ``review_days``, the oldest first."""
    rows = db_session.execute(
        _stale(select(Organization, _since_confirmed), review_days, now)
        .order_by(_since_confirmed, Organization.name)).all()
    return [StaleListing(
        organization=organization, since=_aware(moment),
        confirmed=organization.confirmed_at is not None,
        reminders=organization.review.reminders if organization.review else 0,
        reminded_at=organization.review.reminded_at if organization.review else None)
        for organization, moment in rows]


def _aware(moment: dt.datetime | str) -> dt.datetime:
    """COALESCE loses the column type on SQLite: its value comes back naive, or as text."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def admins_of(organization: Organization) -> list[User]:
    return list(db_session.scalars(
        select(User).join(Membership)
        .where(Membership.organization_id == organization.id,
               Membership.role == MemberRole.ADMIN, User.active.is_(True))
        .order_by(User.id)))


def send_reminder(organization: Organization, review_days: int, *,
                  actor: User | None = None, now: dt.datetime | None = None) -> int:
    """Mail the organization's admins that its listing needs a look; returns how many were
    mailed, each in their own language. ``actor``: the coordinator who asked, or None for the
    sweep."""
    now = now or utcnow()
    admins = admins_of(organization)
    try:
        link = external_url("listing.edit", slug=organization.slug)
    except MailError:
        link = None  # the sweep without DIRECTORY_BASE_URL: the message names the page
    for admin in admins:
        with recipient_language(admin):
            queue_mail(admin.email,
                       _("Is the listing of %(name)s still current?", name=organization.name),
                       render_template("orgs/mail/review_reminder.txt", organization=organization,
                                       link=link, review_days=review_days))
    review = _review_of(organization)
    review.reminded_at, review.reminders = now, review.reminders + 1
    db_session.flush()
    record(AuditAction.LISTING_REMINDER_SENT, actor=actor, organization=organization,
           details={"admins": len(admins)})
    return len(admins)


@dataclass
class ReminderReport:
    stale: int = 0
    first: int = 0  # listings reminded for the first time
    second: int = 0  # ... and again, REMIND_AGAIN_AFTER later
    without_admin: int = 0  # stale listings with no active admin to mail
    mailed: list[str] = field(default_factory=list)  # slugs

    def as_dict(self) -> dict[str, Any]:
        return {"stale": self.stale, "first": self.first, "second": self.second,
                "without_admin": self.without_admin}


def remind_stale_listings(review_days: int, now: dt.datetime | None = None) -> ReminderReport:
    """The sweep's part: remind each stale listing's admins once, then once more."""
    now = now or utcnow()
    report = ReminderReport()
    for stale in stale_listings(review_days, now):
        report.stale += 1
        due = stale.reminders == 0 or (
            stale.reminders < AUTOMATIC_REMINDERS and stale.reminded_at is not None
            and now - stale.reminded_at >= REMIND_AGAIN_AFTER)
        if not due:
            continue
        if not admins_of(stale.organization):
            report.without_admin += 1
            continue
        send_reminder(stale.organization, review_days, now=now)
        report.mailed.append(stale.organization.slug)
        if stale.reminders == 0:
            report.first += 1
        else:
            report.second += 1
    log.info("listing reminders: %s", report.as_dict())
    return report
