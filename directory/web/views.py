"""The home page: a welcome for visitors; for members, the work that needs them."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from directory.accounts.permissions import Permission, can
from directory.admin.operations import network_overview
from directory.orgs.freshness import count_stale_listings
from directory.orgs.operations import network_summary
from directory.referrals import boxes, notifications

bp = Blueprint("web", __name__)


@bp.route("/")
def home() -> str:
    if not can(current_user, Permission.VIEW_DIRECTORY):
        return render_template("web/home.html", summary=None)
    refers = can(current_user, Permission.USE_REFERRALS)
    coordinates = can(current_user, Permission.MANAGE_NETWORK)
    return render_template(
        "web/home.html", summary=network_summary(),
        desk=boxes.desk(current_user) if refers else None,
        unread=notifications.unread(current_user) if refers else [],
        administered=[m.organization for m in current_user.memberships
                      if can(current_user, Permission.EDIT_LISTING, m.organization)],
        overview=network_overview() if coordinates else None,
        overdue=boxes.network_overdue() if coordinates else None,
        stale=(count_stale_listings(current_app.config["LISTING_REVIEW_DAYS"]) if coordinates
               else None))
