"""Coordinator pages under /admin: every one of them requires the MANAGE_NETWORK permission."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
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
from directory.admin.forms import DecisionForm, StandingForm
from directory.db import db_session
from directory.inputs import page_number
from directory.orgs.models import MembershipStatus, Organization
from directory.orgs.operations import days_since

bp = Blueprint("admin", __name__, url_prefix="/admin")
Page = str | tuple[str, int] | Response


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
                flash(f"{application.organization.name} is now an active member.", "success")
            case "decline":
                ops.decline_application(current_user, application, message)
                flash(f"The application of {application.organization.name} is declined.",
                      "success")
            case _:
                ops.request_information(current_user, application, message)
                flash("Your question is on its way to the applicant.", "success")
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


def _organization_page(organization: Organization, form: StandingForm | None = None,
                       status: int = 200) -> tuple[str, int]:
    application = db_session.scalar(select(MembershipApplication).where(
        MembershipApplication.organization_id == organization.id))
    verifier = db_session.get(User, organization.verified_by_id) if organization.verified_by_id \
        else None
    return render_template(
        "admin/organization.html", organization=organization, members=members_of(organization),
        application=application, verified_days=days_since(organization.verified_at),
        verifier=verifier, form=form or StandingForm(formdata=None)), status


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
    flash(f"{organization.name} is now {organization.status.value}.", "success")
    return redirect(url_for("admin.organization", slug=slug))


@bp.route("/organizations/<slug>/verify", methods=["POST"])
def verify(slug: str) -> Page:
    organization = _load_organization(slug)
    try:
        ops.verify_listing(current_user, organization)
    except AccountError as exc:
        flash(str(exc), "error")
        return _organization_page(organization, status=400)
    flash(f"The listing of {organization.name} is verified as of today.", "success")
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
    flash(f"{subject.email} is {'active' if subject.active else 'suspended'}.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/reset-two-factor", methods=["POST"])
def user_reset_two_factor(user_id: int) -> Page:
    subject = _load_user(user_id)
    try:
        reset_two_factor(current_user, subject)
    except AccountError as exc:
        flash(str(exc), "error")
        return _user_page(subject, status=400)
    flash(f"Two-factor sign-in of {subject.email} is reset; they set it up again at their next "
          "sign-in.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/sessions/end", methods=["POST"])
def user_end_sessions(user_id: int) -> Page:
    subject = _load_user(user_id)
    end_sessions_of(current_user, subject)
    flash(f"Every session of {subject.email} has ended.", "success")
    return redirect(url_for("admin.user", user_id=user_id))
