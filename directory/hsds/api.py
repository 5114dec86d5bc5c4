"""The standard HSDS 3.0 API (Open Referral's API reference, `standard/3.0/openapi/openapi.json`)
under /hsds/: what a 211 system or an HSDS validator reads.

Open to a signed-in vetted member or an API token (``Authorization: Bearer``); with
``DIRECTORY_PUBLIC_HSDS_API=true``, to anyone. It publishes what the HSDS export does and
nothing more, for every caller alike (a publication format): active listings, confidential
locations at their city's centre with no address. Errors are the API's JSON errors; a
parameter the reference defines but given a value it cannot mean is a 400 saying why.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from directory.accounts.permissions import Permission, can
from directory.api.auth import bearer_secret
from directory.api.errors import ApiError
from directory.api.views import rate_limit_key
from directory.extensions import limiter
from directory.geo.gazetteer import gazetteer
from directory.hsds import queries, spec
from directory.inputs import bounded_int
from directory.orgs.coverage import locate
from directory.orgs.search import MAX_RADIUS_MI

bp = Blueprint("hsds_api", __name__, url_prefix="/hsds")
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=rate_limit_key)(bp)

HSDS_VERSION = "3.0"
PROFILE_URL = "https://docs.openreferral.org/en/v3.0/"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000
MAX_SEARCH = 200
MAX_PROXIMITY_M = MAX_RADIUS_MI * queries.METERS_PER_MILE
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}
# What a 404 says, by the kind of thing asked for (%(id)s: the id asked for).
NOT_FOUND = {
    "service": _l("No listed service has the id %(id)s."),
    "organization": _l("No listed organization has the id %(id)s."),
    "service at location": _l("No listed service at a location has the id %(id)s."),
    "taxonomy": _l("No listed taxonomy has the id %(id)s."),
    "taxonomy term": _l("No listed taxonomy term has the id %(id)s."),
}


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, message, code="validation_error", fields={name: [message]})


@bp.before_request
def _authorize() -> None:
    if can(current_user, Permission.READ_HSDS_API):
        return
    if not current_user.is_authenticated:
        if bearer_secret() is not None:
            raise ApiError(401, _("This API token is unknown, expired or revoked."))
        raise ApiError(401, _("Sign in, or send an API token as "
                             "'Authorization: Bearer <token>'."))
    raise ApiError(403, _("Only members of vetted organizations may read the HSDS API."))


# --- parameters -----------------------------------------------------------------------------

def _text(name: str, limit: int = MAX_SEARCH) -> str | None:
    value = request.args.get(name, "").strip()
    if len(value) > limit:
        raise _bad(name, _("%(name)s is longer than %(limit)s characters.", name=name,
                           limit=limit))
    return value or None


def _flag(name: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value in ("", *_FALSE):
        return False
    if value in _TRUE:
        return True
    raise _bad(name, _("%(name)s must be true or false.", name=name))


def _whole(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    value = bounded_int(raw, maximum) if raw.isascii() and raw.isdigit() else None
    if value is None or value < 1:
        raise _bad(name, _("%(name)s must be a whole number from 1 to %(maximum)s.", name=name,
                           maximum=maximum))
    return value


def _moment(name: str) -> dt.datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _bad(name, _("%(name)s must be an ISO 8601 date and time, such as "
                           "%(example)s.", name=name, example="2024-01-31T12:00:00Z")) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _filters(*, places: bool = False) -> queries.Filters:
    """The filters a list of services (or of services at locations, with ``places``) takes."""
    covering = near = None
    if places:
        postcode, proximity = _text("postcode", 10), _text("proximity", 32)
        point = _postcode_point(postcode) if postcode else None
        if proximity is not None:
            if point is None:
                raise _bad("proximity", _("proximity is measured from a postcode: give "
                                          "postcode too."))
            near = queries.Near(point, _meters(proximity) / queries.METERS_PER_MILE)
        else:
            covering = point
    return queries.Filters(
        search=_text("search"), taxonomy_term_id=_text("taxonomy_term_id", 64),
        taxonomy_id=_text("taxonomy_id", 64), organization_id=_text("organization_id", 64),
        modified_after=_moment("modified_after"), covering=covering, near=near)


def _postcode_point(postcode: str) -> Any:
    code = postcode.split("-")[0].strip()
    area = gazetteer().zip_area(code) if len(code) == 5 and code.isdigit() else None
    if area is None:
        raise _bad("postcode", _("postcode %(postcode)s is not a US ZIP code the directory "
                                 "knows.", postcode=repr(postcode)))
    return locate(area.lat, area.lon, area.code)


def _meters(raw: str) -> float:
    try:
        meters = float(raw)
    except ValueError:
        meters = -1.0
    if not 0 < meters <= MAX_PROXIMITY_M:  # also refuses nan and inf
        raise _bad("proximity", _("proximity must be a distance in meters, above 0 and at "
                                  "most %(maximum)s.", maximum=f"{MAX_PROXIMITY_M:.0f}"))
    return meters


def _format() -> str:
    value = request.args.get("format", "json").strip().lower() or "json"
    if value not in ("json", "ndjson"):
        raise _bad("format", _("format must be json or ndjson."))
    return value


# --- answers --------------------------------------------------------------------------------

def _ndjson(items: Iterator[dict[str, Any]]) -> Response:
    lines = (json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    return Response(stream_with_context(lines), mimetype="application/x-ndjson")


def _list(listing: queries.Listing) -> Response:
    """A page of the list, or with format=ndjson every item, one per line."""
    if _format() == "ndjson":
        return _ndjson(queries.stream(listing))
    number = _whole("page", 1, MAX_PAGE)
    per_page = _whole("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    return jsonify(queries.page(listing, number, per_page).as_dict())


def _memory_list(items: list[dict[str, Any]]) -> Response:
    if _format() == "ndjson":
        return _ndjson(iter(items))
    number = _whole("page", 1, MAX_PAGE)
    per_page = _whole("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    return jsonify(queries.page_of(items, number, per_page).as_dict())


def _found(item: dict[str, Any] | None, what: str, item_id: str) -> Response:
    if item is None:
        raise ApiError(404, str(NOT_FOUND[what]) % {"id": repr(item_id)})
    return jsonify(item)


@bp.get("/")
def meta() -> Response:
    return jsonify({"version": HSDS_VERSION, "profile": PROFILE_URL,
                    "openapi_url": url_for("hsds_api.openapi", _external=True)})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The reference this API follows, as Open Referral publishes it."""
    return current_app.response_class(_reference(), mimetype="application/json")


@functools.cache
def _reference() -> bytes:
    return (spec.STANDARD_PATH / "openapi" / "openapi.json").read_bytes()


@bp.get("/services")
def services() -> Response:
    full, minimal = _flag("full"), _flag("minimal")
    if full and minimal:
        raise _bad("minimal", _("minimal and full cannot both be true."))
    return _list(queries.services(_filters(), full=full, minimal=minimal))


@bp.get("/services/<string:service_id>")
def service(service_id: str) -> Response:
    return _found(queries.service(service_id), "service", service_id)


@bp.get("/organizations")
def organizations() -> Response:
    return _list(queries.organizations(_text("search"), full=_flag("full"),
                                       full_service=_flag("full_service")))


@bp.get("/organizations/<string:organization_id>")
def organization(organization_id: str) -> Response:
    return _found(queries.organization(organization_id, full_service=_flag("full_service")),
                  "organization", organization_id)


@bp.get("/service_at_locations")
def service_at_locations() -> Response:
    return _list(queries.service_at_locations(_filters(places=True), full=_flag("full")))


@bp.get("/service_at_locations/<string:link_id>")
def service_at_location(link_id: str) -> Response:
    return _found(queries.service_at_location(link_id), "service at location", link_id)


@bp.get("/taxonomies")
def taxonomies() -> Response:
    return _memory_list(queries.taxonomies(_text("search")))


@bp.get("/taxonomies/<string:taxonomy_id>")
def taxonomy(taxonomy_id: str) -> Response:
    found = next((item for item in queries.taxonomies(None) if item["id"] == taxonomy_id), None)
    return _found(found, "taxonomy", taxonomy_id)


@bp.get("/taxonomy_terms")
def taxonomy_terms() -> Response:
    return _memory_list(queries.taxonomy_terms(
        _text("search"), taxonomy_id=_text("taxonomy_id", 64),
        parent_id=_text("parent_id", 64), top_only=_flag("top_only")))


@bp.get("/taxonomy_terms/<string:term_id>")
def taxonomy_term(term_id: str) -> Response:
    found = next((item for item in queries.taxonomy_terms(None) if item["id"] == term_id), None)
    return _found(found, "taxonomy term", term_id)
