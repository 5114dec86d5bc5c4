"""The home page: a welcome for visitors; for members, the work that needs them."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.wrappers import Response
from wtforms import ValidationError

from directory.accounts.permissions import Permission, can
from directory.accounts.views import safe_next_url
from directory.admin.operations import network_overview
from directory.extensions import csrf
from directory.i18n import LANGUAGE_COOKIE, known_language
from directory.orgs.freshness import count_stale_listings
from directory.orgs.operations import network_summary
from directory.referrals import boxes, notifications

bp = Blueprint("web", __name__)
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


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


@bp.route("/language", methods=["POST"])
@csrf.exempt
def choose_language() -> Response:
    """The switcher on every page: a cookie for the browser, and the setting of a signed-in
    user, so that their mail follows too."""
    if current_user.is_authenticated and current_app.config.get("WTF_CSRF_ENABLED", True):
        # Visitors post without a token (their pages set no session cookie, so caches may keep
        # them) and change only a cookie of theirs; a member's setting takes the usual check.
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from exc
    language = known_language(request.form.get("language"))
    if language is None:
        abort(400, description=_("Choose English or Spanish."))
    if current_user.is_authenticated:
        current_user.language = language
    response = redirect(safe_next_url(request.form.get("next")) or url_for("web.home"))
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_AGE, httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
