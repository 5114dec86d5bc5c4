"""The listing's own pages: editing it, its locations, "accepting referrals", confirming it
is current, its change history; and the coordinators' list of stale listings.

Each form is parsed here, validated by ``ListingChangesSchema`` and applied by
``update_listing``: the same path as the API's PATCH.
"""

from __future__ import annotations

import datetime as dt
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
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from directory.accounts.permissions import Permission, can, require
from directory.accounts.views import safe_next_url
from directory.audit.models import AuditAction, AuditEvent
from directory.db import db_session, utcnow
from directory.geo.gazetteer import gazetteer
from directory.i18n import moment_text
from directory.orgs.forms import EMPTY_CONTACT_ROWS, ButtonForm, ListingForm, LocationForm
from directory.orgs.freshness import confirm_listing, send_reminder, stale_listings
from directory.orgs.listing import (
    FIELD_LABELS,
    location_data,
    removal_impact,
    update_listing,
)
from directory.orgs.models import Location, Organization, category_label
from directory.orgs.operations import ListingError, service_categories
from directory.orgs.schemas import WEEKDAYS, ListingChangesSchema
from directory.orgs.views import load_organization

bp = Blueprint("listing", __name__)
CHANGES = ListingChangesSchema()
HISTORY_ACTIONS = (AuditAction.LISTING_CREATED, AuditAction.LISTING_UPDATED,
                   AuditAction.LISTING_CONFIRMED,
                   AuditAction.LISTING_VERIFIED, AuditAction.LISTING_REMINDER_SENT)
HISTORY_LENGTH = 200
Page = str | tuple[str, int] | Response


@bp.app_template_global()
def days_ago(moment: dt.datetime | None) -> int | None:
    return None if moment is None else (utcnow() - moment).days


@bp.app_template_filter("local_time")
def local_time(moment: dt.datetime | None, organization: Organization) -> str:
    """A moment in the organization's own time zone, as "Dec 1, 2026, 2:05 PM EST"."""
    return moment_text(moment, organization.time_zone)


def _editable(slug: str) -> Organization:
    organization = load_organization(slug)
    require(current_user, Permission.EDIT_LISTING, organization)
    return organization


def _apply(organization: Organization, raw: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Validate and apply a change: (changed fields, {}) or ([], messages by field)."""
    try:
        return update_listing(current_user, organization, CHANGES.load(raw)), {}
    except ValidationError as exc:
        return [], exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    except ListingError as exc:
        return [], exc.fields or {"_schema": [str(exc)]}


def _changed_message(changed: list[str]) -> str:
    if not changed:
        return _("Nothing changed.")
    return _("Saved: %(fields)s.",
             fields=", ".join(str(FIELD_LABELS.get(name, name)) for name in changed))


@bp.route("/organizations/<slug>/edit", methods=["GET", "POST"])
def edit(slug: str) -> Page:
    organization = _editable(slug)
    rename = can(current_user, Permission.RENAME_ORGANIZATION, organization)
    form = ListingForm()
    if not rename:
        del form.name, form.kind
    categories = service_categories()
    form.services.choices = [
        SelectChoice(category.code, category_label(category.code, category.name))
        for category in categories]
    errors: dict[str, Any] = {}
    if form.validate_on_submit():
        changed, errors = _apply(organization, form.changes(with_name_and_kind=rename))
        if not errors:
            flash(_changed_message(changed), "success")
            return redirect(url_for("orgs.profile", slug=slug))
        db_session.rollback()
        form.show_errors(errors)
    elif request.method == "GET":
        _fill_listing_form(form, organization)
    while len([row for row in form.contacts if not (row.form.name.data or "").strip()]) < (
            EMPTY_CONTACT_ROWS):
        form.contacts.append_entry()
    status = 400 if request.method == "POST" else 200
    return render_template("orgs/edit.html", organization=organization, form=form,
                           rename=rename, categories=categories, errors=errors), status


def _fill_listing_form(form: ListingForm, organization: Organization) -> None:
    for name in ("description", "website", "email", "phone", "min_age", "max_age",
                 "eligibility_note", "accepting_referrals", "capacity_note"):
        form[name].data = getattr(organization, name)
    if "kind" in form:
        form.name.data, form.kind.data = organization.name, organization.kind.value
    form.languages.data = organization.language_codes
    form.populations.data = [population.value for population in organization.population_codes]
    form.services.data = [service.category.code for service in organization.services]
    while len(form.contacts):
        form.contacts.pop_entry()
    for contact in organization.contacts:
        form.contacts.append_entry({"name": contact.name, "title": contact.title,
                                    "email": contact.email or "", "phone": contact.phone or ""})


@bp.route("/organizations/<slug>/accepting", methods=["POST"])
def toggle_accepting(slug: str) -> Response:
    """One click: the button says which way (``accepting`` is "yes" or "no"), so a second
    click of a stale page does not undo the first."""
    organization = _editable(slug)
    form = ButtonForm()
    wanted = request.form.get("accepting")
    if not form.validate_on_submit() or wanted not in ("yes", "no"):
        abort(400)
    update_listing(current_user, organization, {"accepting_referrals": wanted == "yes"})
    flash(_("Now accepting referrals.") if wanted == "yes"
          else _("No longer accepting referrals."), "success")
    return redirect(safe_next_url(request.form.get("next"))
                    or url_for("orgs.profile", slug=slug))


@bp.route("/organizations/<slug>/confirm", methods=["POST"])
def confirm(slug: str) -> Response:
    organization = load_organization(slug)
    require(current_user, Permission.CONFIRM_LISTING, organization)
    if not ButtonForm().validate_on_submit():
        abort(400)
    confirm_listing(current_user, organization)
    flash(_("Thank you: the listing is confirmed as current."), "success")
    return redirect(safe_next_url(request.form.get("next"))
                    or url_for("orgs.profile", slug=slug))


# --- locations ---------------------------------------------------------------------------------

def _location_of(organization: Organization, location_id: int) -> Location:
    """A location of the listing; a confidential one only for its own organization (nobody
    else, coordinators included, learns where a safe house is)."""
    location = next((item for item in organization.locations if item.id == location_id), None)
    if location is None:
        abort(404)
    if location.confidential:
        require(current_user, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization,
                visible=False)
    return location


def _visible_locations(organization: Organization) -> list[Location]:
    """The locations a change from this page resends: update_listing keeps the ones the
    user may not see."""
    if can(current_user, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization):
        return list(organization.locations)
    return [item for item in organization.locations if not item.confidential]


def _locate(form: LocationForm) -> None:
    """Put the typed address's point (its ZIP code's, else its city's) into the form."""
    area = gazetteer().zip_area((form.postal_code.data or "").strip()[:5])
    place = area or gazetteer().place((form.city.data or "").strip(), form.state.data or "")
    if place is None:
        form.postal_code.errors = [_("No such ZIP code or city in the gazetteer: type the "
                                     "coordinates, or drag the marker.")]
        return
    form.latitude.data, form.longitude.data = f"{place.lat:.6f}", f"{place.lon:.6f}"
    if area is not None and not (form.city.data or "").strip():
        form.city.data = area.city
    if area is not None and not form.state.data:
        form.state.data = area.state


def _location_page(organization: Organization, form: LocationForm,
                   location: Location | None) -> Page:
    if request.method == "POST" and "locate" in request.form:
        if form.validate_on_submit():
            _locate(form)
        return _render_location(organization, form, location)
    if form.validate_on_submit():
        data, problems = form.data_for_schema()
        if problems:
            form.show_errors(problems)
            return _render_location(organization, form, location, 400)
        others = [location_data(item) for item in _visible_locations(organization)]
        if location is None:
            wanted = [*others, data]
        else:
            wanted = [data | {"id": location.id} if item["id"] == location.id else item
                      for item in others]
        changed, errors = _apply(organization, {"locations": wanted})
        if not errors:
            flash(_changed_message(changed), "success")
            return redirect(url_for("orgs.profile", slug=organization.slug))
        db_session.rollback()
        index = len(wanted) - 1 if location is None else next(
            number for number, item in enumerate(wanted) if item.get("id") == location.id)
        location_errors = errors.get("locations", errors)
        if isinstance(location_errors, dict):
            form.show_errors(location_errors.get(index, location_errors))
        else:
            form.show_errors({"postal_code": location_errors})
        return _render_location(organization, form, location, 400)
    if request.method == "POST":
        return _render_location(organization, form, location, 400)
    return _render_location(organization, form, location)


def _render_location(organization: Organization, form: LocationForm, location: Location | None,
                     status: int = 200) -> tuple[str, int]:
    lat, lon = _float(form.latitude.data), _float(form.longitude.data)
    timezone = None
    if lat is not None and lon is not None:
        area = gazetteer().nearest_zip(lat, lon)
        timezone = area.timezone if area else None
    return render_template(
        "orgs/location.html", organization=organization, form=form, location=location,
        weekdays=WEEKDAYS, timezone=timezone,
        map_data={"lat": lat, "lon": lon, "tiles": current_app.config["MAP_TILES"],
                  "attribution": current_app.config["MAP_ATTRIBUTION"],
                  "basemap": url_for("orgs.basemap")}), status


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


@bp.route("/organizations/<slug>/locations/new", methods=["GET", "POST"])
def new_location(slug: str) -> Page:
    organization = _editable(slug)
    return _location_page(organization, LocationForm(), None)


@bp.route("/organizations/<slug>/locations/<int:location_id>", methods=["GET", "POST"])
def edit_location(slug: str, location_id: int) -> Page:
    organization = _editable(slug)
    location = _location_of(organization, location_id)
    form = LocationForm()
    if request.method == "GET":
        form.fill_from(location)
    return _location_page(organization, form, location)


@bp.route("/organizations/<slug>/locations/<int:location_id>/remove", methods=["GET", "POST"])
def remove_location(slug: str, location_id: int) -> Page:
    """Says first what the removal does (open referrals, coverage areas), then does it."""
    organization = _editable(slug)
    location = _location_of(organization, location_id)
    impact = removal_impact(organization, location)
    form = ButtonForm()
    error = None
    if form.validate_on_submit():
        wanted = [location_data(item) for item in _visible_locations(organization)
                  if item.id != location.id]
        changed, errors = _apply(organization, {"locations": wanted})
        if not errors:
            flash(_changed_message(changed), "success")
            return redirect(url_for("orgs.profile", slug=slug))
        db_session.rollback()
        error = " ".join(str(text) for value in errors.values() for text in value)
    status = 400 if request.method == "POST" else 200
    return render_template("orgs/remove_location.html", organization=organization,
                           location=location, impact=impact, form=form, error=error), status


# --- history and freshness -------------------------------------------------------------------

@bp.route("/organizations/<slug>/history")
def history(slug: str) -> str:
    organization = _editable(slug)
    events = list(db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.organization_id == organization.id,
               AuditEvent.action.in_([action.value for action in HISTORY_ACTIONS]))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(HISTORY_LENGTH)))
    return render_template("orgs/history.html", organization=organization, events=events,
                           labels=FIELD_LABELS, limit=HISTORY_LENGTH)


@bp.route("/listings/stale")
def stale() -> str:
    require(current_user, Permission.MANAGE_NETWORK)
    review_days = int(current_app.config["LISTING_REVIEW_DAYS"])
    return render_template("orgs/stale.html", listings=stale_listings(review_days),
                           review_days=review_days, form=ButtonForm())


@bp.route("/listings/<slug>/remind", methods=["POST"])
def remind(slug: str) -> Response:
    require(current_user, Permission.MANAGE_NETWORK)
    organization = load_organization(slug)
    if not ButtonForm().validate_on_submit():
        abort(400)
    mailed = send_reminder(organization, int(current_app.config["LISTING_REVIEW_DAYS"]),
                           actor=current_user)
    if mailed:
        flash(ngettext("Reminder sent to %(num)d admin of %(name)s.",
                       "Reminder sent to %(num)d admins of %(name)s.", mailed,
                       name=organization.name), "success")
    else:
        flash(_("%(name)s has no active admin to remind.", name=organization.name), "error")
    return redirect(url_for("listing.stale"))
