"""The aggregate queries behind the reports: counts, rates and timings, all computed in SQL.

Every function takes a ``Scope`` (a date range of sending, and optionally one organization's
side) and returns plain numbers keyed by a dimension value; nothing here reads a client
detail, and nothing returns a referral. Suppression is applied afterwards (``tables.py``).
Percentiles are nearest-rank (the value at rank ceil(p * n)), computed by one aggregate that
SQLite and PostgreSQL answer alike (``sql.median_and_p90``). Every query reads the range of
``ix_referrals_report``, which holds all the columns they need, the organizations' kinds
included (copied onto each referral by triggers), so that no query reads the tables. Times
are read from each referral's stored waits in microseconds (``Referral.*_after_us``, kept by
triggers from the timestamps, migration 0019), never computed from the timestamps per row. On
SQLite, which groups through a sort unless an index gives the rows in group order, the
breakdowns by kind, service and urgency read an index led by that dimension instead
(``ix_referrals_by_*``, a skip-scan of the range per value), and the referrals one
organization received are read from ``ix_referrals_received``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.expression import ColumnElement

from directory.db import db_session, utcnow
from directory.orgs.models import Organization
from directory.referrals.models import Referral, ReferralStatus
from directory.reports.sql import median_and_p90, utc_day, utc_month

MAX_RANGE_DAYS = 3_660
# Beyond this many days the status chart counts by month instead of by day.
DAILY_UP_TO_DAYS = 62
MATCHED_WITHIN_HOURS = 48
US_PER_HOUR = 3_600_000_000
ALL = "all"


class Dimension(enum.StrEnum):
    NETWORK = "network"
    ORGANIZATION = "organization"  # the receiving organization: answers are the receiver's
    KIND = "kind"  # of the receiving organization
    SERVICE = "service"
    URGENCY = "urgency"

    @property
    def label(self) -> str:
        return {"network": _("Whole network"), "organization": _("Receiving organization"),
                "kind": _("Receiving organization's kind"), "service": _("Service"),
                "urgency": _("Urgency")}[self.value]

    @property
    def heading(self) -> str:
        """The dashboard's heading over the breakdown by this dimension."""
        return {"network": _("By whole network"), "organization": _("By receiving organization"),
                "kind": _("By receiving organization's kind"), "service": _("By service"),
                "urgency": _("By urgency")}[self.value]


class Side(enum.StrEnum):
    SENT = "sent"
    RECEIVED = "received"


class Timing(enum.StrEnum):
    """A referral's waits, each measured from the moment it was sent."""

    FIRST_VIEW = "first_view"
    ANSWER = "answer"
    ACCEPTANCE = "acceptance"

    @property
    def label(self) -> str:
        return {"first_view": _("Time to first view"), "answer": _("Time to an answer"),
                "acceptance": _("Time to acceptance")}[self.value]


@dataclass(frozen=True)
class DateRange:
    """Days ``start`` to ``end``, both included, in UTC."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(_("The end of the range comes before its start."))
        if self.days > MAX_RANGE_DAYS:
            raise ValueError(_("A range may span at most %(days)s days.", days=MAX_RANGE_DAYS))

    @classmethod
    def last(cls, days: int, today: dt.date | None = None) -> DateRange:
        end = today or utcnow().date()
        return cls(end - dt.timedelta(days=days - 1), end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        """Exclusive: midnight after the last day."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), dt.UTC)

    def previous(self) -> DateRange:
        """The range of the same length just before this one."""
        return DateRange(self.start - dt.timedelta(days=self.days),
                         self.start - dt.timedelta(days=1))

    def periods(self) -> list[str]:
        """The chart's periods: days for a short range, months for a long one."""
        if self.days <= DAILY_UP_TO_DAYS:
            return [(self.start + dt.timedelta(days=n)).isoformat() for n in range(self.days)]
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month.isoformat()[:7])
            month = (month + dt.timedelta(days=32)).replace(day=1)
        return months


@dataclass(frozen=True)
class Scope:
    """Referrals sent within ``period``; with ``organization``, only those it sent or received
    (``side``; both when None)."""

    period: DateRange
    organization_id: int | None = None
    side: Side | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [Referral.sent_at >= self.period.start_at,
                                              Referral.sent_at < self.period.end_at]
        if self.organization_id is not None:
            sent = Referral.sender_org_id == self.organization_id
            received = Referral.receiver_org_id == self.organization_id
            clauses.append(sent if self.side == Side.SENT else received
                           if self.side == Side.RECEIVED else or_(sent, received))
        return clauses


def _key(dimension: Dimension) -> ColumnElement[Any]:
    return {
        Dimension.NETWORK: literal(ALL),
        Dimension.ORGANIZATION: Referral.receiver_org_id,
        Dimension.KIND: Referral.receiver_kind,
        Dimension.SERVICE: Referral.service,
        Dimension.URGENCY: Referral.urgency,
    }[dimension]


def _grouped(query: Select[Any], dimension: Dimension) -> Select[Any]:
    query = query.select_from(Referral)
    if dimension != Dimension.NETWORK:
        query = query.group_by(_key(dimension))
    return query


def _text(value: Any) -> str:
    return str(value.value if isinstance(value, enum.Enum) else value)


@dataclass
class Counts:
    """One group's counts: by current status, and the measures derived from the timestamps."""

    sent: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    accepted: int = 0  # ever accepted (a later withdrawal or outcome included)
    matched_48h: int = 0  # accepted within MATCHED_WITHIN_HOURS of sending
    overdue: int = 0  # still unanswered past the response deadline

    @property
    def declined(self) -> int:
        return self.by_status.get(ReferralStatus.DECLINED, 0)

    @property
    def expired(self) -> int:
        return self.by_status.get(ReferralStatus.EXPIRED, 0)

    @property
    def closed_loop(self) -> int:
        """Hand-offs that reached a recorded outcome: completed, or closed with a reason."""
        return (self.by_status.get(ReferralStatus.COMPLETED, 0)
                + self.by_status.get(ReferralStatus.CLOSED, 0))


REPORTED_STATUSES = [status for status in ReferralStatus if status != ReferralStatus.DRAFT]


def acceptance_columns() -> list[ColumnElement[Any]]:
    """``Counts.accepted`` and ``Counts.matched_48h``, as aggregate columns of those names
    (from the stored wait, NULL unless accepted: no timestamp arithmetic per row)."""
    waited = Referral.accepted_after_us
    return [func.count(waited).label("accepted"),
            func.sum(case((waited <= MATCHED_WITHIN_HOURS * US_PER_HOUR, 1),
                          else_=0)).label("matched_48h")]


def _count_columns(now: dt.datetime | None) -> list[ColumnElement[Any]]:
    """A group's ``Counts``, as aggregate columns named after their fields."""
    return [func.count().label("sent"),
            *(func.sum(case((Referral.status == status, 1), else_=0))
              .label(f"status_{status}") for status in REPORTED_STATUSES),
            *acceptance_columns(),
            func.sum(case((and_(Referral.status == ReferralStatus.SENT,
                                Referral.response_due_at < (now or utcnow())), 1),
                          else_=0)).label("overdue")]


def _only_receivers(dimension: Dimension,
                    receivers: list[int] | None) -> list[ColumnElement[bool]]:
    """By organization, the condition to group only ``receivers`` (the rows a report shows),
    when given."""
    if receivers is None or dimension != Dimension.ORGANIZATION:
        return []
    return [Referral.receiver_org_id.in_(receivers)]


def _counts_of(row: Any) -> Counts:
    return Counts(sent=row["sent"] or 0,
                  by_status={s.value: row[f"status_{s}"] or 0 for s in REPORTED_STATUSES},
                  accepted=row["accepted"] or 0, matched_48h=row["matched_48h"] or 0,
                  overdue=row["overdue"] or 0)


def counts(scope: Scope, dimension: Dimension, now: dt.datetime | None = None,
           only: list[int] | None = None) -> dict[str, Counts]:
    """Counts per dimension value, in one pass over the scope's referrals; by organization,
    only for the receivers ``only`` when given."""
    query = _grouped(select(_key(dimension).label("key"), *_count_columns(now))
                     .where(*scope.where(), *_only_receivers(dimension, only)), dimension)
    return {_text(row["key"]): _counts_of(row)
            for row in db_session.execute(query).mappings() if row["sent"]}


@dataclass
class Busiest:
    """The receivers that get a row of their own (busiest first, ties by their id as text),
    and the sum of all the others with their number."""

    kept: dict[str, Counts]
    other: Counts
    others: int


def busiest_receivers(scope: Scope, limit: int, min_count: int, own: Collection[str] = (),
                      now: dt.datetime | None = None) -> Busiest:
    """Counts by receiving organization for the rows a report shows: every receiver of ``own``
    (a viewer's own), then the busiest others that reach ``min_count``, ``limit`` rows in all
    (at least the own ones), and one sum of every other receiver. The same choice as
    ``suppression.group_rare`` over ``counts(scope, Dimension.ORGANIZATION)``, made in SQL:
    grouping 100,000 receivers to return every one was most of the by-organization report's
    time at scale.

    Three small answers instead of every receiver's counts: the chosen receivers (from each
    receiver's number alone) and how many there are, the chosen ones' counts, and the scope's
    totals, of which "Other" is what the chosen ones leave."""
    own_ids = [int(key) for key in own if key.isdigit()]
    per = (select(Referral.receiver_org_id.label("key"), func.count().label("sent"))
           .where(*scope.where()).group_by(Referral.receiver_org_id).cte("per_receiver"))
    is_own = per.c.key.in_(own_ids) if own_ids else false()
    # Busiest first, ties by their id as text (the order group_rare sorts keys in).
    busiest = (select(per.c.key).where(~is_own, per.c.sent >= min_count)
               .order_by(per.c.sent.desc(), cast(per.c.key, String))
               .limit(max(0, limit - len(own))).subquery("busiest"))
    none = cast(null(), Integer)  # typed: PostgreSQL matches a union's columns' types
    query = union_all(select(busiest.c.key, none.label("receivers")),
                      select(per.c.key, none).where(is_own),
                      select(none, func.count()).select_from(per))
    chosen: list[int] = []
    receivers = 0
    for key, number in db_session.execute(query):
        if key is None:
            receivers = number
        else:
            chosen.append(key)
    kept = counts(scope, Dimension.ORGANIZATION, now, only=chosen) if chosen else {}
    result = Busiest(dict(sorted(kept.items(), key=lambda item: (-item[1].sent, item[0]))),
                     Counts(), receivers - len(kept))
    if result.others:
        result.other = _less(counts(scope, Dimension.NETWORK, now).get(ALL, Counts()),
                             kept.values())
    return result


def _less(total: Counts, parts: Iterable[Counts]) -> Counts:
    left = Counts(total.sent, dict(total.by_status), total.accepted, total.matched_48h,
                  total.overdue)
    for part in parts:
        left.sent -= part.sent
        left.accepted -= part.accepted
        left.matched_48h -= part.matched_48h
        left.overdue -= part.overdue
        for status, value in part.by_status.items():
            left.by_status[status] -= value
    return left


@dataclass(frozen=True)
class Percentiles:
    count: int
    median: float
    p90: float


def waited(timing: Timing) -> ColumnElement[int | None]:
    """The stored wait of ``timing`` in microseconds (NULL until it ended), kept by triggers
    from the timestamps (migration 0019)."""
    return {Timing.FIRST_VIEW: Referral.viewed_after_us, Timing.ANSWER: Referral.answered_after_us,
            Timing.ACCEPTANCE: Referral.accepted_after_us}[timing]


def hours(microseconds: float) -> float:
    """A wait in hours, the same double as Python's ``timedelta.total_seconds() / 3600``."""
    return microseconds / 1_000_000 / 3600


def timings(scope: Scope, dimension: Dimension, timing: Timing,
            organizations: list[int] | None = None) -> dict[str, Percentiles]:
    """Median and 90th percentile of ``timing`` in hours, per dimension value; by
    organization, only for ``organizations`` when given (the rows shown: ranking every
    receiver's times was most of the by-organization report's time at scale)."""
    wait = waited(timing)
    query = _grouped(select(_key(dimension).label("key"), func.count().label("n"),
                            median_and_p90(wait).label("ranks"))
                     .where(*scope.where(), wait.is_not(None),
                            *_only_receivers(dimension, organizations)), dimension)
    return {_text(key): Percentiles(n, hours(ranks[0]), hours(ranks[1]))
            for key, n, ranks in db_session.execute(query) if n}


def over_time(scope: Scope) -> dict[str, dict[str, int]]:
    """Referrals sent per period (day or month, see ``DateRange.periods``) by current status."""
    daily = scope.period.days <= DAILY_UP_TO_DAYS
    period = utc_day(Referral.sent_at) if daily else utc_month(Referral.sent_at)
    query = (select(period.label("period"), Referral.status, func.count())
             .where(*scope.where()).group_by(period, Referral.status))
    result: dict[str, dict[str, int]] = {}
    for period_value, status, count in db_session.execute(query):
        result.setdefault(period_value, {})[_text(status)] = count
    return result


# The two queries below group every status of the range and keep theirs afterwards: with the
# status in the WHERE clause a planner may read the status index (most of the table, since most
# referrals end completed or closed) instead of the range of ``ix_referrals_report``.

def decline_reasons(scope: Scope) -> dict[str, int]:
    query = (select(Referral.status, Referral.decline_reason, func.count())
             .where(*scope.where()).group_by(Referral.status, Referral.decline_reason))
    return {_text(reason): count for status, reason, count in db_session.execute(query)
            if reason and status == ReferralStatus.DECLINED}


def outcomes(scope: Scope) -> dict[str, int]:
    """Completed, and closed by each outcome (keys ``completed`` and the outcome codes)."""
    query = (select(Referral.status, Referral.outcome, func.count())
             .where(*scope.where()).group_by(Referral.status, Referral.outcome))
    result: dict[str, int] = {}
    for status, outcome, count in db_session.execute(query):
        if status not in (ReferralStatus.COMPLETED, ReferralStatus.CLOSED):
            continue
        key = "completed" if status == ReferralStatus.COMPLETED else _text(outcome or "unknown")
        result[key] = result.get(key, 0) + count
    return result


def kind_flows(scope: Scope) -> dict[tuple[str, str], int]:
    """Referrals from each kind of organization to each kind."""
    query = (select(Referral.sender_kind, Referral.receiver_kind, func.count())
             .where(*scope.where()).group_by(Referral.sender_kind, Referral.receiver_kind))
    return {(_text(a), _text(b)): count for a, b, count in db_session.execute(query)}


def busiest(scope: Scope, side: Side, limit: int) -> dict[int, int]:
    """The ``limit`` organizations that sent (or received) most in the scope: id -> count."""
    column = Referral.sender_org_id if side == Side.SENT else Referral.receiver_org_id
    query = (select(column, func.count().label("n")).where(*scope.where()).group_by(column)
             .order_by(func.count().desc(), column).limit(limit))
    return dict(db_session.execute(query).all())  # type: ignore[arg-type]


def organization_flows(scope: Scope, senders: list[int],
                       receivers: list[int]) -> dict[tuple[int, int], int]:
    """Referrals between the named organizations; all others are folded into id 0."""
    sender = case((Referral.sender_org_id.in_(senders), Referral.sender_org_id), else_=0)
    receiver = case((Referral.receiver_org_id.in_(receivers), Referral.receiver_org_id),
                    else_=0)
    query = (select(sender, receiver, func.count()).where(*scope.where())
             .group_by(sender, receiver))
    return {(a, b): count for a, b, count in db_session.execute(query)}


def organization_names(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db_session.execute(  # type: ignore[arg-type]
        select(Organization.id, Organization.name).where(Organization.id.in_(ids))).all())
