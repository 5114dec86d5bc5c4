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
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from directory.accounts.permissions import Permission, can, require
from directory.db import db_session
from directory.orgs.models import Organization, Population, ServiceCategory
from directory.reports import charts, dashboard, gaps, maps
from directory.reports.csvfile import table_csv
from directory.reports.operations import DateRange, Dimension
from directory.reports.public import public_report
from directory.reports.tables import HIDDEN, Table, Viewer

bp = Blueprint("reports", __name__, url_prefix="/reports")
DEFAULT_DAYS = 90
bp.add_app_template_global(charts.column_chart, "column_chart")
bp.add_app_template_global(charts.stacked_bars, "stacked_bars")
bp.add_app_template_global(charts.flow_diagram, "flow_diagram")
bp.add_app_template_global(maps.gap_map, "gap_map")
bp.add_app_template_global(maps.legend_swatch, "legend_swatch")


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
        got = repr(raw[:20])
        abort(400, description=_("The start date must look like 2026-01-31; got %(value)s.",
                                 value=got) if name == "start" else
              _("The end date must look like 2026-01-31; got %(value)s.", value=got))


def date_range() -> DateRange:
    default = DateRange.last(DEFAULT_DAYS)
    try:
        return DateRange(_date("start", default.start), _date("end", default.end))
    except ValueError as exc:
        abort(400, description=str(exc))


def dimension() -> Dimension:
    raw = request.args.get("by", Dimension.KIND.value)
    if raw not in Dimension._value2member_map_:
        abort(400, description=_("Break the figures down by one of: %(choices)s.",
                                 choices=", ".join(d.value for d in Dimension)))
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


def _table_download(table: Table | None, filename: str) -> Response:
    """A report's table as its suppressed CSV file; 404 for a table the report does not have."""
    if table is None:
        abort(404)
    return _csv(table_csv(table, _min_count()), filename)


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
    return _table_download(report.table(name), f"network-{name}")


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
    organization, report, _period = _own_report(slug)
    return _table_download(report.table(name), f"{organization.slug}-{name}")


# --- coverage gaps and the public transparency page ----------------------------------------------

GAP_TABLES = ("gaps_by_state", "gap_counties")


def _gap_report(*, required: bool) -> gaps.GapReport | None:
    """The gaps asked for by ``service`` and ``population``; None when nothing was asked."""
    if not request.args.get("service") and not required:
        return None
    try:
        category, population = gaps.parse_question(request.args.get("service"),
                                                   request.args.get("population"))
    except gaps.GapError as exc:
        abort(400, description=str(exc))
    return gaps.coverage_gaps(category, population)


def _gap_choices() -> dict[str, Any]:
    return {"services": db_session.scalars(select(ServiceCategory)
                                           .order_by(ServiceCategory.code)).all(),
            "populations": list(Population)}


def _gap_download(report: gaps.GapReport, name: str, prefix: str) -> Response:
    return _table_download(report.table(name), f"{prefix}-{report.service.code}-{name}")


@bp.route("/gaps")
def coverage_gaps() -> str:
    """Counties no active, accepting member covers for a service, for coordinators."""
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    return render_template("reports/gaps.html", report=_gap_report(required=False),
                           **_gap_choices())


@bp.route("/gaps/<name>.csv")
def coverage_gaps_download(name: str) -> Response:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    if name not in GAP_TABLES:
        abort(404)
    return _gap_download(_gap_report(required=True), name, "coverage-gaps")  # type: ignore[arg-type]


def _require_public() -> None:
    """The transparency page exists only where the deployment switched it on."""
    if not can(current_user, Permission.VIEW_PUBLIC_REPORT):
        abort(404)
    # What a visitor gets holds no member's data and no form token: caches may keep it.
    g.publicly_cacheable = not current_user.is_authenticated


def _cacheable(response: Response) -> Response:
    if g.get("publicly_cacheable"):
        response.headers["Cache-Control"] = "public, max-age=900"
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")  # the page is translated: a shared cache must tell
    return response


@bp.route("/public")
def public() -> Response:
    _require_public()
    report = public_report(_min_count())
    return _cacheable(make_response(render_template(
        "reports/public.html", report=report, gaps=_gap_report(required=False),
        min_count=_min_count(), **_gap_choices())))


@bp.route("/public/tables/<name>.csv")
def public_download(name: str) -> Response:
    _require_public()
    if name in GAP_TABLES:
        return _cacheable(_gap_download(_gap_report(required=True), name,  # type: ignore[arg-type]
                                        "public-coverage"))
    return _cacheable(_table_download(public_report(_min_count()).table(name), f"public-{name}"))


# The partner, listing-freshness and grant pages live on this blueprint too.
from directory.reports import grant_views as _grant_views  # noqa: E402, F401
from directory.reports import partner_views as _partner_views  # noqa: E402, F401
