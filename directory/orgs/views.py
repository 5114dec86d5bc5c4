"""Organization list and profile pages."""

from __future__ import annotations

import math
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import ValidationError

from directory.accounts.permissions import Permission, can, require
from directory.geo.boundaries import MAX_DETAIL_DEGREES, basemap_detail_geojson, basemap_geojson
from directory.geo.states import STATES
from directory.inputs import page_number
from directory.orgs.coverage import add_coverage_area, coverage_label, remove_coverage_area
from directory.orgs.models import (
    TRANSLATED_KIND_LABELS,
    TRANSLATED_LANGUAGES,
    TRANSLATED_POPULATION_LABELS,
    CoverageKind,
    Organization,
    OrganizationKind,
    category_label,
    language_label,
)
from directory.orgs.operations import (
    ListingError,
    OrganizationFilters,
    agreement_status,
    get_organization,
    list_organizations,
    location_view,
    service_categories,
)
from directory.orgs.results import coverage_shapes, present
from directory.orgs.schemas import CoverageAreaSchema, SearchQuerySchema
from directory.orgs.search import SearchError, search

bp = Blueprint("orgs", __name__)
bp.add_app_template_filter(language_label, "language_label")
bp.add_app_template_global(coverage_label, "coverage_label")
bp.add_app_template_global(category_label, "category_label")


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
    page = list_organizations(filters, page_number(), current_app.config["PAGE_SIZE"])
    return render_template("orgs/index.html", page=page, filters=filters,
                           kinds=TRANSLATED_KIND_LABELS,
                           states=STATES, categories=service_categories())


@bp.route("/organizations/<slug>")
def profile(slug: str) -> str:
    organization = load_organization(slug)
    reveal = can(current_user, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization)
    return render_template(
        "orgs/profile.html",
        organization=organization,
        locations=[location_view(location, reveal) for location in organization.locations],
        can_edit=can(current_user, Permission.EDIT_LISTING, organization),
        agreement=agreement_status(organization)
        if can(current_user, Permission.VIEW_PARTNERSHIP_AGREEMENT, organization) else None,
    )


# Schemas keep no state between loads: one instance serves every request.
SEARCH_QUERY = SearchQuerySchema()
RADIUS_CHOICES = [(miles, _l("%(miles)s miles", miles=miles)) for miles in (10, 25, 50, 100, 250)]
VERIFIED_CHOICES = [(30, _l("in the last 30 days")), (90, _l("in the last 3 months")),
                    (180, _l("in the last 6 months")), (365, _l("in the last year"))]


def _search_input() -> dict[str, Any]:
    """The query string as the search schema takes it: blanks dropped, kinds as a list."""
    values: dict[str, Any] = {key: value.strip() for key, value in request.args.items()
                              if key not in {"kind", "page"} and value.strip()}
    kinds = [kind for kind in request.args.getlist("kind") if kind]
    if kinds:
        values["kind"] = kinds
    return values


@bp.route("/search")
def search_page() -> tuple[str, int]:
    require(current_user, Permission.VIEW_DIRECTORY)
    values = _search_input()
    context: dict[str, Any] = {
        "values": values, "kinds": TRANSLATED_KIND_LABELS, "languages": TRANSLATED_LANGUAGES,
        "populations": TRANSLATED_POPULATION_LABELS, "categories": service_categories(),
        "radius_choices": RADIUS_CHOICES, "verified_choices": VERIFIED_CHOICES,
        "errors": {}, "results": None, "views": [], "map_data": None,
    }
    if "near" not in values:
        return render_template("orgs/search.html", **context), 200
    page_size = current_app.config["PAGE_SIZE"]
    page = page_number()
    try:
        query = SEARCH_QUERY.load(values)
        # No total: counting every match costs more than finding the nearest page.
        results = search(query, limit=page_size, offset=(page - 1) * page_size,
                         geocoder=current_app.config["GEOCODER"])
    except ValidationError as exc:
        context["errors"] = exc.messages
        return render_template("orgs/search.html", **context), 400
    except SearchError as exc:
        context["errors"] = {exc.field: [str(exc)]}
        return render_template("orgs/search.html", **context), 400
    views = present(results, current_user)
    profile_urls = {view.slug: url_for("orgs.profile", slug=view.slug) for view in views}
    context.update(results=results, views=views, query=query, page=page,
                   profile_urls=profile_urls, map_data=_map_data(results, views, profile_urls))
    return render_template("orgs/search.html", **context), 200


def _map_data(results: Any, views: list[Any], profile_urls: dict[str, str]) -> dict[str, Any]:
    return {
        "lat": results.point.lat, "lon": results.point.lon, "label": results.label,
        "radius_m": round(results.radius_mi * 1609.344) if results.radius_mi else None,
        "tiles": current_app.config["MAP_TILES"],
        "attribution": current_app.config["MAP_ATTRIBUTION"],
        "basemap": url_for("orgs.basemap"),
        "basemap_detail": url_for("orgs.basemap_detail"),
        "results": [{"name": view.name, "url": profile_urls[view.slug],
                     "lat": view.lat, "lon": view.lon, "distance_mi": view.distance_mi,
                     "rounded": view.distance_rounded, "shapes": view.shapes}
                    for view in views],
    }


@bp.route("/search/basemap.json")
def basemap() -> Response:
    require(current_user, Permission.VIEW_DIRECTORY)
    response = current_app.response_class(basemap_geojson(), mimetype="application/geo+json")
    response.cache_control.max_age = 86400
    response.cache_control.private = True
    return response


@bp.route("/search/basemap/detail.json")
def basemap_detail() -> Response:
    """County outlines and place names in ``bbox=west,south,east,north`` (degrees)."""
    require(current_user, Permission.VIEW_DIRECTORY)
    try:
        west, south, east, north = (float(part) for part in request.args["bbox"].split(","))
    except (KeyError, ValueError):
        abort(400, description=_("Give bbox=west,south,east,north in degrees."))
    finite = all(math.isfinite(value) for value in (west, south, east, north))
    if not (finite and -180 <= west < east <= 180 and -90 <= south < north <= 90):
        abort(400, description=_("The bbox must run west to east and south to north, in "
                                 "degrees."))
    if east - west > MAX_DETAIL_DEGREES or north - south > MAX_DETAIL_DEGREES:
        abort(400, description=_("The bbox may span at most %(degrees)s degrees.",
                                 degrees=f"{MAX_DETAIL_DEGREES:g}"))
    response = current_app.response_class(basemap_detail_geojson(west, south, east, north),
                                          mimetype="application/geo+json")
    response.cache_control.max_age = 86400
    response.cache_control.private = True
    return response


@bp.route("/organizations/<slug>/coverage", methods=["GET", "POST"])
def coverage(slug: str) -> tuple[str, int] | Response:
    organization = load_organization(slug)
    require(current_user, Permission.EDIT_LISTING, organization)
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        values = {key: value for key, value in request.form.items()
                  if key != "csrf_token" and value.strip()}
        values["services"] = [code for code in request.form.getlist("services") if code]
        try:
            area = add_coverage_area(organization, CoverageAreaSchema().load(values))
        except ValidationError as exc:
            errors = exc.messages
        except ListingError as exc:
            errors = exc.fields or {"kind": [str(exc)]}
        else:
            flash(_("Coverage area added: %(area)s.", area=coverage_label(area.kind, area.label)),
                  "success")
            return redirect(url_for("orgs.coverage", slug=slug))
    reveal = can(current_user, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization)
    return render_template(
        "orgs/coverage.html", organization=organization, errors=errors, values=values,
        shapes=coverage_shapes(organization, reveal),
        coverage_kinds=list(CoverageKind), states=STATES, categories=service_categories(),
        locations=[(location, location_view(location, reveal))
                   for location in organization.locations],
    ), 400 if errors else 200


@bp.route("/organizations/<slug>/coverage/<int:area_id>/delete", methods=["POST"])
def delete_coverage(slug: str, area_id: int) -> Response:
    organization = load_organization(slug)
    require(current_user, Permission.EDIT_LISTING, organization)
    try:
        remove_coverage_area(organization, area_id)
    except ListingError:
        abort(404)
    flash(_("Coverage area removed."), "success")
    return redirect(url_for("orgs.coverage", slug=slug))
