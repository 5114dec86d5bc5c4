"""`directory sweep`: what the directory does on a schedule, in one transaction.

Referral deadlines and client-data retention are the referrals domain's (see
referrals/sweep.py); the rest is deleting records that stopped working a while ago:
browser sessions, mailed links, invitations, API tokens and delivered mail. Each domain
deletes its own rows; this module only decides when and puts the report together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from directory.accounts.membership import purge_invitations
from directory.accounts.operations import purge_account_tokens
from directory.accounts.sessions import purge_sessions
from directory.api.operations import purge_tokens
from directory.db import utcnow
from directory.mail.operations import purge_sent
from directory.orgs.freshness import ReminderReport, remind_stale_listings
from directory.referrals.sweep import SweepReport as ReferralSweepReport
from directory.referrals.sweep import sweep as sweep_referrals

# How long a session, link, token or delivered message is kept once it stopped working: long
# enough to answer "who signed in from where last week", short enough not to keep a history.
EXPIRED_RECORD_RETENTION = dt.timedelta(days=30)


@dataclass
class SweepReport:
    referrals: ReferralSweepReport
    # Rows deleted, by kind; every kind is present, 0 when nothing was due.
    deleted: dict[str, int] = field(default_factory=dict)
    listings: ReminderReport = field(default_factory=ReminderReport)

    def as_dict(self) -> dict[str, Any]:
        return self.referrals.as_dict() | {"deleted": dict(self.deleted),
                                           "listing_reminders": self.listings.as_dict()}


def purge_expired_records(now: dt.datetime) -> dict[str, int]:
    """Delete what stopped working more than EXPIRED_RECORD_RETENTION before ``now``."""
    before = now - EXPIRED_RECORD_RETENTION
    return {
        "sessions": purge_sessions(before),
        "account_tokens": purge_account_tokens(before),
        "invitations": purge_invitations(before),
        "api_tokens": purge_tokens(before),
        "sent_mail": purge_sent(before),
    }


def sweep(now: dt.datetime | None = None) -> SweepReport:
    """Everything `directory sweep` does; idempotent, the caller commits once."""
    now = now or utcnow()
    return SweepReport(referrals=sweep_referrals(now), deleted=purge_expired_records(now),
                       listings=remind_stale_listings(
                           int(current_app.config["LISTING_REVIEW_DAYS"]), now))
