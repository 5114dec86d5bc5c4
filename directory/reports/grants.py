"""Grant reporting per period: the figures anti-trafficking grantees file, from the coded
fields a referral may carry (type of trafficking, gender, nationality; adult or minor from its
age range).

- OVC's TIMS: referrals made and received, by type of trafficking, adult/minor, gender and
  nationality.
- HHS: referrals matched to a provider within 48 hours (accepted within 48 hours of sending).
- The hotline: new referral partners added in the period, and partners in all.

Only counts leave this module, never a referral. Who sees what:

- The network (coordinators): every count suppressed below ``DIRECTORY_REPORT_MIN_COUNT``,
  with complementary suppression inside each breakdown. Every breakdown of one side sums to the
  same total, the number of referrals; a total is hidden exactly when it is itself small, so it
  is hidden in all of them alike and none gives another's hidden cell back.
- An organization's admins: what it sent, counted in full (its own staff recorded it); what it
  received, counted only as far as it may read each referral's field: a field the consent in
  force does not name is counted as "not shared with this organization". A count of
  received clients by gender would otherwise tell a receiver the gender of a client whose
  consent withheld it (five received, "female: 5").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.expression import ColumnElement

from directory.db import db_session
from directory.orgs.models import Organization
from directory.referrals.models import (
    MINOR_AGE_RANGES,
    Gender,
    Nationality,
    Referral,
    TraffickingType,
)
from directory.reports import operations as ops
from directory.reports import partners
from directory.reports.operations import DateRange, Dimension, Scope, Side
from directory.reports.suppression import rate, suppress
from directory.reports.tables import HIDDEN, Cell, Column, ColumnKind, Row, Table, Viewer

NOT_RECORDED = "not_recorded"
NOT_SHARED = "not_shared"
MINOR, ADULT = "minor", "adult"


@dataclass(frozen=True)
class Item:
    """One breakdown: what it is called, its categories (code, label) in order, and the column
    of the referrals table that holds its code."""

    key: str
    label: str
    categories: list[tuple[str, str]]
    column: Callable[[], ColumnElement[str]]
    consent_item: str | None  # the consent record's name for it; None for the age range

    def code_of(self, referral: Referral) -> str:
        if self.key == "age":
            return MINOR if referral.age_range in MINOR_AGE_RANGES else ADULT
        value = getattr(referral, self.key)
        return NOT_RECORDED if value is None else str(value)


def _age_group() -> ColumnElement[str]:
    return case((Referral.age_range.in_(sorted(MINOR_AGE_RANGES)), MINOR), else_=ADULT)


ITEMS = [
    Item("trafficking_type", "Type of trafficking",
         [(v.value, v.label) for v in TraffickingType],
         lambda: Referral.trafficking_type, "trafficking_type"),  # type: ignore[arg-type,return-value]
    Item("age", "Adult or minor", [(MINOR, "Minor (under 18)"), (ADULT, "Adult (18 or older)")],
         _age_group, None),
    Item("gender", "Gender", [(v.value, v.label) for v in Gender],
         lambda: Referral.gender, "gender"),  # type: ignore[arg-type,return-value]
    Item("nationality", "Nationality", [(v.value, v.label) for v in Nationality],
         lambda: Referral.nationality, "nationality"),  # type: ignore[arg-type,return-value]
]
EXTRA_CATEGORIES = [(NOT_RECORDED, "Not recorded"),
                    (NOT_SHARED, "Not shared with this organization by the consent")]


def _counted(scope: Scope, item: Item) -> Counter[str]:
    """Referrals of ``scope`` by the item's code, in SQL."""
    code = item.column()
    query = select(code, func.count()).where(*scope.where()).group_by(code)
    return Counter({NOT_RECORDED if value is None else str(getattr(value, "value", value)): n
                    for value, n in db_session.execute(query)})


def _counted_as_received(scope: Scope, item: Item) -> Counter[str]:
    """What ``scope``'s receiver may count: each field only where the consent in force names
    it (the rule of disclosure.reporting_view), else "not shared"."""
    referrals = db_session.scalars(select(Referral).where(*scope.where())
                                   .options(selectinload(Referral.consents))).all()
    found: Counter[str] = Counter()
    for referral in referrals:
        code = item.code_of(referral)
        consent = referral.consent
        named = consent is not None and consent.in_force() and item.consent_item in consent.items
        found[code if item.consent_item is None or code == NOT_RECORDED or named
              else NOT_SHARED] += 1
    return found


@dataclass(frozen=True)
class Part:
    """One column of the breakdowns: the referrals an organization sent, or received, or all
    the network's; ``own`` when the viewer may read its counts in full."""

    key: str
    label: str
    measure: str  # TIMS wording, for the CSV header
    scope: Scope
    own: bool = False
    consent_limited: bool = False


def _parts(period: DateRange, organization: Organization | None, viewer: Viewer) -> list[Part]:
    if organization is None:
        return [Part("referrals", "Referrals", "referrals made and received", Scope(period))]
    own = viewer.is_own(str(organization.id))
    return [Part("made", "Made (sent)", "referrals made",
                 Scope(period, organization.id, Side.SENT), own=own),
            Part("received", "Received", "referrals received",
                 Scope(period, organization.id, Side.RECEIVED), own=own, consent_limited=own)]


def _breakdown(item: Item, parts: list[Part], viewer: Viewer) -> Table:
    found = [_counted_as_received(part.scope, item) if part.consent_limited
             else _counted(part.scope, item) for part in parts]
    categories = item.categories + [extra for extra in EXTRA_CATEGORIES
                                    if any(counts[extra[0]] for counts in found)]
    grid = suppress([[counts[code] for counts in found] for code, _ in categories],
                    viewer.min_count, own_columns={n for n, part in enumerate(parts) if part.own},
                    row_totals=False)
    return Table(
        item.key, f"Referrals by {item.label.lower()}", item.label,
        [Column(part.key, part.label, measure=f"TIMS: {part.measure}, by {item.label.lower()}")
         for part in parts],
        [Row(code, label, [HIDDEN if value is None else value for value in grid.cells[n]],
             own=all(part.own for part in parts)) for n, (code, label) in enumerate(categories)],
        Row("total", "Total", [HIDDEN if value is None else value
                               for value in grid.column_totals]))


def _matched(parts: list[Part], viewer: Viewer) -> Table:
    rows = []
    for part in parts:
        counts = ops.counts(part.scope, Dimension.NETWORK).get(ops.ALL, ops.Counts())
        cells: list[Cell] = []
        for value in (counts.sent, counts.accepted, counts.matched_48h):
            cells.append(value if part.own or value == 0 or value >= viewer.min_count
                         else HIDDEN)
        cells.append(rate(counts.matched_48h, counts.sent, viewer.min_count, own=part.own))
        rows.append(Row(part.key, part.label, cells, own=part.own))
    return Table("matched", "Matched to a provider within 48 hours", "Referrals", [
        Column("sent", "Sent", measure="referrals sent in the period"),
        Column("accepted", "Accepted", measure="referrals accepted"),
        Column("matched_48h", "Accepted within 48 h",
               measure="HHS: matched to a provider within 48 hours (count)"),
        Column("matched_48h_share", "Share within 48 h", ColumnKind.RATE,
               "HHS: matched to a provider within 48 hours (share of those sent)"),
    ], rows, note="Accepted within 48 hours of being sent, whatever happened next.")


def _partners(period: DateRange) -> Table:
    """Organizations, which the directory names anyway: not suppressed (see partners.py)."""
    found = partners.counts_by_kind(period)
    return Table("partners", "Referral partners", "Network", [
        Column("new", "New in the period", measure="hotline: new referral partners added"),
        Column("partners", "Partners today", measure="hotline: total partners"),
    ], [Row("network", "Whole network", [sum(c.new for c in found.values()),
                                         sum(c.partners for c in found.values())])])


@dataclass
class GrantReport:
    period: DateRange
    organization: Organization | None
    tables: list[Table] = field(default_factory=list)

    def table(self, slug: str) -> Table | None:
        if slug == "period":
            return self.period_table()
        return next((table for table in self.tables if table.slug == slug), None)

    def period_table(self) -> Table:
        """Every figure of the report in one row, each column naming the measure it serves:
        the file a grantee fills its period report from."""
        columns: list[Column] = []
        cells: list[Cell] = []
        for table in self.tables:
            lines = [*table.rows, *([table.totals] if table.totals else [])]
            breakdown = table.slug in {item.key for item in ITEMS}
            for line in lines:
                for column, cell in zip(table.columns, line.cells, strict=True):
                    label = (f"{column.measure}: {line.label}" if breakdown
                             else f"{column.measure} ({line.label})" if len(lines) > 1
                             else column.measure)
                    columns.append(Column(f"{table.slug}.{line.key}.{column.key}", label,
                                          column.kind, label))
                    cells.append(cell)
        name = self.organization.name if self.organization else "Whole network"
        return Table("period", "The period in one row", "Period", columns, [
            Row("period", f"{name}, {self.period.start.isoformat()} to "
                          f"{self.period.end.isoformat()}", cells)])


def report(period: DateRange, viewer: Viewer, organization: Organization | None = None
           ) -> GrantReport:
    parts = _parts(period, organization, viewer)
    tables = [_matched(parts, viewer), *(_breakdown(item, parts, viewer) for item in ITEMS)]
    if organization is None:
        tables.append(_partners(period))
    return GrantReport(period, organization, tables)
