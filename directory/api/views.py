"""The API's routes: parse the input, call the operation, dump through a schema.

Each route's docstring holds its OpenAPI operation (YAML after ``---``), from which
/api/v1/openapi.json is generated; ``@errors(...)`` names the error statuses it answers with,
whose shared responses are declared once in ``openapi.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user
from marshmallow import ValidationError

from directory.accounts.models import User
from directory.accounts.permissions import Permission, can, referral_side, require
from directory.api.auth import bearer_secret, current_api_token
from directory.api.errors import ApiError, error_response
from directory.api.openapi import errors, openapi_document
from directory.api.pagination import decode_cursor, encode_cursor
from directory.api.schemas import (
    ListingUpdateSchema,
    MeSchema,
    OrganizationSchema,
    ReferralArgsSchema,
    ReferralDetailSchema,
    ReferralNoteOutSchema,
    ReferralPageSchema,
    SearchArgsSchema,
    SearchPageSchema,
    ServiceTreeSchema,
)
from directory.db import writes_when_read
from directory.extensions import csrf, limiter
from directory.orgs.listing import ListingPermissionError, update_listing
from directory.orgs.models import Organization
from directory.orgs.operations import (
    ListingError,
    days_since,
    location_view,
    service_categories,
)
from directory.orgs.results import present
from directory.orgs.search import SearchError, search
from directory.orgs.views import load_organization
from directory.referrals import boxes, disclosure, notifications, states
from directory.referrals import operations as ops
from directory.referrals.errors import ReferralError
from directory.referrals.models import Referral, ReferralNote, ReferralStatus
from directory.referrals.schemas import (
    ConsentSchema,
    NoteSchema,
    ReferralSchema,
    TransitionSchema,
)
from directory.schema_messages import in_reader_language

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # checked below, for session requests only (see api/auth.py)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def rate_limit_key() -> str:
    """Each token has its own budget; a session shares its user's; a visitor, its address."""
    if current_user.is_authenticated:
        token = current_api_token()
        return f"token:{token.id}" if token else f"user:{current_user.id}"
    return f"address:{get_remote_address()}"


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=rate_limit_key)(bp)


@bp.before_request
def _protect_sessions_from_csrf() -> None:
    """A request with a bearer token never uses the cookie (api/auth.py), so only
    session requests need the CSRF token."""
    if (current_app.config["WTF_CSRF_ENABLED"] and request.method not in SAFE_METHODS
            and bearer_secret() is None):
        csrf.protect()


@bp.errorhandler(ValidationError)
def _invalid(error: ValidationError) -> Response:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return error_response(400, _("The request has invalid fields."), code="validation_error",
                          fields=in_reader_language(messages))


@bp.errorhandler(SearchError)
def _unsearchable(error: SearchError) -> Response:
    return error_response(400, str(error), code="validation_error",
                          fields={error.field: [str(error)]})


@bp.errorhandler(ReferralError)
def _refused(error: ReferralError) -> Response:
    return error_response(error.status, error.message,
                          code=error.code or ("validation_error" if error.fields else None),
                          fields={name: [message] for name, message in error.fields.items()})


def signed_in() -> User:
    """The caller, or 401: the API never redirects to the sign-in page."""
    if not current_user.is_authenticated:
        if bearer_secret() is not None:
            raise ApiError(401, _("This API token is unknown, expired or revoked."))
        raise ApiError(401, _("Sign in, or send an API token as "
                             "'Authorization: Bearer <token>'."))
    return current_user  # type: ignore[return-value]


def _search_input() -> dict[str, Any]:
    values: dict[str, Any] = {key: value.strip() for key, value in request.args.items()
                              if key != "kind" and value.strip()}
    kinds = [kind for kind in request.args.getlist("kind") if kind]
    if kinds:
        values["kind"] = kinds
    return values


@bp.get("/search")
@errors(400, 401, 403)
def search_directory() -> Response:
    """Who is near a place, or whose coverage contains it, nearest first.
    ---
    get:
      summary: Search the directory
      parameters:
      - in: query
        schema: SearchArgsSchema
      responses:
        200:
          content:
            application/json:
              schema: SearchPageSchema
    """
    require(signed_in(), Permission.VIEW_DIRECTORY)
    query = SearchArgsSchema().load(_search_input())
    covering, cursor = query.pop("covering"), query.pop("cursor")
    limit = query.pop("limit") or current_app.config["PAGE_SIZE"]
    if covering is not None:
        query["mode"] = "covering" if covering else "near"
    offset = decode_cursor(cursor, query)
    results = search(query, limit=limit, offset=offset, geocoder=current_app.config["GEOCODER"])
    more = results.has_more and len(results.hits) == limit
    return jsonify(SearchPageSchema().dump({
        "mode": results.mode,
        "place": {"label": results.label, "lat": results.point.lat, "lon": results.point.lon},
        "items": present(results, current_user),
        "next_cursor": encode_cursor(offset + limit, query) if more else None,
    }))


@bp.get("/services")
@errors(401, 403)
def services() -> Response:
    """The services taxonomy as a tree; search takes any code (sub-services included).
    ---
    get:
      summary: The services taxonomy
      responses:
        200:
          content:
            application/json:
              schema: ServiceTreeSchema
    """
    require(signed_in(), Permission.VIEW_DIRECTORY)
    nodes: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    categories = service_categories()
    for category in categories:
        nodes[category.id] = {"code": category.code, "name": category.name,
                              "description": category.description, "children": []}
    for category in categories:
        parent = nodes.get(category.parent_id) if category.parent_id else None
        (parent["children"] if parent else roots).append(nodes[category.id])
    return jsonify(ServiceTreeSchema().dump({"services": roots}))


def _organization_view(organization: Organization) -> dict[str, Any]:
    reveal = can(current_user, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization)
    return {
        "id": organization.id, "slug": organization.slug, "name": organization.name,
        "kind": organization.kind.value, "status": organization.status.value,
        "description": organization.description, "website": organization.website,
        "email": organization.email, "phone": organization.phone,
        "accepting_referrals": organization.accepting_referrals,
        "verified_days": days_since(organization.verified_at),
        "languages": organization.language_codes,
        "populations": [population.value for population in organization.population_codes],
        "services": [{"code": service.category.code, "name": service.category.name}
                     for service in organization.services],
        "contacts": organization.contacts,
        "locations": [location_view(location, reveal) for location in organization.locations],
        "coverage": [area.label for area in organization.coverage_areas],
        "min_age": organization.min_age, "max_age": organization.max_age,
        "eligibility_note": organization.eligibility_note,
        "capacity_note": organization.capacity_note,
        "capacity_noted_at": organization.capacity_noted_at,
        "confirmed_days": days_since(organization.confirmed_at),
    }


@bp.get("/organizations/<slug>")
@errors(401, 403, 404)
def organization(slug: str) -> Response:
    """An organization's listing; confidential locations show an address and point to its own
    members only.
    ---
    get:
      summary: An organization's listing
      parameters:
      - {in: path, name: slug, required: true, schema: {type: string}}
      responses:
        200:
          content:
            application/json:
              schema: OrganizationSchema
    """
    signed_in()
    return jsonify(OrganizationSchema().dump(_organization_view(load_organization(slug))))


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a JSON error that says what is wrong with it
    (``directory.inputs.loads`` parses it: bounded depth, no NUL, no lone surrogate)."""
    if request.mimetype != "application/json":
        raise ApiError(415, _("Send the body as JSON, with Content-Type: application/json."))
    body = request.get_json(silent=False)
    if not isinstance(body, dict):
        raise ApiError(400, _("The body must be a JSON object."), code="validation_error",
                       fields={"_schema": [_("Expected a JSON object.")]})
    return body


@bp.patch("/organizations/<slug>")
@errors(400, 401, 403, 404, 413, 415)
def update_organization(slug: str) -> Response:
    """Change an organization's listing: its admins and the coordinators may.
    ---
    patch:
      summary: Update an organization's listing
      description: >-
        Only the fields given change, and a list given replaces the list: services (taxonomy
        codes, sub-services included), languages, populations, contacts, locations. A
        location given with the `id` the GET answers is changed in place (its point stays
        unless coordinates or a new ZIP code or city are given; its radius coverage areas
        follow it), one given without an `id` is added, and one left out is removed with
        the radius areas drawn around it; the last location cannot go while referrals to
        the organization are in progress (400). Weekly `hours` (several intervals a day),
        `open_24_7` and dated `closures` replace the location's own. A confidential
        location the caller may not see is never listed, and stays as it is. `name` and
        `kind` are a coordinator's change (403 for an admin). The audit log records the
        names of the fields that changed.
      parameters:
      - {in: path, name: slug, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema: ListingUpdateSchema
      responses:
        200:
          content:
            application/json:
              schema: OrganizationSchema
    """
    user = signed_in()
    organization = load_organization(slug)
    require(user, Permission.EDIT_LISTING, organization)
    try:
        update_listing(user, organization, ListingUpdateSchema().load(_json_object()))
    except ListingPermissionError as exc:
        raise ApiError(403, str(exc), fields=exc.fields) from exc
    except ListingError as exc:
        raise ApiError(400, str(exc), code="validation_error", fields=exc.fields) from exc
    return jsonify(OrganizationSchema().dump(_organization_view(organization)))


@bp.get("/me")
@errors(401)
def me() -> Response:
    """Who the caller is, and the organizations they act for.
    ---
    get:
      summary: The caller
      responses:
        200:
          content:
            application/json:
              schema: MeSchema
    """
    user = signed_in()
    return jsonify(MeSchema().dump({
        "id": user.id, "name": user.name, "email": user.email,
        "is_coordinator": user.is_coordinator,
        "organizations": [{"slug": m.organization.slug, "name": m.organization.name,
                           "role": m.role.value, "status": m.organization.status.value}
                          for m in user.memberships],
    }))


def _referral_item(referral: Referral) -> dict[str, Any]:
    """A referral's plain columns: organizations, status, timings; never client details."""
    return {
        "id": referral.public_id, "version": referral.version,
        "status": referral.status.value, "urgency": referral.urgency.value,
        "service": referral.service,
        "sender": {"slug": referral.sender.slug, "name": referral.sender.name},
        "receiver": {"slug": referral.receiver.slug, "name": referral.receiver.name},
        "created_at": referral.created_at, "sent_at": referral.sent_at,
        "response_due_at": referral.response_due_at, "viewed_at": referral.viewed_at,
        "responded_at": referral.responded_at, "finished_at": referral.finished_at,
        "overdue": referral.is_overdue(),
    }


def _referral_detail(user: User, referral: Referral) -> Response:
    """The referral as ``user`` may see it; ``client_view`` audits the view of client data."""
    view = disclosure.client_view(user, referral)
    side = referral_side(user, referral)
    consent = referral.consent
    return jsonify(ReferralDetailSchema().dump({
        **_referral_item(referral),
        "side": side.value if side else None,
        "transitions": [target.value for target in states.allowed_targets(referral.status, side)],
        "age_range": referral.age_range,
        # The hand-off plan goes with the client's details.
        "contact_person": view.details.get("contact_person", ""),
        "handoff_time": view.details.get("handoff_time", ""),
        "decline_reason": referral.decline_reason.value if referral.decline_reason else None,
        "outcome": referral.outcome.value if referral.outcome else None,
        "consent_in_force": consent is not None and consent.in_force(),
        "client": {"details": view.details, "identifying": view.identifying,
                   "reporting": view.reporting}
        if view.shown else None,
        "timeline": [{"kind": event.kind, "occurred_at": event.occurred_at,
                      "actor": event.actor_name, "from_status": event.from_status,
                      "to_status": event.to_status, "note": view.event_notes.get(event.id, "")}
                     for event in referral.events],
        "notes": [_note(note, body) for note, body in view.notes],
    }))


def _note(note: ReferralNote, body: str) -> dict[str, Any]:
    return {"author": note.author.name if note.author else "", "created_at": note.created_at,
            "organization": note.author_org.name if note.author_org else None, "body": body}


def _referral(public_id: str) -> tuple[User, Referral]:
    """The caller and the referral, or 404 when the caller is no side of it."""
    user = signed_in()
    return user, ops.get_referral(user, public_id)


@bp.get("/referrals")
@errors(400, 401, 403)
def referrals() -> Response:
    """The caller's inbox or outbox, newest first; items carry no client details.
    ---
    get:
      summary: List referrals
      parameters:
      - in: query
        schema: ReferralArgsSchema
      responses:
        200:
          content:
            application/json:
              schema: ReferralPageSchema
    """
    user = signed_in()
    require(user, Permission.USE_REFERRALS)
    query = ReferralArgsSchema().load(request.args)
    cursor = query.pop("cursor")
    limit = query.pop("limit") or current_app.config["PAGE_SIZE"]
    offset = decode_cursor(cursor, query)
    filters = boxes.BoxFilters(status=query["status"], urgency=query["urgency"],
                             partner=query["partner"].strip())
    found = boxes.box(user, query["box"], filters, offset=offset, limit=limit + 1)
    return jsonify(ReferralPageSchema().dump({
        "items": [_referral_item(referral) for referral in found[:limit]],
        "next_cursor": encode_cursor(offset + limit, query) if len(found) > limit else None,
    }))


@bp.post("/referrals")
@errors(400, 401, 403, 409, 413, 415)
def create_referral() -> Response | tuple[Response, int]:
    """Send a referral with its consent record, as the web form does (same schema).
    ---
    post:
      summary: Send a referral
      requestBody:
        required: true
        content:
          application/json:
            schema: ReferralSchema
      responses:
        201:
          content:
            application/json:
              schema: ReferralDetailSchema
        409:
          description: >-
            Error code `mismatch`: the client's age range or population is outside what the
            partner lists (the message says how). Nothing was sent; send again with
            `"acknowledge_mismatch": true` to go ahead, which the referral's timeline and the
            audit log record.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Error'}
    """
    user = signed_in()
    require(user, Permission.USE_REFERRALS)
    referral = ops.create_referral(user, ReferralSchema().load(_json_object()))
    return _referral_detail(user, referral), 201


@bp.get("/referrals/<public_id>")
@errors(401, 404)
@writes_when_read
def referral(public_id: str) -> Response:
    """One referral with its timeline and notes; the receiver's first opening is recorded.
    ---
    get:
      summary: A referral
      parameters:
      - {in: path, name: public_id, required: true, schema: {type: string}}
      responses:
        200:
          content:
            application/json:
              schema: ReferralDetailSchema
    """
    user, found = _referral(public_id)
    ops.mark_viewed(user, found)
    notifications.mark_read(user, found)
    return _referral_detail(user, found)


@bp.post("/referrals/<public_id>/transitions")
@errors(400, 401, 403, 404, 409, 413, 415)
def transition_referral(public_id: str) -> Response:
    """Move a referral through its states, against the version last seen; sending a draft
    takes a ``consent`` record.
    ---
    post:
      summary: Change a referral's state
      parameters:
      - {in: path, name: public_id, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema: TransitionSchema
      responses:
        200:
          content:
            application/json:
              schema: ReferralDetailSchema
    """
    user, found = _referral(public_id)
    body = _json_object()
    consent = body.pop("consent", None)
    data = TransitionSchema().load(body)
    if data["to"] != ReferralStatus.SENT:
        if consent is not None:
            raise ValidationError({"consent": [_("Only sending a draft takes a consent record.")]})
        ops.transition(user, found, data)
        return _referral_detail(user, found)
    try:
        consent_data = ConsentSchema().load(consent if consent is not None else {})
    except ValidationError as exc:
        raise ValidationError({"consent": exc.messages}) from exc
    ops.send_draft(user, found, data["version"], consent_data)
    return _referral_detail(user, found)


@bp.post("/referrals/<public_id>/notes")
@errors(400, 401, 403, 404, 413, 415)
def add_referral_note(public_id: str) -> tuple[Response, int]:
    """Add a secure note, seen by both sides of the hand-off.
    ---
    post:
      summary: Add a note to a referral
      parameters:
      - {in: path, name: public_id, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema: NoteSchema
      responses:
        201:
          content:
            application/json:
              schema: ReferralNoteOutSchema
    """
    user, found = _referral(public_id)
    data = NoteSchema().load(_json_object())
    note = disclosure.add_note(user, found, data)
    return jsonify(ReferralNoteOutSchema().dump(_note(note, data["body"]))), 201


@bp.post("/referrals/<public_id>/consent/revoke")
@errors(401, 403, 404)
def revoke_referral_consent(public_id: str) -> Response:
    """Revoke the consent in force: the receiver no longer sees the client's details.
    ---
    post:
      summary: Revoke a referral's consent
      parameters:
      - {in: path, name: public_id, required: true, schema: {type: string}}
      responses:
        200:
          content:
            application/json:
              schema: ReferralDetailSchema
    """
    user, found = _referral(public_id)
    disclosure.revoke_consent(user, found)
    return _referral_detail(user, found)


@bp.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3.1 document, generated from its routes and schemas.
    ---
    get:
      summary: This document
      security: []
      responses:
        200:
          description: The OpenAPI 3.1 document.
          content:
            application/json:
              schema: {type: object}
    """
    return jsonify(openapi_document(current_app))
