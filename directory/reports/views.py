"""Report pages: the coordinators' network dashboard and each organization's own figures.

Coordinators see the whole network; an organization's admins see their own organization's
figures (their own counts unsuppressed, the network's for comparison suppressed); everyone
else sees nothing. Every table can be downloaded as CSV with the same suppression.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from directory.accounts.permissions import Permission, can, require
from directory.db import db_session
from directory.orgs.models import Organization
from directory.reports import charts, dashboard
from directory.reports.csvfile import table_csv
from directory.reports.operations import DateRange, Dimension
from directory.reports.tables import HIDDEN, Viewer

bp = Blueprint("reports", __name__, url_prefix="/reports")
DEFAULT_DAYS = 90
bp.add_app_template_global(charts.column_chart, "column_chart")
bp.add_app_template_global(charts.stacked_bars, "stacked_bars")
bp.add_app_template_global(charts.flow_diagram, "flow_diagram")


@bp.app_template_test("hidden_cell")
def is_hidden(value: object) -> bool:
    return value is HIDDEN


def _date(name: str, default: dt.date) -> dt.date:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"The {name} date must look like 2026-01-31; got {raw[:20]!r}.")


def date_range() -> DateRange:
    default = DateRange.last(DEFAULT_DAYS)
    try:
        return DateRange(_date("start", default.start), _date("end", default.end))
    except ValueError as exc:
        abort(400, description=str(exc))


def dimension() -> Dimension:
    raw = request.args.get("by", Dimension.KIND.value)
    if raw not in Dimension._value2member_map_:
        abort(400, description="Break the figures down by one of: "
                               f"{', '.join(d.value for d in Dimension)}.")
    return Dimension(raw)


def _min_count() -> int:
    return int(current_app.config["REPORT_MIN_COUNT"])


def _organization(slug: str) -> Organization:
    organization = db_session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        abort(404)
    return organization


def _csv(body: str, name: str) -> Response:
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"',
        "Cache-Control": "no-store"})


@bp.route("/")
def index() -> Any:
    """The network dashboard for coordinators; an organization's admin is sent to its page."""
    require(current_user, Permission.VIEW_REPORTS)
    if not can(current_user, Permission.VIEW_REFERRAL_REPORT):
        own = next(m.organization for m in current_user.memberships
                   if can(current_user, Permission.VIEW_ORGANIZATION_REPORT, m.organization))
        return redirect(url_for("reports.organization", slug=own.slug, **request.args))
    period, by = date_range(), dimension()
    report = dashboard.network(period, by, Viewer(_min_count()))
    return render_template("reports/dashboard.html", report=report, period=period, by=by,
                           dimensions=list(Dimension), min_count=_min_count())


@bp.route("/tables/<name>.csv")
def table_download(name: str) -> Response:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    report = dashboard.network(date_range(), dimension(), Viewer(_min_count()))
    table = report.table(name)
    if table is None:
        abort(404)
    return _csv(table_csv(table, _min_count()), f"network-{name}")


def _own_report(slug: str) -> tuple[Organization, dashboard.OrganizationReport, DateRange]:
    organization = _organization(slug)
    require(current_user, Permission.VIEW_ORGANIZATION_REPORT, organization)
    period = date_range()
    viewer = Viewer(_min_count(), own=frozenset({str(organization.id)}))
    return organization, dashboard.organization(organization, period, viewer), period


@bp.route("/organizations/<slug>")
def organization(slug: str) -> str:
    organization, report, period = _own_report(slug)
    return render_template("reports/organization.html", organization=organization,
                           report=report, period=period, min_count=_min_count())


@bp.route("/organizations/<slug>/tables/<name>.csv")
def organization_table_download(slug: str, name: str) -> Response:
    organization, report, _ = _own_report(slug)
    table = report.table(name)
    if table is None:
        abort(404)
    return _csv(table_csv(table, _min_count()), f"{organization.slug}-{name}")


# The partner and listing-freshness pages live on this blueprint too.
from directory.reports import partner_views as _partner_views  # noqa: E402, F401
