"""The grant period reports, on the reports blueprint: the network's for coordinators, and
each organization's for its admins (and coordinators). See directory/reports/grants.py for
what each viewer may count."""

from __future__ import annotations

from flask import Response, render_template
from flask_login import current_user

from directory.accounts.permissions import Permission, is_admin_of, require
from directory.reports import grants
from directory.reports.tables import Viewer
from directory.reports.views import _min_count, _organization, _table_download, bp, date_range


@bp.route("/grants")
def grants_page() -> str:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    period = date_range()
    return render_template("reports/grants.html", report=grants.report(
        period, Viewer(_min_count())), period=period, min_count=_min_count())


@bp.route("/grants/<name>.csv")
def grants_download(name: str) -> Response:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    period = date_range()
    report = grants.report(period, Viewer(_min_count()))
    return _table_download(report.table(name), f"network-grants-{period.start}-{period.end}-{name}")


def _organization_report(slug: str) -> grants.GrantReport:
    """An organization's own admins read its figures as their own; a coordinator who is not
    one reads them as any outsider does: suppressed, received fields counted as recorded."""
    organization = _organization(slug)
    require(current_user, Permission.VIEW_ORGANIZATION_REPORT, organization)
    own = frozenset({str(organization.id)}) if is_admin_of(current_user, organization) \
        else frozenset()
    return grants.report(date_range(), Viewer(_min_count(), own=own), organization)


@bp.route("/organizations/<slug>/grants")
def organization_grants_page(slug: str) -> str:
    report = _organization_report(slug)
    return render_template("reports/grants.html", report=report, period=report.period,
                           min_count=_min_count())


@bp.route("/organizations/<slug>/grants/<name>.csv")
def organization_grants_download(slug: str, name: str) -> Response:
    report = _organization_report(slug)
    period = report.period
    return _table_download(report.table(name),
                           f"{slug}-grants-{period.start}-{period.end}-{name}")
