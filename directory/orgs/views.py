"""Organization list and profile pages."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user

from directory.accounts.permissions import Permission, can, require
from directory.geo.states import STATES
from directory.orgs.models import LANGUAGES, KIND_LABELS, Organization, OrganizationKind
from directory.orgs.operations import (
    OrganizationFilters,
    days_since,
    get_organization,
    list_organizations,
    location_view,
    service_categories,
)

bp = Blueprint("orgs", __name__)


def load_organization(slug: str) -> Organization:
    """Load, then authorize: 404 for what the viewer may not know exists."""
    require(current_user, Permission.VIEW_DIRECTORY)
    organization = get_organization(slug)
    if organization is None:
        abort(404)
    require(current_user, Permission.VIEW_ORGANIZATION, organization, visible=False)
    return organization


@bp.route("/organizations")
def index() -> str:
    require(current_user, Permission.VIEW_DIRECTORY)
    kind = request.args.get("kind", "")
    state = request.args.get("state", "").upper()
    filters = OrganizationFilters(
        text=request.args.get("q", "").strip()[:100],
        kind=OrganizationKind(kind) if kind in OrganizationKind._value2member_map_ else None,
        state=state if state in STATES else None,
        service=request.args.get("service", "").strip()[:64] or None,
    )
    page = list_organizations(filters, request.args.get("page", 1, type=int) or 1,
                              current_app.config["PAGE_SIZE"])
    return render_template("orgs/index.html", page=page, filters=filters, kinds=KIND_LABELS,
                           states=STATES, categories=service_categories())


@bp.route("/organizations/<slug>")
def profile(slug: str) -> str:
    organization = load_organization(slug)
    reveal = can(current_user, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization)
    return render_template(
        "orgs/profile.html",
        organization=organization,
        locations=[location_view(location, reveal) for location in organization.locations],
        verified_days=days_since(organization.verified_at),
        languages=LANGUAGES,
        can_edit=can(current_user, Permission.EDIT_LISTING, organization),
    )
