"""Deterministic synthetic referrals between the organizations already present, for benchmarks.

Rows go in with bulk Core inserts, not through ``create_referral``: a million referrals
through the operations (consent, encryption, timeline events) would take hours, and the
reports read only the plain columns. Synthetic referrals carry no client data, consent or
timeline. The same ``count``, ``random_seed`` and day give the same rows; the referrals are
spread over the ``days`` before today (UTC midnight).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text

from directory.db import db_session, utcnow
from directory.orgs.models import MembershipStatus, Organization, ServiceCategory
from directory.referrals.models import (
    AGE_RANGES,
    CLIENT_POPULATIONS,
    CloseOutcome,
    DeclineReason,
    Gender,
    Nationality,
    Referral,
    ReferralStatus,
    TraffickingType,
    Urgency,
)

BATCH_SIZE = 10_000
DEFAULT_DAYS = 3 * 365
URGENCY_WEIGHTS = {Urgency.ROUTINE: 60, Urgency.URGENT: 30, Urgency.EMERGENCY: 10}
RESPONSE_HOURS = {Urgency.ROUTINE: 72, Urgency.URGENT: 24, Urgency.EMERGENCY: 4}
Progress = Callable[[int], None]
# The coded grant-reporting fields (None: not recorded). Drawn from a generator of their own, so
# that the rest of a seed's referrals stay what they were before these fields existed.
REPORTING_WEIGHTS: dict[str, dict[object, int]] = {
    "trafficking_type": {None: 20, TraffickingType.SEX: 40, TraffickingType.LABOR: 20,
                         TraffickingType.BOTH: 8, TraffickingType.UNKNOWN: 6,
                         TraffickingType.NOT_ASKED: 4, TraffickingType.DECLINED: 2},
    "gender": {None: 15, Gender.FEMALE: 55, Gender.MALE: 22, Gender.TRANSGENDER: 3,
               Gender.NONBINARY: 2, Gender.OTHER: 1, Gender.NOT_ASKED: 1, Gender.DECLINED: 1},
    "nationality": {None: 20, Nationality.US: 55, Nationality.FOREIGN: 20,
                    Nationality.NOT_ASKED: 3, Nationality.DECLINED: 2},
    "population": {None: 60, **{code: 40 // len(CLIENT_POPULATIONS)
                                for code in CLIENT_POPULATIONS}},
}


@dataclass
class SyntheticReferrals:
    referrals: int
    skipped: bool


def public_id_prefix(random_seed: int) -> str:
    return f"syn{random_seed}-"


def generate_synthetic_referrals(count: int, random_seed: int, *, days: int = DEFAULT_DAYS,
                                 progress: Progress | None = None) -> SyntheticReferrals:
    """Insert ``count`` referrals between active organizations; a set already generated with
    the same seed is left as it is."""
    if count < 1:
        raise ValueError("Generate at least one referral.")
    prefix = public_id_prefix(random_seed)
    if db_session.scalar(select(Referral.id).where(Referral.public_id.startswith(prefix))):
        return SyntheticReferrals(0, skipped=True)
    organizations = list(db_session.scalars(select(Organization.id).where(
        Organization.status == MembershipStatus.ACTIVE).order_by(Organization.id)))
    if len(organizations) < 2:
        raise ValueError("Referrals need at least two active organizations "
                         "(`directory seed --synthetic N` first).")
    services = list(db_session.scalars(select(ServiceCategory.code).order_by(ServiceCategory.code)))
    if not services:
        raise ValueError("Load the services taxonomy first (`directory seed`).")
    rng = random.Random(random_seed)
    reporting_rng = random.Random(f"{random_seed}-reporting")
    # A few busy hubs and a long tail, as in a real network: Zipf-like weights on a shuffle.
    shuffled = organizations[:]
    rng.shuffle(shuffled)
    weights = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(shuffled))))
    end = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    next_id = (db_session.scalar(select(func.max(Referral.id))) or 0) + 1
    for batch_start in range(0, count, BATCH_SIZE):
        size = min(BATCH_SIZE, count - batch_start)
        rows = [_one_referral(rng, next_id + batch_start + n, prefix, shuffled, weights,
                              services, start, days, end)
                | _reporting_fields(reporting_rng)
                for n in range(size)]
        db_session.execute(insert(Referral), rows)
        if progress:
            progress(size)
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("SELECT setval(pg_get_serial_sequence('referrals', 'id'), "
                                "(SELECT COALESCE(MAX(id), 1) FROM referrals))"))
    return SyntheticReferrals(count, skipped=False)


def _reporting_fields(rng: random.Random) -> dict[str, Any]:
    return {name: rng.choices(list(weights), weights=list(weights.values()))[0]
            for name, weights in REPORTING_WEIGHTS.items()}


def _one_referral(rng: random.Random, referral_id: int, prefix: str, organizations: list[int],
                  weights: list[float], services: list[str], start: dt.datetime, days: int,
                  end: dt.datetime) -> dict[str, Any]:
    sender, receiver = rng.choices(organizations, cum_weights=weights, k=2)
    if sender == receiver:
        receiver = organizations[(organizations.index(receiver) + 1) % len(organizations)]
    urgency = rng.choices(list(URGENCY_WEIGHTS), weights=list(URGENCY_WEIGHTS.values()))[0]
    sent_at = start + dt.timedelta(seconds=rng.randrange(days * 86_400))
    due = sent_at + dt.timedelta(hours=RESPONSE_HOURS[urgency])
    row: dict[str, Any] = {
        "id": referral_id, "public_id": f"{prefix}{referral_id:09d}", "version": 1,
        "sender_org_id": sender, "receiver_org_id": receiver, "created_by_id": None,
        "redirected_from_id": None, "placement_id": None, "service": rng.choice(services),
        "urgency": urgency, "age_range": rng.choice(AGE_RANGES), "client_data": None,
        "identifying_data": None, "decline_reason": None, "outcome": None,
        "created_at": sent_at - dt.timedelta(minutes=rng.randrange(5, 240)), "sent_at": sent_at,
        "response_due_at": due, "viewed_at": None, "responded_at": None, "finished_at": None,
        "due_soon_notified_at": None, "purged_at": None, "status": ReferralStatus.SENT,
    }
    answer_hours = rng.lognormvariate(2.3, 1.1)  # median about ten hours, a long tail
    answered_at = sent_at + dt.timedelta(hours=answer_hours)
    if rng.random() < 0.93:
        row["viewed_at"] = sent_at + dt.timedelta(hours=answer_hours * rng.uniform(0.05, 0.9))
    draw = rng.random()
    if answered_at > end or (draw < 0.06 and due > end):
        if row["viewed_at"] is not None and row["viewed_at"] > end:
            row["viewed_at"] = None
        return row  # still waiting for an answer
    if draw < 0.06:
        row.update(status=ReferralStatus.EXPIRED, finished_at=due, viewed_at=None)
    elif draw < 0.09:
        row.update(status=ReferralStatus.WITHDRAWN, finished_at=answered_at)
    elif draw < 0.27:
        row.update(status=ReferralStatus.DECLINED, responded_at=answered_at,
                   finished_at=answered_at, decline_reason=rng.choices(
                       list(DeclineReason), weights=(50, 25, 15, 10))[0])
    else:
        row.update(status=ReferralStatus.ACCEPTED, responded_at=answered_at)
        finished = answered_at + dt.timedelta(days=rng.uniform(1, 60))
        outcome_draw = rng.random()
        if finished <= end and outcome_draw < 0.65:
            row.update(status=ReferralStatus.COMPLETED, finished_at=finished)
        elif finished <= end and outcome_draw < 0.9:
            row.update(status=ReferralStatus.CLOSED, finished_at=finished,
                       outcome=rng.choices(list(CloseOutcome), weights=(40, 25, 15, 10, 10))[0])
    return row
