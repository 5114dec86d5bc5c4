"""The two reports as pages need them: every table of the network dashboard, and an
organization's own figures beside the network's."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _

from directory.orgs.models import Organization
from directory.reports import tables
from directory.reports.operations import DateRange, Dimension, Scope, Side
from directory.reports.tables import Breakdown, Cell, ColumnKind, Row, Table, Viewer

HEADLINE = ["sent", "acceptance_rate", "matched_48h", "closed_loop", "answer_median",
            "acceptance_median", "overdue", "expired"]


@dataclass
class Headline:
    label: str
    kind: ColumnKind
    current: Cell
    previous: Cell


def _headline(current: Table, previous: Table) -> list[Headline]:
    keys = [column.key for column in current.columns]
    return [Headline(current.columns[keys.index(key)].label, current.columns[keys.index(key)].kind,
                     current.rows[0].cells[keys.index(key)] if current.rows else 0,
                     previous.rows[0].cells[keys.index(key)] if previous.rows else 0)
            for key in HEADLINE]


@dataclass
class Report:
    tables: list[Table] = field(default_factory=list)

    def table(self, slug: str) -> Table | None:
        return next((table for table in self.tables if table.slug == slug), None)


@dataclass
class NetworkReport(Report):
    headline: list[Headline] = field(default_factory=list)
    breakdown: Breakdown | None = None


def network(period: DateRange, by: Dimension, viewer: Viewer) -> NetworkReport:
    scope = Scope(period)
    current = tables.breakdown(scope, Dimension.NETWORK, viewer).performance
    previous = tables.breakdown(Scope(period.previous()), Dimension.NETWORK, viewer).performance
    breakdown = tables.breakdown(scope, by, viewer)
    return NetworkReport(
        tables=[tables.over_time(scope, viewer), breakdown.statuses, breakdown.performance,
                tables.decline_reasons(scope, viewer), tables.outcomes(scope, viewer),
                tables.kind_flows(scope, viewer), tables.organization_flows(scope, viewer)],
        headline=_headline(current, previous), breakdown=breakdown)


@dataclass
class OrganizationReport(Report):
    comparison: Table | None = None


def organization(organization: Organization, period: DateRange,
                 viewer: Viewer) -> OrganizationReport:
    """Sent and received by ``organization`` against the whole network's figures."""
    received = Scope(period, organization.id, Side.RECEIVED)
    sent = Scope(period, organization.id, Side.SENT)
    parts = [("received", _("Received by this organization"), received),
             ("sent", _("Sent by this organization"), sent)]
    rows: list[Row] = []
    for key, label, scope in parts:
        row = tables.breakdown(scope, Dimension.NETWORK, viewer).performance.rows
        rows.append(Row(key, label, row[0].cells if row else _empty(), own=True))
    network_rows = tables.breakdown(Scope(period), Dimension.NETWORK,
                                    Viewer(viewer.min_count)).performance.rows
    rows.append(Row("network", _("Whole network"), network_rows[0].cells if network_rows
                    else _empty()))
    comparison = Table("comparison", _("This organization and the network"), _("Referrals"),
                       tables.performance_columns(), rows,
                       note=_("Times are in hours from sending; the network's are medians and "
                              "90th percentiles over all its referrals in the range."))
    by_service = tables.breakdown(received, Dimension.SERVICE, viewer)
    by_service.statuses.slug, by_service.statuses.title = (
        "received_by_service", _("Received, by service and current status"))
    over_time = tables.over_time(received, viewer)
    over_time.slug, over_time.title = "received_over_time", _("Received over time")
    outcomes = tables.outcomes(received, viewer)
    reasons = tables.decline_reasons(received, viewer)
    reasons.slug, reasons.title = "decline_reasons_given", _("Decline reasons given")
    return OrganizationReport(tables=[comparison, over_time, by_service.statuses, outcomes,
                                      reasons], comparison=comparison)


def _empty() -> list[Cell]:
    return [0, *([None] * (len(tables.performance_columns()) - 1))]
