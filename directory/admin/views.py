"""Coordinator pages under /admin: every one of them requires the MANAGE_NETWORK permission."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from directory.accounts.membership import members_of
from directory.accounts.models import MembershipApplication, User
from directory.accounts.operations import AccountError
from directory.accounts.permissions import Permission, require
from directory.accounts.sessions import end_sessions_of, open_sessions
from directory.accounts.two_factor import reset_two_factor
from directory.admin import operations as ops
from directory.admin.forms import (
    AgreementForm,
    DecisionForm,
    SpreadsheetConfirmForm,
    SpreadsheetUploadForm,
    StandingForm,
)
from directory.db import db_session
from directory.hsds.reader import HsdsReadError
from directory.hsds.spreadsheet import (
    MAPPING_LIMIT,
    UPLOAD_LIMIT,
    Mapping,
    MappingError,
    import_spreadsheet,
    preview_spreadsheet,
)
from directory.inputs import page_number
from directory.orgs.models import MembershipStatus, Organization
from directory.orgs.operations import days_since
from directory.orgs.operations import partnership_agreement as agreement_on_record

bp = Blueprint("admin", __name__, url_prefix="/admin")
Page = str | tuple[str, int] | Response


@bp.app_template_filter("membership_status")
def membership_status(status: MembershipStatus) -> str:
    return ops.membership_status_label(status)


@bp.before_request
def coordinators_only() -> None:
    """Nothing here depends on which object is asked for, so check before loading any."""
    require(current_user, Permission.MANAGE_NETWORK)


def _page_number() -> int:
    return page_number()


@bp.route("/")
def index() -> str:
    return render_template("admin/index.html", overview=ops.network_overview())


# --- applications --------------------------------------------------------------------------

def _load_application(application_id: int) -> MembershipApplication:
    application = db_session.get(MembershipApplication, application_id)
    if application is None:
        abort(404)
    return application


@bp.route("/applications")
def applications() -> str:
    return render_template("admin/applications.html", queue=ops.open_applications(),
                           decided=ops.recent_decisions())


def _application_page(application: MembershipApplication, form: DecisionForm | None = None,
                      status: int = 200) -> tuple[str, int]:
    return render_template("admin/application.html", application=application,
                           form=form or DecisionForm(formdata=None),
                           members=members_of(application.organization)), status


@bp.route("/applications/<int:application_id>")
def application(application_id: int) -> Page:
    return _application_page(_load_application(application_id))


@bp.route("/applications/<int:application_id>/decision", methods=["POST"])
def decide(application_id: int) -> Page:
    application = _load_application(application_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _application_page(application, form, 400)
    message = form.message.data or ""
    try:
        match form.decision.data:
            case "approve":
                ops.approve_application(current_user, application)
                flash(_("%(organization)s is now an active member.",
                        organization=application.organization.name), "success")
            case "decline":
                ops.decline_application(current_user, application, message)
                flash(_("The application of %(organization)s is declined.",
                        organization=application.organization.name), "success")
            case _:
                ops.request_information(current_user, application, message)
                flash(_("Your question is on its way to the applicant."), "success")
    except AccountError as exc:
        if exc.field == "message":
            form.message.errors = [str(exc)]
        else:
            flash(str(exc), "error")
        return _application_page(application, form, 400)
    return redirect(url_for("admin.applications"))


# --- organizations -------------------------------------------------------------------------

def _load_organization(slug: str) -> Organization:
    organization = db_session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        abort(404)
    return organization


@bp.route("/organizations")
def organizations() -> str:
    status = request.args.get("status", "")
    text = request.args.get("q", "").strip()[:100]
    page = ops.list_organizations(
        MembershipStatus(status) if status in MembershipStatus._value2member_map_ else None,
        text, _page_number(), current_app.config["PAGE_SIZE"])
    return render_template("admin/organizations.html", page=page, status=status, text=text,
                           statuses=list(MembershipStatus), days_since=days_since)


def _agreement_form(organization: Organization) -> AgreementForm:
    agreement = agreement_on_record(organization)
    if agreement is None:
        return AgreementForm(formdata=None)
    return AgreementForm(formdata=None, data={
        "on_file": "yes" if agreement.on_file else "no", "signed_on": agreement.signed_on,
        "note": agreement.note})


def _organization_page(organization: Organization, form: StandingForm | None = None,
                       status: int = 200, agreement_form: AgreementForm | None = None
                       ) -> tuple[str, int]:
    application = db_session.scalar(select(MembershipApplication).where(
        MembershipApplication.organization_id == organization.id))
    verifier = db_session.get(User, organization.verified_by_id) if organization.verified_by_id \
        else None
    return render_template(
        "admin/organization.html", organization=organization, members=members_of(organization),
        application=application, verified_days=days_since(organization.verified_at),
        verifier=verifier, form=form or StandingForm(formdata=None),
        agreement=agreement_on_record(organization),
        agreement_form=agreement_form or _agreement_form(organization)), status


@bp.route("/organizations/<slug>")
def organization(slug: str) -> Page:
    return _organization_page(_load_organization(slug))


@bp.route("/organizations/<slug>/status", methods=["POST"])
def organization_status(slug: str) -> Page:
    organization = _load_organization(slug)
    form = StandingForm()
    if not form.validate_on_submit():
        return _organization_page(organization, form, 400)
    try:
        if form.action.data == "suspend":
            ops.suspend_organization(current_user, organization, form.reason.data or "")
        else:
            ops.reinstate_organization(current_user, organization)
    except AccountError as exc:
        flash(str(exc), "error")
        return _organization_page(organization, form, 400)
    flash(_("%(organization)s is now suspended.", organization=organization.name)
          if organization.status == MembershipStatus.SUSPENDED
          else _("%(organization)s is now active.", organization=organization.name), "success")
    return redirect(url_for("admin.organization", slug=slug))


@bp.route("/organizations/<slug>/verify", methods=["POST"])
def verify(slug: str) -> Page:
    organization = _load_organization(slug)
    try:
        ops.verify_listing(current_user, organization)
    except AccountError as exc:
        flash(str(exc), "error")
        return _organization_page(organization, status=400)
    flash(_("The listing of %(organization)s is verified as of today.",
            organization=organization.name), "success")
    return redirect(url_for("admin.organization", slug=slug))


@bp.route("/organizations/<slug>/agreement", methods=["POST"])
def partnership_agreement(slug: str) -> Page:
    organization = _load_organization(slug)
    require(current_user, Permission.EDIT_PARTNERSHIP_AGREEMENT, organization)
    form = AgreementForm()
    if not form.validate_on_submit():
        return _organization_page(organization, status=400, agreement_form=form)
    try:
        ops.record_partnership_agreement(
            current_user, organization, on_file=form.on_file.data == "yes",
            signed_on=form.signed_on.data, note=form.note.data or "")
    except AccountError as exc:
        getattr(form, exc.field or "note").errors = [str(exc)]
        return _organization_page(organization, status=400, agreement_form=form)
    flash(_("The partnership agreement with %(organization)s is recorded.",
            organization=organization.name), "success")
    return redirect(url_for("admin.organization", slug=slug))


# --- users ---------------------------------------------------------------------------------

def _load_user(user_id: int) -> User:
    user = db_session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users")
def users() -> str:
    text = request.args.get("q", "").strip()[:100]
    page = ops.list_users(text, _page_number(), current_app.config["PAGE_SIZE"])
    return render_template("admin/users.html", page=page, text=text)


def _user_page(user: User, form: StandingForm | None = None, status: int = 200
               ) -> tuple[str, int]:
    return render_template("admin/user.html", user=user, sessions=open_sessions(user),
                           form=form or StandingForm(formdata=None)), status


@bp.route("/users/<int:user_id>")
def user(user_id: int) -> Page:
    return _user_page(_load_user(user_id))


@bp.route("/users/<int:user_id>/status", methods=["POST"])
def user_status(user_id: int) -> Page:
    subject = _load_user(user_id)
    form = StandingForm()
    if not form.validate_on_submit():
        return _user_page(subject, form, 400)
    try:
        if form.action.data == "suspend":
            ops.suspend_user(current_user, subject, form.reason.data or "")
        else:
            ops.reinstate_user(current_user, subject)
    except AccountError as exc:
        flash(str(exc), "error")
        return _user_page(subject, form, 400)
    flash(_("%(email)s is active.", email=subject.email) if subject.active
          else _("%(email)s is suspended.", email=subject.email), "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/reset-two-factor", methods=["POST"])
def user_reset_two_factor(user_id: int) -> Page:
    subject = _load_user(user_id)
    try:
        reset_two_factor(current_user, subject)
    except AccountError as exc:
        flash(str(exc), "error")
        return _user_page(subject, status=400)
    flash(_("Two-factor sign-in of %(email)s is reset; they set it up again at their next "
            "sign-in.", email=subject.email), "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/sessions/end", methods=["POST"])
def user_end_sessions(user_id: int) -> Page:
    subject = _load_user(user_id)
    end_sessions_of(current_user, subject)
    flash(_("Every session of %(email)s has ended.", email=subject.email), "success")
    return redirect(url_for("admin.user", user_id=user_id))


# --- importing a spreadsheet -------------------------------------------------------------------

MAPPING_EXAMPLE = """[columns]
name = "Agency"
kind = "Type"
description = "About"
website = "Website"
phone = "Phone"
address = "Street"
city = "City"
state = "State"
zip = "ZIP"
services = "Services"
languages = "Languages"

[options]
separator = ";"
"""


def _upload_page(form: SpreadsheetUploadForm, error: str | None = None,
                 status: int = 200) -> tuple[str, int]:
    return render_template("admin/import_csv.html", form=form, error=error,
                           limit_kb=UPLOAD_LIMIT // 1024), status


@bp.route("/import-csv")
def import_csv() -> Page:
    return _upload_page(SpreadsheetUploadForm(formdata=None, mapping=MAPPING_EXAMPLE))


@bp.route("/import-csv/preview", methods=["POST"])
def import_csv_preview() -> Page:
    form = SpreadsheetUploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, status=400)
    upload = form.spreadsheet.data
    data = upload.read(UPLOAD_LIMIT + 1)
    name = Path(upload.filename or "spreadsheet.csv").name[:200]
    try:
        if form.mapping_file.data and form.mapping_file.data.filename:
            mapping_text = form.mapping_file.data.read(MAPPING_LIMIT + 1)
            mapping = Mapping.parse(mapping_text, form.mapping_file.data.filename)
        else:
            mapping_text = (form.mapping.data or "").encode()
            mapping = Mapping.parse(mapping_text, "mapping.toml")
        preview = preview_spreadsheet(data, name, mapping)
    except (HsdsReadError, MappingError) as exc:
        return _upload_page(form, str(exc), 400)
    confirm = SpreadsheetConfirmForm(formdata=None, content=base64.b64encode(data).decode(),
                                     name=name, mapping=json.dumps(mapping.as_dict()))
    return render_template("admin/import_csv_preview.html", preview=preview, name=name,
                           form=confirm)


@bp.route("/import-csv/confirm", methods=["POST"])
def import_csv_confirm() -> Page:
    form = SpreadsheetConfirmForm()
    upload = SpreadsheetUploadForm(formdata=None, mapping=MAPPING_EXAMPLE)
    if not form.validate_on_submit():
        return _upload_page(upload, _("The import form was incomplete; upload the file again."),
                            400)
    try:
        data = base64.b64decode(form.content.data, validate=True)
        mapping = Mapping.parse(form.mapping.data.encode(), "mapping.json")
        report = import_spreadsheet(data, form.name.data, mapping, current_user)
    except (binascii.Error, ValueError) as exc:
        message = str(exc) if isinstance(exc, HsdsReadError | MappingError) else \
            _("The import form was altered; upload the file again.")
        return _upload_page(upload, message, 400)
    return render_template("admin/import_csv_report.html", report=report.as_dict(),
                           name=form.name.data), 400 if report.failed else 200
