"""The public transparency page's figures (``DIRECTORY_PUBLIC_REPORT``): the network's size by
kind and state, and referral volume, answer times and the closed-loop rate by quarter.

Everything is suppressed as for a coordinator's report (no viewer has an organization of its
own here), and no organization is named: the quarterly figures are network totals, with the
dashboard's definitions (``operations.counts`` and ``operations.timings``) in one query
grouped by quarter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from directory.db import db_session, utcnow
from directory.geo.states import STATES
from directory.orgs.models import Location, Organization, OrganizationKind
from directory.referrals.models import Referral, ReferralStatus
from directory.reports import partners
from directory.reports.operations import DateRange, Scope, hours
from directory.reports.sql import median_and_p90, quarter_key, utc_quarter
from directory.reports.suppression import rate, shown, suppress
from directory.reports.tables import HIDDEN, Cell, Column, ColumnKind, Row, Table

QUARTERS = 8
NO_STATE = "none"


def _cell(value: int | None) -> Cell:
    return HIDDEN if value is None else value


def _state_label(state: str) -> str:
    if state == NO_STATE:
        return _("No location listed")
    if state == partners.NOT_PLACED:
        return _("Confidential location, state not shown")
    return STATES.get(state, state)


def network_size(min_count: int) -> Table:
    """Active members by kind and by the state of their first listed location; a
    confidential one counts in the state of its public point (its city's centre), as in
    partners by state, never in the state recorded with it."""
    first = (select(Location.organization_id, func.min(Location.id).label("location_id"))
             .group_by(Location.organization_id).subquery())
    hidden = Location.confidential.is_(True)
    # A confidential location's recorded state stays out of the query: its public point is
    # grouped instead (one city centre for many locations) and placed below.
    state = case((hidden, None), else_=Location.state)
    latitude, longitude = (case((hidden, Location.latitude), else_=None),
                           case((hidden, Location.longitude), else_=None))
    query = (select(Organization.kind, state, latitude, longitude, func.count())
             .select_from(Organization)
             .outerjoin(first, first.c.organization_id == Organization.id)
             .outerjoin(Location, Location.id == first.c.location_id)
             .where(Organization.is_active)
             .group_by(Organization.kind, state, latitude, longitude))
    found: dict[tuple[str, str], int] = {}
    for kind, recorded, lat, lon, count in db_session.execute(query):
        placed = partners.public_state(lat, lon) if lat is not None else recorded or NO_STATE
        key = (OrganizationKind(kind).value, placed)
        found[key] = found.get(key, 0) + count
    kinds = [kind for kind in OrganizationKind if any(k == kind.value for k, _ in found)]
    states = sorted({state for _, state in found},
                    key=lambda s: (s not in STATES, s == NO_STATE, s))
    grid = suppress([[found.get((kind.value, state), 0) for kind in kinds] for state in states],
                    min_count)
    return Table(
        "network_size", _("Member organizations by kind and state"), _("State"),
        [*(Column(kind.value, kind.label, measure=_("active members: %(kind)s", kind=kind.label))
           for kind in kinds), Column("total", _("Total"), measure=_("active members"))],
        [Row(state, _state_label(state), [*map(_cell, grid.cells[n]), _cell(grid.row_totals[n])])
         for n, state in enumerate(states)],
        Row("total", _("All states"), [*map(_cell, grid.column_totals), _cell(grid.total)])
        if states else None,
        note=_("Each member is counted once, in the state of its first listed location; a "
               "confidential location in the state of its public point (its city's centre)."))


def quarters(today: dt.date, count: int = QUARTERS) -> list[tuple[str, DateRange]]:
    """The last ``count`` calendar quarters, oldest first; the current one runs to ``today``."""
    start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    found = []
    for n in range(count):
        end = today if n == 0 else _next_quarter(start) - dt.timedelta(days=1)
        quarter = (start.month - 1) // 3 + 1
        label = (_("%(year)s Q%(quarter)s (to date)", year=start.year, quarter=quarter)
                 if n == 0 else _("%(year)s Q%(quarter)s", year=start.year, quarter=quarter))
        found.append((label, DateRange(start, end)))
        start = _previous_quarter(start)
    return found[::-1]


def _next_quarter(start: dt.date) -> dt.date:
    return dt.date(start.year + 1, 1, 1) if start.month == 10 else dt.date(
        start.year, start.month + 3, 1)


def _previous_quarter(start: dt.date) -> dt.date:
    return dt.date(start.year - 1, 10, 1) if start.month == 1 else dt.date(
        start.year, start.month - 3, 1)


def quarter_columns() -> list[Column]:
    """The quarterly table's columns, labelled in the reader's language."""
    return [
        Column("sent", _("Referrals sent"), measure=_("referrals sent")),
        Column("answer_median", _("Time to an answer, median"), ColumnKind.HOURS,
               _("time to an answer (median, hours)")),
        Column("closed_loop", _("Closed loop"), ColumnKind.RATE,
               _("closed-loop rate (an outcome recorded)")),
    ]


def quarterly(min_count: int, today: dt.date | None = None) -> Table:
    """Sent, the median time to an answer and the closed-loop rate of each of the last
    ``QUARTERS`` quarters, in one query grouped by the quarter of sending (UTC)."""
    periods = quarters(today or utcnow().date())
    closed = Referral.status.in_([ReferralStatus.COMPLETED, ReferralStatus.CLOSED])
    quarter = utc_quarter(Referral.sent_at)
    query = (select(quarter.label("quarter"), func.count().label("sent"),
                    func.sum(case((closed, 1), else_=0)).label("closed_loop"),
                    func.count(Referral.answered_after_us).label("answered"),
                    median_and_p90(Referral.answered_after_us)
                    .label("answer_times"))
             .where(*Scope(DateRange(periods[0][1].start, periods[-1][1].end)).where())
             .group_by(quarter))
    found = {row.quarter: row for row in db_session.execute(query)}
    rows = []
    for label, period in periods:
        row = found.get(quarter_key(period.start.year, period.start.month))
        sent, closed_loop = (row.sent, row.closed_loop or 0) if row else (0, 0)
        median = (hours(row.answer_times[0])
                  if row and row.answer_times and row.answered >= min_count else None)
        rows.append(Row(period.start.isoformat(), label, [
            _cell(shown(sent, min_count)), median, rate(closed_loop, sent, min_count)]))
    return Table("quarters", _("Referrals by quarter"), _("Quarter"), quarter_columns(), rows,
                 note=_("Quarters of the calendar, by the day a referral was sent (UTC). Times "
                        "are in hours from sending; a time or rate over fewer referrals than "
                        "the threshold is not shown."))


@dataclass
class PublicReport:
    tables: list[Table] = field(default_factory=list)

    def table(self, slug: str) -> Table | None:
        return next((table for table in self.tables if table.slug == slug), None)


def public_report(min_count: int, today: dt.date | None = None) -> PublicReport:
    return PublicReport([network_size(min_count), quarterly(min_count, today)])
