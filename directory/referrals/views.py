"""Referral pages: inbox, outbox, a new referral, one referral's page and its actions.

Each view parses input with the schemas, calls an operation and renders the result; the
operations decide and change. A referral one is no side of answers 404, whatever its id.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from directory.accounts.permissions import Permission, can, referral_side, require
from directory.db import db_session, writes_when_read
from directory.inputs import query_int
from directory.orgs.models import LANGUAGES, Organization, ServiceCategory
from directory.referrals import boxes, disclosure, notifications, states
from directory.referrals import operations as ops
from directory.referrals.errors import (
    InvalidReferral,
    MismatchWarning,
    ReferralError,
    ReferralNotFound,
)
from directory.referrals.models import (
    AGE_RANGES,
    CLIENT_POPULATIONS,
    DEFAULT_URGENCY,
    IDENTIFYING_ITEM_LABELS,
    IDENTIFYING_ITEMS,
    REPORTING_ITEM_LABELS,
    CloseOutcome,
    ConsentMethod,
    DeclineReason,
    MinorBasis,
    Referral,
    ReferralStatus,
    Urgency,
    consent_item_labels,
    reporting_choices,
)
from directory.referrals.schemas import (
    ConsentSchema,
    IdentifyingSchema,
    NoteSchema,
    PlacementSchema,
    ReferralSchema,
    TransitionSchema,
)

bp = Blueprint("referrals", __name__, url_prefix="/referrals")
Page = str | tuple[str, int] | Response
MAX_AGE_DAYS = 36_500  # the "created within N days" filter
PLACEMENT_PICKS = 10  # partner fields on the placement form (PlacementSchema's maximum)


def _choices() -> dict[str, Any]:
    """The forms' options, their labels in the request's language (so built per request)."""
    return {"languages": [(name, name) for name in LANGUAGES.values()],
            "urgencies": list(Urgency), "age_ranges": AGE_RANGES,
            "methods": [(method.value, method.label) for method in ConsentMethod],
            "minor_bases": [(basis.value, basis.label) for basis in MinorBasis],
            "identifying_items": IDENTIFYING_ITEMS,
            "identifying_item_labels": IDENTIFYING_ITEM_LABELS,
            "consent_item_labels": consent_item_labels,
            "decline_choices": [(reason.value, reason.label) for reason in DeclineReason],
            "outcome_choices": [(outcome.value, outcome.label) for outcome in CloseOutcome],
            "statuses": list(ReferralStatus), "default_urgency": DEFAULT_URGENCY.value,
            "status_labels": {status.value: status.label for status in ReferralStatus},
            "automatic_actor": ops.AUTOMATIC,
            "reporting_choices": reporting_choices(),
            "reporting_item_labels": REPORTING_ITEM_LABELS}


@bp.app_context_processor
def unread_notifications() -> dict[str, Any]:
    """The header's unread count, computed only where a template asks for it."""
    def count() -> int:
        if not can(current_user, Permission.USE_REFERRALS):
            return 0
        return notifications.unread_count(current_user)
    return {"unread_notifications": count}


def flat_errors(messages: Any, prefix: str = "") -> dict[str, str]:
    """Marshmallow's nested messages as one message per form field (``consent_purpose``)."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and not all(isinstance(k, int) for k in value):
                flat.update(flat_errors(value, f"{name}_"))
            else:
                flat[name] = " ".join(_texts(value))
    return flat


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return [str(value)]


def _form() -> dict[str, str]:
    """The posted fields, less the CSRF token (checked already; no schema knows it)."""
    return {name: value for name, value in request.form.items() if name != "csrf_token"}


def _field_errors(error: ReferralError) -> dict[str, str]:
    return {name.replace(".", "_"): message for name, message in error.fields.items()}


# --- lists ----------------------------------------------------------------------------------

def _box(which: str) -> str:
    require(current_user, Permission.USE_REFERRALS)
    filters = boxes.BoxFilters(status=request.args.get("status", ""),
                             urgency=request.args.get("urgency", ""),
                             partner=request.args.get("partner", "").strip()[:100],
                             max_age_days=query_int("age", None, maximum=MAX_AGE_DAYS))
    return render_template("referrals/box.html", which=which, filters=filters,
                           referrals=boxes.box(current_user, which, filters), **_choices())


@bp.route("/inbox")
def inbox() -> str:
    return _box("inbox")


@bp.route("/outbox")
def outbox() -> str:
    return _box("outbox")


# --- a new referral -------------------------------------------------------------------------

def _consent_form() -> dict[str, Any]:
    data: dict[str, Any] = {name: request.form.get(f"consent_{name}", "")
                            for name in ("purpose", "method", "verbal_reason", "expires_on",
                                         "minor_basis", "legal_basis")}
    data["items"] = request.form.getlist("consent_items")
    return data


@bp.route("/new", methods=["GET", "POST"])
def new() -> Page:
    require(current_user, Permission.USE_REFERRALS)
    slug = request.values.get("to", "")
    if not slug:
        flash(_("Find the partner to refer to, then choose “Refer a client”."), "info")
        return redirect(url_for("orgs.search_page"))
    receiver = db_session.scalar(select(Organization).where(Organization.slug == slug[:80]))
    if receiver is None or not can(current_user, Permission.VIEW_ORGANIZATION, receiver):
        abort(404)
    senders = ops.sending_organizations(current_user)
    if not senders:
        abort(403)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    warning = None
    status = 200
    if request.method == "POST":
        values = _form()
        data = {name: value for name, value in values.items() if not name.startswith("consent_")}
        data["to"] = receiver.slug
        data["consent"] = _consent_form()
        try:
            referral = ops.create_referral(current_user, ReferralSchema().load(data))
        except ValidationError as exc:
            errors = flat_errors(exc.messages)
        except MismatchWarning as exc:
            warning = exc.message
            errors = {"form": exc.message}
            status = exc.status
        except ReferralError as exc:
            errors = _field_errors(exc) or {"form": exc.message}
            status = exc.status
        else:
            flash(_("Referral sent to %(name)s.", name=receiver.name), "success")
            return redirect(url_for("referrals.detail", public_id=referral.public_id))
        status = max(status, 400)
        db_session.rollback()
    elif not can(current_user, Permission.RECEIVE_REFERRALS, receiver):
        errors = {"form": _("%(name)s does not take referrals now.", name=receiver.name)}
    else:
        if request.args.get("service"):
            # Said before the form is filled: the service the search was for, if it is one.
            values["service"] = request.args["service"][:100]
            unfit = ops.service_mismatch(receiver, values["service"])
            if unfit is not None:
                errors = {"service": unfit,
                          "form": _("%(reason)s Choose a service it offers, or find another "
                                    "partner.", reason=unfit)}
        if request.args.get("population") in CLIENT_POPULATIONS:
            # The population the search was for: a mismatch is said before the form is filled.
            values["population"] = request.args["population"]
            warning = ops.mismatches([receiver], "", values["population"]).get(receiver.slug)
    return render_template("referrals/new.html", receiver=receiver, senders=senders,
                           services=ops.services_of(receiver), values=values,
                           consent_items=request.form.getlist("consent_items"),
                           errors=errors, warning=warning, **_choices()), status


@bp.route("/placements/new", methods=["GET", "POST"])
def new_placement() -> Page:
    """One de-identified request for a scarce service to several partners at once."""
    require(current_user, Permission.USE_REFERRALS)
    senders = ops.sending_organizations(current_user)
    if not senders:
        abort(403)
    slugs = [slug[:80] for slug in request.args.getlist("to")[:PLACEMENT_PICKS]]
    values: dict[str, Any] = {"service": request.args.get("service", "")[:100]}
    picked = ops.partner_names(slugs)
    errors: dict[str, str] = {}
    warning = None
    status = 200
    if request.method == "GET" and values["service"]:
        errors = _placement_mismatches(slugs, values["service"])
    if request.method == "POST":
        values = _form()
        picked = [entry.strip() for entry in request.form.getlist("partner") if entry.strip()]
        data: dict[str, Any] = {name: value for name, value in values.items()
                                if not name.startswith("consent_")
                                and name not in ("partners", "partner")}
        data["to"] = _partner_slugs()
        data["consent"] = _consent_form()
        try:
            placement = ops.create_placement_request(current_user, PlacementSchema().load(data))
        except ValidationError as exc:
            errors = flat_errors(exc.messages)
        except MismatchWarning as exc:
            warning = exc.message
            errors = {"form": exc.message}
            status = exc.status
        except ReferralError as exc:
            errors = _field_errors(exc) or {"form": exc.message}
            status = exc.status
        else:
            flash(_("Placement request sent to %(count)s partners: the first to accept gets "
                    "the referral.", count=len(placement.referrals)), "success")
            return redirect(url_for("referrals.outbox"))
        if "to" in errors:
            errors["partners"] = errors.pop("to")
        status = max(status, 400)
        db_session.rollback()
    services = db_session.scalars(select(ServiceCategory).order_by(ServiceCategory.name)).all()
    return render_template("referrals/placement.html", senders=senders, services=services,
                           values=values, errors=errors, warning=warning, picked=picked,
                           picks=PLACEMENT_PICKS,
                           partner_choices=ops.referable_partners(current_user),
                           **_choices()), status


def _partner_slugs() -> list[str]:
    """The partners picked (one per ``partner`` field, or one per line of ``partners``), by
    directory address."""
    entries = [*request.form.getlist("partner"),
               *request.form.get("partners", "").splitlines()]
    return [ops.partner_slug(entry) for entry in entries if entry.strip()][:50]


@bp.route("/partners.json")
def partners_json() -> Response:
    """The partner picker's choices as one types: active organizations taking referrals."""
    require(current_user, Permission.USE_REFERRALS)
    text = request.args.get("q", "").strip()[:100]
    found = ops.referable_partners(current_user, text, limit=20)
    return jsonify({"partners": [{"slug": partner.slug, "name": partner.name}
                                 for partner in found]})


def _placement_mismatches(slugs: list[str], service: str) -> dict[str, str]:
    """The partners listed that cannot be referred for ``service``, said before the form is
    filled."""
    partners = db_session.scalars(select(Organization).where(Organization.slug.in_(slugs))).all()
    unfit = [message for partner in partners
             if can(current_user, Permission.VIEW_ORGANIZATION, partner)
             and (message := ops.service_mismatch(partner, service)) is not None]
    if not unfit:
        return {}
    reasons = " ".join(unfit)
    return {"partners": reasons,
            "form": _("%(reasons)s Remove them or choose another service.", reasons=reasons)}


# --- one referral ---------------------------------------------------------------------------

def _load(public_id: str) -> Referral:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)  # visitors sign in first
    try:
        return ops.get_referral(current_user, public_id)
    except ReferralNotFound:
        abort(404)


def _detail_page(referral: Referral, errors: dict[str, str] | None = None,
                 status: int = 200) -> tuple[str, int]:
    side = referral_side(current_user, referral)
    return render_template(
        "referrals/detail.html", referral=referral, side=side,
        moves=states.allowed_targets(referral.status, side),
        view=disclosure.client_view(current_user, referral), errors=errors or {},
        overdue=referral.is_overdue(), redirects=ops.redirects_of(referral), **_choices()), status


@bp.route("/<public_id>")
@writes_when_read
def detail(public_id: str) -> Page:
    referral = _load(public_id)
    ops.mark_viewed(current_user, referral)
    notifications.mark_read(current_user, referral)
    return _detail_page(referral)


def _refused(public_id: str, error: ReferralError | ValidationError) -> tuple[str, int]:
    """Roll back whatever the refused action began, then show the page with the message."""
    db_session.rollback()
    referral = _load(public_id)
    if isinstance(error, ValidationError):
        return _detail_page(referral, flat_errors(error.messages) | {
            "form": _("Some information is missing or not valid.")}, 400)
    return _detail_page(referral, _field_errors(error) | {"form": error.message}, error.status)


@bp.route("/<public_id>/transitions", methods=["POST"])
def transition(public_id: str) -> Page:
    referral = _load(public_id)
    try:
        draft = ops.transition(current_user, referral,
                               TransitionSchema().load(_form()))
    except (ValidationError, ReferralError) as exc:
        return _refused(public_id, exc)
    flash(_("The referral is now: %(status)s.", status=referral.status.label), "success")
    if draft is not None:
        flash(_("A linked draft to the new partner is ready: it needs its own consent."), "info")
        return redirect(url_for("referrals.detail", public_id=draft.public_id))
    return redirect(url_for("referrals.detail", public_id=referral.public_id))


@bp.route("/<public_id>/send", methods=["POST"])
def send(public_id: str) -> Page:
    referral = _load(public_id)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        return _refused(public_id, InvalidReferral(_("The page is out of date: reload it.")))
    try:
        ops.send_draft(current_user, referral, version, ConsentSchema().load(_consent_form()))
    except ValidationError as exc:
        return _refused(public_id, ValidationError({"consent": exc.messages}))
    except ReferralError as exc:
        return _refused(public_id, exc)
    flash(_("Referral sent to %(name)s.", name=referral.receiver.name), "success")
    return redirect(url_for("referrals.detail", public_id=referral.public_id))


@bp.route("/<public_id>/identifying", methods=["POST"])
def share_identifying(public_id: str) -> Page:
    referral = _load(public_id)
    require(current_user, Permission.SHARE_IDENTIFYING, referral)
    data: dict[str, Any] = {name: value for name, value in _form().items()
                            if name in ("name", "phone", "address")}
    data["consent"] = _consent_form()
    try:
        ops.share_identifying(current_user, referral, IdentifyingSchema().load(data))
    except (ValidationError, ReferralError) as exc:
        return _refused(public_id, exc)
    flash(_("Identifying details shared with %(name)s.", name=referral.receiver.name), "success")
    return redirect(url_for("referrals.detail", public_id=referral.public_id))


@bp.route("/<public_id>/notes", methods=["POST"])
def add_note(public_id: str) -> Page:
    referral = _load(public_id)
    try:
        disclosure.add_note(current_user, referral, NoteSchema().load(_form()))
    except (ValidationError, ReferralError) as exc:
        return _refused(public_id, exc)
    flash(_("Note added."), "success")
    return redirect(url_for("referrals.detail", public_id=referral.public_id) + "#notes")


@bp.route("/<public_id>/consent/revoke", methods=["POST"])
def revoke_consent(public_id: str) -> Page:
    referral = _load(public_id)
    try:
        disclosure.revoke_consent(current_user, referral)
    except ReferralError as exc:
        return _refused(public_id, exc)
    flash(_("Consent revoked: the partner no longer sees the client's details."), "success")
    return redirect(url_for("referrals.detail", public_id=referral.public_id))


# --- notifications and the old report's address --------------------------------------------

@bp.route("/notifications")
def notification_list() -> str:
    require(current_user, Permission.USE_REFERRALS)
    return render_template("referrals/notifications.html",
                           items=notifications.recent(current_user))


@bp.route("/notifications/read", methods=["POST"])
def notifications_read() -> Response:
    require(current_user, Permission.USE_REFERRALS)
    notifications.mark_read(current_user)
    return redirect(url_for("referrals.notification_list"))


@bp.route("/report")
def report() -> Response:
    """The old count cards: the network dashboard replaces them (``directory/reports``)."""
    return redirect(url_for("reports.index"), code=301)
