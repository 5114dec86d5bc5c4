"""The home page: a welcome for visitors, a starting point for members."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from directory.accounts.permissions import Permission, can
from directory.orgs.operations import network_summary

bp = Blueprint("web", __name__)


@bp.route("/")
def home() -> str:
    summary = network_summary() if can(current_user, Permission.VIEW_DIRECTORY) else None
    return render_template("web/home.html", summary=summary)
