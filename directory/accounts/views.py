"""Sign-in, two-factor, passwords and mailed links, the account page, applications to join,
and an organization's members and invitations. Each view parses, calls an operation, renders."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_limiter import RequestLimit
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from directory.accounts import auth, totp
from directory.accounts import membership as membership_ops
from directory.accounts import operations as ops
from directory.accounts import sessions as session_ops
from directory.accounts import two_factor as two_factor_ops
from directory.accounts.forms import (
    AcceptInvitationForm,
    ApplicationForm,
    ButtonForm,
    ChangeEmailForm,
    ChangeNameForm,
    ChangePasswordForm,
    CodeForm,
    ForgotPasswordForm,
    InviteForm,
    LoginForm,
    PasswordConfirmForm,
    PreferencesForm,
    ReplyForm,
    ResetPasswordForm,
    RoleForm,
)
from directory.accounts.models import (
    Invitation,
    MemberRole,
    Membership,
    MembershipApplication,
    TokenPurpose,
)
from directory.accounts.permissions import Permission, can, require, two_factor_required
from directory.audit import operations as audit
from directory.audit.models import AuditAction
from directory.db import db_session
from directory.extensions import limiter
from directory.i18n import time_zone_of
from directory.orgs.models import Organization, category_label
from directory.orgs.operations import service_categories

bp = Blueprint("accounts", __name__)
FORGOT_LIMIT = "5 per minute; 30 per hour"
APPLY_LIMIT = "10 per hour"  # applications sent
APPLY_ATTEMPT_LIMIT = "60 per hour"  # forms posted, refused ones too (they tell taken emails)
Page = str | tuple[str, int] | Response


def too_many_attempts() -> str:
    """The 429's message (flask-limiter asks for it per request, in the reader's language)."""
    return _("Too many attempts. Wait a few minutes, then try again.")


def safe_next_url(target: str | None) -> str | None:
    """Only local paths: never redirect a user to another site after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def _throttled(limit: RequestLimit) -> None:
    """A breached limit is an attempt at automation: keep it on record (once per request)."""
    audit.record_refusal(AuditAction.RATE_LIMITED,
                         details={"endpoint": request.endpoint, "limit": str(limit.limit)})


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _succeeded(response: Response) -> bool:
    return response.status_code < 400


def _address_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def _account_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _account_key() -> str:
    """The account a sign-in is for, known or not, so both are limited alike."""
    return "account:" + ops.normalize_email(request.form.get("email", ""))[:254]


def _pending_key() -> str:
    pending = session.get(auth.PENDING_KEY)
    return f"pending:{pending.get('user')}" if isinstance(pending, dict) else "pending:none"


def _refuse(form: FlaskForm, error: ops.AccountError) -> None:
    """Show an operation's refusal next to its field, or above the form."""
    field = form._fields.get(error.field or "")
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


def _status() -> int:
    """A form shown again after a POST was refused (CSRF is checked before any view runs)."""
    return 400 if request.method == "POST" else 200


# --- sign-in -------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed,
               error_message=too_many_attempts, on_breach=_throttled)
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"], deduct_when=_failed,
               error_message=too_many_attempts, on_breach=_throttled)
def login() -> Page:
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data or ""
        user = ops.authenticate(email, form.password.data or "")
        if user is None:
            ops.refuse_sign_in(email)
            flash(_("That email and password do not match an account."), "error")
            return render_template("accounts/login.html", form=form), 401
        next_url = safe_next_url(request.args.get("next"))
        remember = bool(form.remember.data)
        if user.two_factor_enabled:
            auth.await_second_factor(user, remember=remember, next_url=next_url)
            return redirect(url_for("accounts.login_two_factor"))
        auth.begin_session(user, remember=remember)
        return redirect(next_url or url_for("web.home"))
    return render_template("accounts/login.html", form=form), _status()


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed,
               error_message=too_many_attempts, on_breach=_throttled)
@limiter.limit(_account_limit, key_func=_pending_key, methods=["POST"], deduct_when=_failed,
               error_message=too_many_attempts, on_breach=_throttled)
def login_two_factor() -> Page:
    pending = auth.pending_sign_in()
    if pending is None:
        flash(_("Please sign in again."), "info")
        return redirect(url_for("accounts.login"))
    user, state = pending
    form = CodeForm()
    if form.validate_on_submit():
        try:
            method = two_factor_ops.verify_second_factor(user, form.code.data or "")
        except ops.AccountError as exc:
            _refuse(form, exc)
            return render_template("accounts/login_two_factor.html", form=form), 401
        auth.begin_session(user, remember=bool(state.get("remember")), second_factor=method)
        if method == "recovery_code":
            left = two_factor_ops.remaining_recovery_codes(user)
            flash(ngettext("You signed in with a recovery code; %(num)d is left. Renew your "
                           "codes on your account page.",
                           "You signed in with a recovery code; %(num)d are left. Renew them "
                           "on your account page.", left), "info")
        return redirect(safe_next_url(state.get("next")) or url_for("web.home"))
    return render_template("accounts/login_two_factor.html", form=form), _status()


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    auth.end_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


# --- passwords and mailed links ------------------------------------------------------------

@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(FORGOT_LIMIT, methods=["POST"], error_message=too_many_attempts,
               on_breach=_throttled)
def forgot_password() -> Page:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        ops.request_password_reset(form.email.data or "")
        flash(_("If an account uses that address, a link to choose a new password is on its "
                "way. It works once, for one hour."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), _status()


def _expired_link() -> tuple[str, int]:
    return render_template("accounts/link_expired.html"), 410


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Page:
    if ops.find_token(token, TokenPurpose.RESET_PASSWORD) is None:
        return _expired_link()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            ops.reset_password(token, form.password.data or "")
        except ops.AccountError as exc:
            _refuse(form, exc)
            return render_template("accounts/reset_password.html", form=form), 400
        auth.end_session()
        flash(_("Your password is changed and every session has ended. Sign in with the new "
                "password."), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form), _status()


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str) -> Page:
    if ops.find_token(token, TokenPurpose.VERIFY_EMAIL) is None:
        return _expired_link()
    form = ButtonForm()
    if form.validate_on_submit():
        try:
            user = ops.verify_email(token)
        except ops.AccountError:  # used up by a simultaneous request
            return _expired_link()
        flash(_("Thank you: %(email)s is confirmed.", email=user.email), "success")
        return redirect(url_for("web.home"))
    return render_template("accounts/verify_email.html", form=form), _status()


# --- the account page ----------------------------------------------------------------------

def _account_page(status: int = 200, password_form: ChangePasswordForm | None = None,
                  sessions_form: PasswordConfirmForm | None = None,
                  name_form: ChangeNameForm | None = None,
                  email_form: ChangeEmailForm | None = None,
                  preferences_form: PreferencesForm | None = None) -> tuple[str, int]:
    user = current_user
    return render_template(
        "accounts/account.html",
        user=user,
        preferences_form=preferences_form or PreferencesForm(
            formdata=None, prefix="preferences",
            data={"language": user.language or "", "time_zone": user.time_zone or ""}),
        time_zone=time_zone_of(user),
        name_form=name_form or ChangeNameForm(formdata=None, prefix="name",
                                              data={"name": user.name}),
        email_form=email_form or ChangeEmailForm(formdata=None, prefix="email"),
        sessions=session_ops.open_sessions(user),
        current_token=auth.current_token(),
        is_current=session_ops.is_current_session,
        password_form=password_form or ChangePasswordForm(formdata=None),
        sessions_form=sessions_form or PasswordConfirmForm(formdata=None, prefix="sessions"),
        applications=membership_ops.applications_of(user),
    ), status


@bp.route("/account")
def account() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    return _account_page()


@bp.route("/account/password", methods=["POST"])
def change_password() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ops.change_password(current_user, form.current_password.data or "",
                                form.password.data or "")
        except ops.AccountError as exc:
            _refuse(form, exc)
            return _account_page(400, password_form=form)
        # The user itself, not the proxy: flask-login keeps what it is given as current_user.
        auth.renew_session(current_user._get_current_object())  # type: ignore[attr-defined]
        flash(_("Your password is changed. Every other session has ended."), "success")
        return redirect(url_for("accounts.account"))
    return _account_page(400, password_form=form)


@bp.route("/account/sessions/end-others", methods=["POST"])
def end_other_sessions() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = PasswordConfirmForm(prefix="sessions")
    if not form.validate_on_submit():
        return _account_page(400, sessions_form=form)
    try:
        ended = session_ops.end_other_sessions(current_user, auth.current_token() or "",
                                       form.password.data or "")
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _account_page(400, sessions_form=form)
    flash(ngettext("%(num)d other session ended.", "%(num)d other sessions ended.", ended),
          "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/preferences", methods=["POST"])
def change_preferences() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = PreferencesForm(prefix="preferences")
    if not form.validate_on_submit():
        return _account_page(400, preferences_form=form)
    try:
        changed = ops.change_preferences(current_user, form.language.data, form.time_zone.data)
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _account_page(400, preferences_form=form)
    flash(_("Your language and time zone are saved.") if changed
          else _("Your language and time zone stay as they were."), "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/verify-email", methods=["POST"])
def resend_verification() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    try:
        ops.send_email_verification(current_user)
    except ops.AccountError as exc:
        flash(str(exc), "error")
        return _account_page(400)
    flash(_("A confirmation link is on its way to %(email)s.", email=current_user.email),
          "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/name", methods=["POST"])
def change_name() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = ChangeNameForm(prefix="name")
    if not form.validate_on_submit():
        return _account_page(400, name_form=form)
    try:
        changed = ops.change_name(current_user, form.name.data or "")
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _account_page(400, name_form=form)
    flash(_("Your name is changed.") if changed else _("Your name stays as it was."), "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/email", methods=["POST"])
def change_email() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = ChangeEmailForm(prefix="email")
    if not form.validate_on_submit():
        return _account_page(400, email_form=form)
    try:
        address = ops.request_email_change(current_user, form.new_email.data or "",
                                           form.current_password.data or "")
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _account_page(400, email_form=form)
    flash(_("A confirmation link is on its way to %(address)s. Your address changes when you "
            "follow it; until then mail still goes to %(email)s.", address=address,
            email=current_user.email), "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email_change(token: str) -> Page:
    found = ops.find_token(token, TokenPurpose.CHANGE_EMAIL)
    if found is None:
        return _expired_link()
    form = ButtonForm()
    if form.validate_on_submit():
        try:
            user = ops.confirm_email_change(token)
        except ops.AccountError as exc:
            if exc.field is None:  # the link was used up by a simultaneous request
                return _expired_link()
            db_session.rollback()
            flash(str(exc), "error")
            return render_template("accounts/confirm_email_change.html", form=form,
                                   new_email=found.new_email), 409
        flash(_("Your email address is now %(email)s.", email=user.email), "success")
        return redirect(url_for("web.home"))
    return render_template("accounts/confirm_email_change.html", form=form,
                           new_email=found.new_email), _status()


# --- two-factor sign-in --------------------------------------------------------------------

def _two_factor_page(status: int = 200, form: FlaskForm | None = None) -> tuple[str, int]:
    user = current_user
    secret = two_factor_ops.pending_two_factor_secret(user)
    uri = totp.provisioning_uri(secret, user.email) if secret else None
    return render_template(
        "accounts/two_factor.html",
        user=user,
        required=two_factor_required(user),
        secret=secret,
        qr=totp.qr_data_uri(uri) if uri else None,
        code_form=form if isinstance(form, CodeForm) else CodeForm(formdata=None),
        password_form=form if isinstance(form, PasswordConfirmForm)
        else PasswordConfirmForm(formdata=None),
        remaining=(two_factor_ops.remaining_recovery_codes(user) if user.two_factor_enabled
                   else None),
    ), status


@bp.route("/account/two-factor")
def two_factor() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    return _two_factor_page()


@bp.route("/account/two-factor/setup", methods=["POST"])
def two_factor_setup() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = PasswordConfirmForm()
    if not form.validate_on_submit():
        return _two_factor_page(400, form)
    try:
        two_factor_ops.begin_two_factor_setup(current_user, form.password.data or "")
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _two_factor_page(400, form)
    return redirect(url_for("accounts.two_factor"))


@bp.route("/account/two-factor/confirm", methods=["POST"])
def two_factor_confirm() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = CodeForm()
    if not form.validate_on_submit():
        return _two_factor_page(400, form)
    try:
        codes = two_factor_ops.confirm_two_factor(current_user, form.code.data or "")
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _two_factor_page(400, form)
    flash(_("Two-factor sign-in is on."), "success")
    return render_template("accounts/recovery_codes.html", codes=codes)


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
def renew_recovery_codes() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = CodeForm()
    if not form.validate_on_submit():
        return _two_factor_page(400, form)
    try:
        codes = two_factor_ops.renew_recovery_codes(current_user, form.code.data or "")
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _two_factor_page(400, form)
    flash(_("New recovery codes: the old ones no longer work."), "success")
    return render_template("accounts/recovery_codes.html", codes=codes)


@bp.route("/account/two-factor/disable", methods=["POST"])
def two_factor_disable() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    form = PasswordConfirmForm()
    if not form.validate_on_submit():
        return _two_factor_page(400, form)
    try:
        two_factor_ops.disable_two_factor(current_user, form.password.data or "",
                               required=two_factor_required(current_user))
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _two_factor_page(400, form)
    flash(_("Two-factor sign-in is off."), "success")
    return redirect(url_for("accounts.account"))


# --- applications to join ------------------------------------------------------------------

@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit(APPLY_LIMIT, methods=["POST"], deduct_when=_succeeded,
               error_message=lambda: _("Too many applications from this address. Try again "
                                       "later."),
               on_breach=_throttled)
@limiter.limit(APPLY_ATTEMPT_LIMIT, methods=["POST"],
               error_message=lambda: _("Too many attempts from this address. Try again later."),
               on_breach=_throttled)
def apply() -> Page:
    if current_user.is_authenticated:
        flash(_("You are signed in already: to add another organization, write to the "
                "network's coordinators."), "info")
        return redirect(url_for("web.home"))
    form = ApplicationForm()
    form.services.choices = [SelectChoice(c.code, category_label(c.code, c.name))
                             for c in service_categories()]
    if form.validate_on_submit():
        try:
            membership_ops.apply_for_membership(membership_ops.ApplicationRequest(
                listing=form.listing(), admin_name=form.admin_name.data or "",
                admin_email=form.admin_email.data or "", password=form.password.data or "",
                statement=form.statement.data or ""))
        except ops.AccountError as exc:
            _refuse(form, exc)
            return render_template("accounts/apply.html", form=form), 400
        flash(_("Thank you: your application is with the coordinators. We sent you a link to "
                "confirm your email address; sign in any time to follow your application."),
              "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/apply.html", form=form), _status()


@bp.route("/application")
def applications() -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    mine = [a for a in membership_ops.applications_of(current_user)
            if can(current_user, Permission.VIEW_APPLICATION, a)]
    return render_template("accounts/applications.html", applications=mine,
                           form=ReplyForm(formdata=None))


@bp.route("/application/<int:application_id>/reply", methods=["POST"])
def reply_to_application(application_id: int) -> Page:
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    application = db_session.get(MembershipApplication, application_id)
    if application is None:
        abort(404)
    require(current_user, Permission.VIEW_APPLICATION, application, visible=False)
    require(current_user, Permission.ANSWER_APPLICATION, application)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            membership_ops.answer_application(current_user, application, form.reply.data or "")
        except ops.AccountError as exc:
            _refuse(form, exc)
        else:
            flash(_("Your answer is with the coordinators."), "success")
            return redirect(url_for("accounts.applications"))
    return render_template("accounts/applications.html",
                           applications=membership_ops.applications_of(current_user),
                           form=form), 400


# --- members and invitations ---------------------------------------------------------------

def _load_organization(slug: str, permission: Permission) -> Organization:
    """Load, then authorize: 404 for what the viewer may not know exists, 403 beyond that."""
    require(current_user, Permission.MANAGE_OWN_ACCOUNT)
    organization = db_session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        abort(404)
    require(current_user, Permission.VIEW_ORGANIZATION, organization, visible=False)
    require(current_user, permission, organization)
    return organization


def _members_page(organization: Organization, status: int = 200,
                  invite_form: InviteForm | None = None) -> tuple[str, int]:
    return render_template(
        "accounts/members.html",
        organization=organization,
        members=membership_ops.members_of(organization),
        invitations=membership_ops.open_invitations(organization),
        can_manage=can(current_user, Permission.MANAGE_MEMBERS, organization),
        invite_form=invite_form or InviteForm(formdata=None),
        role_choices=list(MemberRole),
    ), status


@bp.route("/organizations/<slug>/members")
def members(slug: str) -> Page:
    return _members_page(_load_organization(slug, Permission.VIEW_MEMBERS))


@bp.route("/organizations/<slug>/invitations", methods=["POST"])
def invite(slug: str) -> Page:
    organization = _load_organization(slug, Permission.MANAGE_MEMBERS)
    form = InviteForm()
    if not form.validate_on_submit():
        return _members_page(organization, 400, form)
    try:
        membership_ops.invite_member(current_user, organization, form.email.data or "",
                          MemberRole(form.role.data))
    except ops.AccountError as exc:
        _refuse(form, exc)
        return _members_page(organization, 400, form)
    flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
    return redirect(url_for("accounts.members", slug=slug))


@bp.route("/organizations/<slug>/invitations/<int:invitation_id>/revoke", methods=["POST"])
def revoke_invitation(slug: str, invitation_id: int) -> Page:
    organization = _load_organization(slug, Permission.MANAGE_MEMBERS)
    invitation = db_session.get(Invitation, invitation_id)
    if invitation is None or invitation.organization_id != organization.id:
        abort(404)
    try:
        membership_ops.revoke_invitation(current_user, invitation)
    except ops.AccountError as exc:
        flash(str(exc), "error")
        return _members_page(organization, 400)
    flash(_("The invitation to %(email)s no longer works.", email=invitation.email), "success")
    return redirect(url_for("accounts.members", slug=slug))


def _load_membership(organization: Organization, membership_id: int) -> Membership:
    membership = db_session.get(Membership, membership_id)
    if membership is None or membership.organization_id != organization.id:
        abort(404)
    return membership


@bp.route("/organizations/<slug>/members/<int:membership_id>/role", methods=["POST"])
def change_role(slug: str, membership_id: int) -> Page:
    organization = _load_organization(slug, Permission.MANAGE_MEMBERS)
    membership = _load_membership(organization, membership_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose a role."), "error")
        return _members_page(organization, 400)
    try:
        membership_ops.change_member_role(current_user, membership, MemberRole(form.role.data))
    except ops.AccountError as exc:
        flash(str(exc), "error")
        return _members_page(organization, 400)
    flash(_("%(name)s is now %(role)s.", name=membership.user.name,
            role=membership.role.label.lower()), "success")
    return redirect(url_for("accounts.members", slug=slug))


@bp.route("/organizations/<slug>/members/<int:membership_id>/remove", methods=["POST"])
def remove_member(slug: str, membership_id: int) -> Page:
    organization = _load_organization(slug, Permission.MANAGE_MEMBERS)
    membership = _load_membership(organization, membership_id)
    name = membership.user.name
    try:
        membership_ops.remove_member(current_user, membership)
    except ops.AccountError as exc:
        flash(str(exc), "error")
        return _members_page(organization, 400)
    flash(_("%(name)s is no longer a member of %(organization)s.", name=name,
            organization=organization.name), "success")
    return redirect(url_for("accounts.members", slug=slug))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str) -> Page:
    found = membership_ops.find_invitation(token)
    if found is None:
        return _expired_link()
    signed_in = current_user.is_authenticated
    has_account = signed_in or ops.find_user_by_email(found.email) is not None
    form = ButtonForm() if has_account else AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            if isinstance(form, AcceptInvitationForm):
                membership_ops.accept_invitation(token, name=form.name.data or "",
                                      password=form.password.data or "")
            else:  # an existing account: only when signed in as it
                membership_ops.accept_invitation(token, user=current_user if signed_in else None)
        except ops.AccountError as exc:
            _refuse(form, exc)
            addressed = membership_ops.addressed_to(found, current_user)
            return render_template("accounts/invitation.html", invitation=found, form=form,
                                   has_account=has_account, addressed_to_you=addressed), 400
        flash(_("Welcome to %(organization)s.", organization=found.organization.name), "success")
        if signed_in:
            return redirect(url_for("web.home"))
        flash(_("Sign in with your email address and new password."), "info")
        return redirect(url_for("accounts.login"))
    addressed = membership_ops.addressed_to(found, current_user)
    return render_template("accounts/invitation.html", invitation=found, form=form,
                           has_account=has_account, addressed_to_you=addressed), _status()
