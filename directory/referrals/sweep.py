"""The referral part of `directory sweep`: deadlines and retention.

Expires overdue referrals, warns receivers of near deadlines, and purges client data once its
purpose has passed; the de-identified record stays.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update

from directory.db import db_session, utcnow
from directory.referrals.errors import ReferralConflict
from directory.referrals.models import (
    FINAL_STATUSES,
    Consent,
    Referral,
    ReferralEvent,
    ReferralNote,
    ReferralStatus,
)
from directory.referrals.notifications import notify
from directory.referrals.operations import AUTOMATIC, transition

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    expired: list[str] = field(default_factory=list)
    due_soon: list[str] = field(default_factory=list)
    identifying_purged: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"expired": self.expired, "due_soon": self.due_soon,
                "identifying_purged": self.identifying_purged, "purged": self.purged}


def sweep(now: dt.datetime | None = None) -> SweepReport:
    """Expire overdue referrals, warn of near deadlines, purge client data past its purpose.

    Idempotent: each step selects only what it has not done yet, so running it again (or from
    two crons at once: the expiry is an optimistic-locked transition) changes nothing."""
    now = now or utcnow()
    result = SweepReport()
    overdue = db_session.scalars(select(Referral).where(
        Referral.status == ReferralStatus.SENT, Referral.response_due_at < now))
    for referral in overdue.all():
        try:
            with db_session.begin_nested():
                transition(None, referral, {"to": ReferralStatus.EXPIRED,
                                            "version": referral.version})
            result.expired.append(referral.public_id)
        except ReferralConflict:
            log.info("referral %s changed while expiring it; left alone", referral.public_id)
    _warn_due_soon(now, result)
    _purge_identifying(now, result)
    _purge_closed(now, result)
    return result


def _warn_due_soon(now: dt.datetime, result: SweepReport) -> None:
    """One warning per referral to its receiver, in the last quarter of its response window."""
    candidates = db_session.scalars(select(Referral).where(
        Referral.status == ReferralStatus.SENT, Referral.due_soon_notified_at.is_(None),
        Referral.response_due_at >= now)).all()
    for referral in candidates:
        assert referral.sent_at is not None and referral.response_due_at is not None
        window = referral.response_due_at - referral.sent_at
        if referral.response_due_at - now > window / 4:
            continue
        claimed = db_session.execute(
            update(Referral).where(Referral.id == referral.id,
                                   Referral.due_soon_notified_at.is_(None))
            .values(due_soon_notified_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount == 1:
            notify(referral, referral.receiver, "due_soon")
            result.due_soon.append(referral.public_id)


def _purge_identifying(now: dt.datetime, result: SweepReport) -> None:
    """Identifying details never outlive the consent that named them."""
    candidates = db_session.scalars(select(Referral).where(
        Referral.identifying_data.is_not(None))).all()
    for referral in candidates:
        consent = referral.consent
        if consent is None or consent.in_force(now):
            continue
        db_session.execute(update(Referral).where(Referral.id == referral.id)
                           .values(identifying_data=None)
                           .execution_options(synchronize_session=False))
        db_session.expire(referral, ["identifying_data"])
        db_session.add(ReferralEvent(referral_id=referral.id, kind="identifying_purged",
                                     actor_name=AUTOMATIC))
        result.identifying_purged.append(referral.public_id)
    db_session.flush()


def _purge_closed(now: dt.datetime, result: SweepReport) -> None:
    """Past the retention period after a referral ends (or after a draft was left unsent for
    DRAFT_RETENTION_DAYS), only the de-identified record stays: organizations, service,
    urgency, age range, states and times."""
    days = int(current_app.config["CLIENT_DATA_RETENTION_DAYS"])
    cutoff = now - dt.timedelta(days=days)
    # A draft (a redirect never sent) holds a copy of the client's details too.
    draft_cutoff = now - dt.timedelta(days=int(current_app.config["DRAFT_RETENTION_DAYS"]))
    ids = db_session.scalars(select(Referral.id).where(
        Referral.purged_at.is_(None),
        or_(and_(Referral.status.in_(FINAL_STATUSES), Referral.finished_at < cutoff),
            and_(Referral.status == ReferralStatus.DRAFT, Referral.created_at < draft_cutoff)))
    ).all()
    for referral_id in ids:
        db_session.execute(update(Referral).where(Referral.id == referral_id).values(
            client_data=None, identifying_data=None, purged_at=now)
            .execution_options(synchronize_session=False))
        # The consent's free text can name the client's circumstances ("Minor is pregnant").
        db_session.execute(update(Consent).where(Consent.referral_id == referral_id)
                           .values(purpose="", verbal_reason="", legal_basis="")
                           .execution_options(synchronize_session=False))
        db_session.execute(update(ReferralNote).where(ReferralNote.referral_id == referral_id)
                           .values(body=None).execution_options(synchronize_session=False))
        db_session.execute(update(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
                           .values(note=None).execution_options(synchronize_session=False))
        db_session.add(ReferralEvent(referral_id=referral_id, kind="purged",
                                     actor_name=AUTOMATIC))
        result.purged.append(db_session.scalar(
            select(Referral.public_id).where(Referral.id == referral_id)) or "")
    db_session.flush()
    if ids:
        db_session.expire_all()
