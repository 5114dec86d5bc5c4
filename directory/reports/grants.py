"""Grant reporting per period: the figures anti-trafficking grantees file, from the coded
fields a referral may carry (type of trafficking, gender, nationality; adult or minor from its
age range).

- OVC's TIMS: referrals made and received, by type of trafficking, adult/minor, gender and
  nationality.
- HHS: referrals matched to a provider within 48 hours (accepted within 48 hours of sending).
- The hotline: new referral partners added in the period, and partners in all.

Only counts leave this module, never a referral; every count is one SQL aggregate. Who sees
what:

- The network (coordinators): every count suppressed below ``DIRECTORY_REPORT_MIN_COUNT``,
  with complementary suppression inside each breakdown. Every breakdown of one side sums to the
  same total, the number of referrals; a total is hidden exactly when it is itself small, so it
  is hidden in all of them alike and none gives another's hidden cell back.
- An organization's admins: what it sent, counted in full (its own staff recorded it), and
  its received referrals by adult or minor (the age range every referral shows the receiver).
  What it received by type of trafficking, gender and nationality stays suppressed even for
  them: three received, "male: fewer than 5" tells a receiver nothing a sender's consent did
  not tell it, "male: 1" may name the one survivor. As the admins know how many they received
  (their inbox), a lone hidden cell is never left for the total to give back
  (``suppress_with_known_total``). Those received counts also read a field only where the
  consent in force names it, the rest counted as "not shared with this organization": five
  received, "female: 5" would otherwise tell the receiver the gender of a client whose consent
  withheld it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import String, and_, case, cast, func, literal, select
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.sql.expression import ColumnElement

from directory.db import db_session
from directory.orgs.models import Organization
from directory.referrals.models import (
    MINOR_AGE_RANGES,
    Consent,
    Gender,
    Nationality,
    Referral,
    TraffickingType,
)
from directory.reports import operations as ops
from directory.reports import partners
from directory.reports.operations import DateRange, Scope, Side
from directory.reports.suppression import rate, shown, suppress, suppress_with_known_total
from directory.reports.tables import HIDDEN, Cell, Column, ColumnKind, Row, Table, Viewer

NOT_RECORDED = "not_recorded"
NOT_SHARED = "not_shared"
MINOR, ADULT = "minor", "adult"


def _code(value: object) -> str:
    return NOT_RECORDED if value is None else str(getattr(value, "value", value))


@dataclass(frozen=True)
class Item:
    """One breakdown: its names, its categories (code, label) in order, and the column of the
    referrals table that holds its code."""

    key: str
    label: str  # the row header
    title: str  # the table's title
    by: str  # how a measure's name ends: "by gender"
    categories: Callable[[], list[tuple[str, str]]]
    column: Callable[[], ColumnElement[str]]
    consent_item: str | None  # the consent record's name for it; None for the age range
    # The category of a value of ``column`` (None: not recorded).
    category: Callable[[Any], str] = _code


def _age_group(age_range: str | None) -> str:
    return MINOR if age_range in MINOR_AGE_RANGES else ADULT


ITEMS = [
    Item("trafficking_type", _l("Type of trafficking"), _l("Referrals by type of trafficking"),
         _l("by type of trafficking"), lambda: [(v.value, v.label) for v in TraffickingType],
         lambda: Referral.trafficking_type, "trafficking_type"),  # type: ignore[arg-type,return-value]
    Item("age", _l("Adult or minor"), _l("Referrals by adult or minor"), _l("by adult or minor"),
         lambda: [(MINOR, _("Minor (under 18)")), (ADULT, _("Adult (18 or older)"))],
         lambda: Referral.age_range, None, _age_group),  # type: ignore[arg-type,return-value]
    Item("gender", _l("Gender"), _l("Referrals by gender"), _l("by gender"),
         lambda: [(v.value, v.label) for v in Gender],
         lambda: Referral.gender, "gender"),  # type: ignore[arg-type,return-value]
    Item("nationality", _l("Nationality"), _l("Referrals by nationality"), _l("by nationality"),
         lambda: [(v.value, v.label) for v in Nationality],
         lambda: Referral.nationality, "nationality"),  # type: ignore[arg-type,return-value]
]


def _extra_categories() -> list[tuple[str, str]]:
    return [(NOT_RECORDED, _("Not recorded")),
            (NOT_SHARED, _("Not shared with this organization by the consent"))]


@dataclass
class Counted:
    """One part's referrals by each item's category, and its acceptance counts."""

    by_item: dict[str, Counter[str]]
    sent: int = 0
    accepted: int = 0
    matched_48h: int = 0


def _counted(scope: Scope, items: list[Item]) -> Counted:
    """Referrals of ``scope`` by each item's category and their acceptance counts, from one
    pass over the range grouped by every item's column together (a few hundred groups at
    most, summed here): a query per item, and one for the 48-hour measure, read the range
    once each. Grouped by plain columns, which PostgreSQL's planner can count, so that it
    hashes the groups instead of sorting the range; SQLite reads them in group order from
    ``ix_referrals_by_grant_fields`` (migration 0019), led by the items' columns in ``ITEMS``'
    order."""
    columns = [item.column() for item in items]
    query = (select(*columns, func.count(), *ops.acceptance_columns())
             .where(*scope.where()).group_by(*columns))
    found = Counted({item.key: Counter() for item in items})
    for *values, count, accepted, matched in db_session.execute(query):
        for item, value in zip(items, values, strict=True):
            found.by_item[item.key][item.category(value)] += count
        found.sent += count
        found.accepted += accepted or 0
        found.matched_48h += matched or 0
    return found


def _senders_today(scope: Scope) -> ColumnElement[dt.date]:
    """Each referral's sender's local date: a consent lasts to the end of its last day in the
    zone of the organization that recorded it (``Consent.in_force``)."""
    ids = db_session.scalars(select(Referral.sender_org_id).where(*scope.where())
                             .distinct()).all()
    senders = db_session.scalars(select(Organization).where(Organization.id.in_(ids))
                                 .options(selectinload(Organization.locations))).all()
    by_date: dict[dt.date, list[int]] = defaultdict(list)
    for sender in senders:
        by_date[sender.local_date()].append(sender.id)
    if len(by_date) <= 1:
        return literal(next(iter(by_date), dt.date.min))
    dates = sorted(by_date)
    return case(*((Referral.sender_org_id.in_(by_date[day]), day) for day in dates[1:]),
                else_=dates[0])


def _counted_as_received(scope: Scope, item: Item,
                         senders_today: ColumnElement[dt.date]) -> Counter[str]:
    """What ``scope``'s receiver may count: each field only where the consent in force (the
    newest record, neither revoked nor lapsed) names it, as disclosure.reporting_view reads
    it; else "not shared"."""
    consent = aliased(Consent)
    newest = (select(func.max(Consent.id)).where(Consent.referral_id == Referral.id)
              .correlate(Referral).scalar_subquery())
    value = item.column()
    # The items are a JSON list of fixed names: '"gender"' is in the text exactly when named.
    named = and_(consent.id.is_not(None), consent.revoked_at.is_(None),
                 consent.expires_on >= senders_today,
                 cast(consent.items, String).contains(f'"{item.consent_item}"', autoescape=True))
    code = case((value.is_(None), literal(NOT_RECORDED)), (named, cast(value, String)),
                else_=literal(NOT_SHARED))
    query = (select(code, func.count()).select_from(Referral)
             .outerjoin(consent, and_(consent.referral_id == Referral.id, consent.id == newest))
             .where(*scope.where()).group_by(code))
    return Counter({str(found): n for found, n in db_session.execute(query)})


@dataclass(frozen=True)
class Part:
    """One column of the breakdowns: the referrals an organization sent, or received, or all
    the network's. ``own``: the viewer reads its counts in full; ``received_own``: they are the
    viewer's own received referrals, whose coded fields stay suppressed and consent-limited."""

    key: str
    label: str
    measure: str  # TIMS wording, for the CSV header
    scope: Scope
    own: bool = False
    received_own: bool = False

    def consent_limited(self, item: Item) -> bool:
        """Whether the viewer's counts of ``item`` here read only what consents named."""
        return self.received_own and item.consent_item is not None


def _parts(period: DateRange, organization: Organization | None, viewer: Viewer) -> list[Part]:
    if organization is None:
        return [Part("referrals", _("Referrals"), _("referrals made and received"),
                     Scope(period))]
    own = viewer.is_own(str(organization.id))
    return [Part("made", _("Made (sent)"), _("referrals made"),
                 Scope(period, organization.id, Side.SENT), own=own),
            Part("received", _("Received"), _("referrals received"),
                 Scope(period, organization.id, Side.RECEIVED), own=own, received_own=own)]


def _column_cells(values: list[int], part: Part, item: Item,
                  min_count: int) -> tuple[list[int | None], int | None]:
    """One part's cells and total, as the viewer may read them."""
    total = sum(values)
    if part.consent_limited(item):
        return suppress_with_known_total(values, min_count), total
    if part.own:
        return list(values), total
    grid = suppress([[value] for value in values], min_count, row_totals=False)
    return [row[0] for row in grid.cells], grid.column_totals[0] if grid.column_totals else 0


def _hidden(value: int | None) -> Cell:
    return HIDDEN if value is None else value


def _breakdown(item: Item, parts: list[Part], viewer: Viewer,
               senders_today: dict[str, ColumnElement[dt.date]],
               counted: dict[str, Counted]) -> Table:
    found = [_counted_as_received(part.scope, item, senders_today[part.key])
             if part.consent_limited(item) else counted[part.key].by_item[item.key]
             for part in parts]
    categories = item.categories() + [extra for extra in _extra_categories()
                                      if any(counts[extra[0]] for counts in found)]
    columns = [_column_cells([counts[code] for code, _label in categories], part, item,
                             viewer.min_count) for counts, part in zip(found, parts, strict=True)]
    own = [part.own and not part.consent_limited(item) for part in parts]
    return Table(
        item.key, str(item.title), str(item.label),
        [Column(part.key, part.label, measure=_("TIMS: %(measure)s, %(breakdown)s",
                                                measure=part.measure, breakdown=item.by))
         for part in parts],
        [Row(code, label, [_hidden(cells[n]) for cells, _total in columns], own=all(own))
         for n, (code, label) in enumerate(categories)],
        Row("total", _("Total"), [_hidden(total) for _cells, total in columns]))


def _matched(parts: list[Part], viewer: Viewer, counted: dict[str, Counted]) -> Table:
    rows = []
    for part in parts:
        found = counted[part.key]
        sent, accepted, matched = found.sent, found.accepted, found.matched_48h
        cells: list[Cell] = [_hidden(shown(value, viewer.min_count, own=part.own))
                             for value in (sent, accepted, matched)]
        cells.append(rate(matched, sent, viewer.min_count, own=part.own))
        rows.append(Row(part.key, part.label, cells, own=part.own))
    return Table("matched", _("Matched to a provider within 48 hours"), _("Referrals"), [
        Column("sent", pgettext("count of referrals", "Sent"),
               measure=_("referrals sent in the period")),
        Column("accepted", pgettext("count of referrals", "Accepted"),
               measure=_("referrals accepted")),
        Column("matched_48h", _("Accepted within 48 h"),
               measure=_("HHS: matched to a provider within 48 hours (count)")),
        Column("matched_48h_share", _("Share within 48 h"), ColumnKind.RATE,
               _("HHS: matched to a provider within 48 hours (share of those sent)")),
    ], rows, note=_("Accepted within 48 hours of being sent, whatever happened next. A share "
                    "over a count that is not shown is not shown either."))


def _partners(period: DateRange) -> Table:
    """Organizations, which the directory names anyway: not suppressed (see partners.py)."""
    total = partners.network_total(partners.counts_by_kind(period))
    return Table("partners", _("Referral partners"), _("Network"), [
        Column("new", _("New in the period"), measure=_("hotline: new referral partners added")),
        Column("partners", _("Partners today"), measure=_("hotline: total partners")),
    ], [Row("network", _("Whole network"), [total.new, total.partners])])


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
                    label = (_("%(measure)s: %(category)s", measure=column.measure,
                               category=line.label) if breakdown
                             else _("%(measure)s (%(line)s)", measure=column.measure,
                                    line=line.label) if len(lines) > 1
                             else column.measure)
                    columns.append(Column(f"{table.slug}.{line.key}.{column.key}", label,
                                          column.kind, label))
                    cells.append(cell)
        name = self.organization.name if self.organization else _("Whole network")
        return Table("period", _("The period in one row"), _("Period"), columns, [
            Row("period", _("%(name)s, %(start)s to %(end)s", name=name,
                            start=self.period.start.isoformat(),
                            end=self.period.end.isoformat()), cells)])


def report(period: DateRange, viewer: Viewer, organization: Organization | None = None
           ) -> GrantReport:
    parts = _parts(period, organization, viewer)
    # Each received part's senders' dates, looked up once for all its breakdowns.
    senders_today = {part.key: _senders_today(part.scope) for part in parts if part.received_own}
    counted = {part.key: _counted(part.scope, [item for item in ITEMS
                                               if not part.consent_limited(item)])
               for part in parts}
    tables = [_matched(parts, viewer, counted),
              *(_breakdown(item, parts, viewer, senders_today, counted) for item in ITEMS)]
    if organization is None:
        tables.append(_partners(period))
    return GrantReport(period, organization, tables)
