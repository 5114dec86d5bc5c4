"""The coordinators' partner and listing-freshness reports, on the reports blueprint.

Both count organizations (see directory/reports/partners.py for why nothing is suppressed)
and are for coordinators alone, like the network dashboard.
"""

from __future__ import annotations

from flask import Response, current_app, render_template
from flask_login import current_user

from directory.accounts.permissions import Permission, require
from directory.reports import freshness, partners
from directory.reports.views import _min_count, _table_download, bp, date_range


@bp.route("/partners")
def partners_page() -> str:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    period = date_range()
    return render_template("reports/partners.html", report=partners.report(period),
                           period=period, min_count=_min_count())


@bp.route("/partners/tables/<name>.csv")
def partners_table_download(name: str) -> Response:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    return _table_download(partners.report(date_range()).table(name), f"network-{name}")


@bp.route("/freshness")
def freshness_page() -> str:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    return render_template("reports/freshness.html", report=freshness.report(),
                           review_days=current_app.config["LISTING_REVIEW_DAYS"],
                           min_count=_min_count())


@bp.route("/freshness/tables/<name>.csv")
def freshness_table_download(name: str) -> Response:
    require(current_user, Permission.VIEW_REFERRAL_REPORT)
    return _table_download(freshness.report().table(name), f"listings-{name}")
