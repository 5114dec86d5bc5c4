"""The report's tables: query results turned into labelled rows, with suppression applied.

Each table is what the page prints, the chart draws and the CSV holds: one object, so the
three can never disagree about what is hidden. A cell is a number, ``HIDDEN`` (a small count,
printed "fewer than N") or None (not shown: a rate or time over too few referrals, or
nothing to measure).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import select

from directory.db import db_session
from directory.orgs.models import OrganizationKind, ServiceCategory, category_label
from directory.referrals.models import CloseOutcome, DeclineReason, Urgency
from directory.reports import operations as ops
from directory.reports.operations import Counts, Dimension, Scope, Side, Timing
from directory.reports.suppression import group_rare, rate, shown, suppress

ORGANIZATION_ROWS = 25  # the busiest receivers get a row; the rest are "other"
FLOW_ORGANIZATIONS = 10


class Hidden(enum.Enum):
    HIDDEN = "hidden"


HIDDEN = Hidden.HIDDEN
Cell = int | float | str | Hidden | None


class ColumnKind(enum.StrEnum):
    COUNT = "count"
    RATE = "rate"  # a share from 0 to 1
    HOURS = "hours"
    TEXT = "text"  # a label, such as a county's state


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: ColumnKind = ColumnKind.COUNT
    measure: str = ""  # what the column serves, for the CSV header's second line


@dataclass
class Row:
    key: str
    label: str
    cells: list[Cell]
    own: bool = False


@dataclass
class Table:
    slug: str
    title: str
    row_header: str
    columns: list[Column]
    rows: list[Row]
    totals: Row | None = None
    note: str = ""

    def column(self, key: str) -> list[Cell]:
        index = [column.key for column in self.columns].index(key)
        return [row.cells[index] for row in self.rows]


@dataclass(frozen=True)
class Viewer:
    """Who reads the table: the suppression threshold, and the organizations whose own
    figures they may see unsuppressed (an admin's organization; none for a coordinator)."""

    min_count: int
    own: frozenset[str] = field(default_factory=frozenset)
    name_organizations: bool = True  # the public page names none

    def is_own(self, key: str) -> bool:
        return key in self.own


def _cell(value: int | None) -> Cell:
    return HIDDEN if value is None else value


OTHER_KEY = "other"


def dimension_labels(dimension: Dimension, keys: Collection[str],
                     viewer: Viewer) -> dict[str, str]:
    if dimension == Dimension.NETWORK:
        return {key: _("Whole network") for key in keys}
    if dimension == Dimension.KIND:
        return {key: OrganizationKind(key).label for key in keys}
    if dimension == Dimension.URGENCY:
        return {key: Urgency(key).label for key in keys}
    if dimension == Dimension.SERVICE:
        names = dict(db_session.execute(select(ServiceCategory.code, ServiceCategory.name)
                                        .where(ServiceCategory.code.in_(list(keys)))).all())
        return {key: category_label(key, names.get(key, key)) for key in keys}
    names = ops.organization_names([int(key) for key in keys])
    return {key: names.get(int(key), _("Unknown"))
            if viewer.name_organizations or viewer.is_own(key)
            else _("Organization %(number)s", number=n) for n, key in enumerate(keys, start=1)}


def _merge(counts: dict[str, Counts], grouped: set[str]) -> Counts:
    merged = Counts()
    for key in grouped:
        part = counts[key]
        merged.sent += part.sent
        merged.accepted += part.accepted
        merged.matched_48h += part.matched_48h
        merged.overdue += part.overdue
        for status, value in part.by_status.items():
            merged.by_status[status] = merged.by_status.get(status, 0) + value
    return merged


def _rows_of(scope: Scope, dimension: Dimension,
             viewer: Viewer) -> list[tuple[str, str, Counts]]:
    """(key, label, counts) per row: rare values (and organizations beyond the busiest) are
    grouped under "Other"."""
    if dimension == Dimension.ORGANIZATION:
        busiest = ops.busiest_receivers(scope, ORGANIZATION_ROWS, viewer.min_count,
                                        own=viewer.own)
        kept, other, others = list(busiest.kept), busiest.other, busiest.others
        counts = busiest.kept
    else:
        counts = ops.counts(scope, dimension)
        kept, grouped = group_rare({key: c.sent for key, c in counts.items()},
                                   viewer.min_count, own=viewer.own)
        other, others = _merge(counts, grouped), len(grouped)
    labels = dimension_labels(dimension, kept, viewer)
    rows = [(key, labels[key], counts[key]) for key in kept]
    if others:
        rows.append((OTHER_KEY, _("Other (%(count)s)", count=others), other))
    return rows


# The CSV header's measure of each status column (in English "referrals now <status>").
_STATUS_MEASURES = {
    "sent": _l("referrals now sent"), "accepted": _l("referrals now accepted"),
    "completed": _l("referrals now completed"), "closed": _l("referrals now closed"),
    "declined": _l("referrals now declined"), "withdrawn": _l("referrals now withdrawn"),
    "expired": _l("referrals now expired"),
}


def status_columns() -> list[Column]:
    """A column per reported status, labelled in the reader's language."""
    return [Column(status.value, status.label, measure=str(_STATUS_MEASURES[status.value]))
            for status in ops.REPORTED_STATUSES]


def _total_sent() -> Column:
    return Column("total", _("Total sent"), measure=_("referrals sent"))


@dataclass
class Breakdown:
    """The status table and the performance table of one dimension."""

    statuses: Table
    performance: Table


def breakdown(scope: Scope, dimension: Dimension, viewer: Viewer) -> Breakdown:
    rows = _rows_of(scope, dimension, viewer)
    # Within an organization's own scope every referral is its own, whatever the row.
    everything_own = _own_scope(scope, viewer)
    own_rows = {n for n, (key, _label, _counts) in enumerate(rows)
                if everything_own or viewer.is_own(key)}
    grid = suppress([[c.by_status.get(column.key, 0) for column in status_columns()]
                     for _key, _label, c in rows], viewer.min_count, own_rows=own_rows)
    statuses = Table(
        "statuses", _("Referrals by current status"), dimension.label,
        [*status_columns(), _total_sent()],
        [Row(key, label, [*map(_cell, grid.cells[n]), _cell(grid.row_totals[n])],
             own=n in own_rows) for n, (key, label, _counts) in enumerate(rows)],
        Row("total", _("Total"), [*map(_cell, grid.column_totals), _cell(grid.total)])
        if len(rows) > 1 else None)
    shown_organizations = ([int(key) for key, _label, _counts in rows if key != OTHER_KEY]
                           if dimension == Dimension.ORGANIZATION else None)
    timings = {timing: ops.timings(scope, dimension, timing, shown_organizations)
               for timing in Timing}
    performance = Table(
        "performance", _("Answers, outcomes and waiting times"), dimension.label,
        performance_columns(),
        [Row(key, label, _performance_cells(c, grid.row_totals[n], key, timings,
                                            grouped=key == OTHER_KEY, viewer=viewer,
                                            own=n in own_rows),
             own=n in own_rows) for n, (key, label, c) in enumerate(rows)],
        note=_("Rates are shares of the referrals sent in the range; times are in hours from "
               "sending. A rate or time over fewer referrals than the threshold is not shown."))
    return Breakdown(statuses, performance)


# Each timing's columns: (key suffix, column label, CSV measure), whole phrases to translate.
_TIMING_COLUMNS = {
    Timing.FIRST_VIEW: [
        ("median", _l("Time to first view, median"), _l("time to first view (median)")),
        ("p90", _l("Time to first view, 90th pct."), _l("time to first view (90th pct.)"))],
    Timing.ANSWER: [
        ("median", _l("Time to an answer, median"), _l("time to an answer (median)")),
        ("p90", _l("Time to an answer, 90th pct."), _l("time to an answer (90th pct.)"))],
    Timing.ACCEPTANCE: [
        ("median", _l("Time to acceptance, median"), _l("time to acceptance (median)")),
        ("p90", _l("Time to acceptance, 90th pct."), _l("time to acceptance (90th pct.)"))],
}


def performance_columns() -> list[Column]:
    """The performance table's columns, labelled in the reader's language."""
    return [
        Column("sent", pgettext("count of referrals", "Sent"), measure=_("referrals sent")),
        Column("acceptance_rate", pgettext("share of referrals", "Accepted"), ColumnKind.RATE,
               _("acceptance rate")),
        Column("decline_rate", pgettext("share of referrals", "Declined"), ColumnKind.RATE,
               _("decline rate")),
        Column("matched_48h", _("Accepted within 48 h"), ColumnKind.RATE,
               _("HHS: matched to a provider within 48 hours")),
        Column("closed_loop", _("Closed loop"), ColumnKind.RATE,
               _("closed-loop rate (an outcome recorded)")),
        Column("overdue", _("Overdue now"), measure=_("unanswered past the deadline")),
        Column("expired", pgettext("count of referrals", "Expired"),
               measure=_("expired without an answer")),
        *(Column(f"{timing.value}_{stat}", str(label), ColumnKind.HOURS, str(measure))
          for timing in Timing for stat, label, measure in _TIMING_COLUMNS[timing]),
    ]


def _performance_cells(c: Counts, sent: int | None, key: str,
                       timings: dict[Timing, dict[str, ops.Percentiles]], *, grouped: bool,
                       viewer: Viewer, own: bool) -> list[Cell]:
    if sent is None:  # the row's total is hidden: so is every rate over it
        rates: list[Cell] = [None] * 4
    else:
        rates = [rate(part, c.sent, viewer.min_count, own=own)
                 for part in (c.accepted, c.declined, c.matched_48h, c.closed_loop)]
    cells: list[Cell] = [_cell(sent), *rates,
                         _cell(shown(c.overdue, viewer.min_count, own=own)),
                         _cell(shown(c.expired, viewer.min_count, own=own))]
    for timing in Timing:
        found = None if grouped else timings[timing].get(key)
        if found is None or (found.count < viewer.min_count and not own):
            cells += [None, None]
        else:
            cells += [found.median, found.p90]
    return cells


def over_time(scope: Scope, viewer: Viewer) -> Table:
    found = ops.over_time(scope)
    periods = scope.period.periods()
    own = scope.organization_id is not None and viewer.is_own(str(scope.organization_id))
    grid = suppress([[found.get(period, {}).get(column.key, 0) for column in status_columns()]
                     for period in periods], viewer.min_count,
                    own_rows=range(len(periods)) if own else ())
    return Table(
        "over_time", _("Referrals sent over time, by current status"),
        _("Day") if scope.period.days <= ops.DAILY_UP_TO_DAYS else _("Month"),
        [*status_columns(), _total_sent()],
        [Row(period, period, [*map(_cell, grid.cells[n]), _cell(grid.row_totals[n])], own=own)
         for n, period in enumerate(periods)],
        Row("total", _("Total"), [*map(_cell, grid.column_totals), _cell(grid.total)]))


def _one_column(slug: str, title: str, header: str, column: Column,
                labelled: list[tuple[str, str, int]], viewer: Viewer, *, own: bool) -> Table:
    grid = suppress([[value] for _key, _label, value in labelled], viewer.min_count,
                    own_rows=range(len(labelled)) if own else (), row_totals=False)
    return Table(slug, title, header, [column],
                 [Row(key, label, [_cell(grid.cells[n][0])], own=own)
                  for n, (key, label, _value) in enumerate(labelled)],
                 Row("total", _("Total"), [_cell(grid.column_totals[0])]) if labelled else None)


def _own_scope(scope: Scope, viewer: Viewer) -> bool:
    return scope.organization_id is not None and viewer.is_own(str(scope.organization_id))


def decline_reasons(scope: Scope, viewer: Viewer) -> Table:
    found = ops.decline_reasons(scope)
    labelled = [(reason.value, reason.label, found.get(reason.value, 0))
                for reason in DeclineReason]
    return _one_column("decline_reasons", _("Decline reasons"), _("Reason"),
                       Column("declined", pgettext("count of referrals", "Declined"),
                              measure=_("referrals declined")),
                       labelled, viewer, own=_own_scope(scope, viewer))


# "Closed: <outcome>" as whole phrases (a lowered label reads wrong in Spanish).
_CLOSED_LABELS = {
    CloseOutcome.COULD_NOT_CONTACT: _l("Closed: could not contact"),
    CloseOutcome.CLIENT_DECLINED: _l("Closed: client declined"),
    CloseOutcome.NOT_ELIGIBLE: _l("Closed: not eligible"),
    CloseOutcome.NO_CAPACITY: _l("Closed: no capacity"),
    CloseOutcome.REDIRECTED: _l("Closed: redirected"),
}


def outcomes(scope: Scope, viewer: Viewer) -> Table:
    found = ops.outcomes(scope)
    labelled = [("completed", _("Completed: the client got the service"),
                 found.get("completed", 0))]
    labelled += [(outcome.value, str(_CLOSED_LABELS[outcome]), found.get(outcome.value, 0))
                 for outcome in CloseOutcome]
    return _one_column("outcomes", _("Outcomes"), _("Outcome"),
                       Column("referrals", _("Referrals"), measure=_("closed-loop outcomes")),
                       labelled, viewer, own=_own_scope(scope, viewer))


def kind_flows(scope: Scope, viewer: Viewer) -> Table:
    found = ops.kind_flows(scope)
    kinds = [kind for kind in OrganizationKind
             if any(kind.value in pair for pair, count in found.items() if count)]
    grid = suppress([[found.get((a.value, b.value), 0) for b in kinds] for a in kinds],
                    viewer.min_count)
    return Table(
        "kind_flows", _("Referral flows between kinds of organization"), _("From \\ to"),
        [*(Column(kind.value, kind.label,
                  measure=_("referrals received by %(kind)s", kind=kind.label))
           for kind in kinds), Column("total", _("Total sent"), measure=_("referrals made"))],
        [Row(a.value, a.label, [*map(_cell, grid.cells[n]), _cell(grid.row_totals[n])])
         for n, a in enumerate(kinds)],
        Row("total", _("Total received"), [*map(_cell, grid.column_totals), _cell(grid.total)]))


def organization_flows(scope: Scope, viewer: Viewer) -> Table:
    """The busiest senders against the busiest receivers (those that reach the threshold);
    every other organization is folded into "Other"."""
    senders, _others = group_rare({str(i): n for i, n in ops.busiest(
        scope, Side.SENT, FLOW_ORGANIZATIONS).items()}, viewer.min_count, own=viewer.own)
    receivers, _others = group_rare({str(i): n for i, n in ops.busiest(
        scope, Side.RECEIVED, FLOW_ORGANIZATIONS).items()}, viewer.min_count, own=viewer.own)
    return _organization_flows(scope, viewer, [int(i) for i in senders],
                               [int(i) for i in receivers])


def _organization_flows(scope: Scope, viewer: Viewer, senders: list[int],
                        receivers: list[int]) -> Table:
    found = ops.organization_flows(scope, senders, receivers)
    row_ids = [*senders, 0] if any(a == 0 for a, _ in found) else senders
    column_ids = [*receivers, 0] if any(b == 0 for _, b in found) else receivers
    keys = [str(i) for i in {*senders, *receivers}]
    labels = dimension_labels(Dimension.ORGANIZATION, keys, viewer)
    labels["0"] = pgettext("organizations", "Other")
    grid = suppress([[found.get((a, b), 0) for b in column_ids] for a in row_ids],
                    viewer.min_count,
                    own_rows=[n for n, i in enumerate(row_ids) if viewer.is_own(str(i))],
                    own_columns=[n for n, i in enumerate(column_ids) if viewer.is_own(str(i))])
    return Table(
        "organization_flows", _("Referral flows between the busiest organizations"),
        _("From \\ to"),
        [*(Column(str(i), labels[str(i)]) for i in column_ids),
         Column("total", _("Total sent"), measure=_("referrals made"))],
        [Row(str(i), labels[str(i)], [*map(_cell, grid.cells[n]), _cell(grid.row_totals[n])],
             own=viewer.is_own(str(i))) for n, i in enumerate(row_ids)],
        Row("total", _("Total received"), [*map(_cell, grid.column_totals), _cell(grid.total)]))
