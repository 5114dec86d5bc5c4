"""The audit log page: coordinators read and filter every recorded event."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from directory.accounts.permissions import Permission, require
from directory.audit.forms import ANY_ACTION, AuditFilterForm
from directory.audit.models import AuditEvent
from directory.audit.operations import AuditFilters, action_choices, search_events
from directory.audit.wording import details_text
from directory.inputs import page_number

bp = Blueprint("audit", __name__)


@bp.app_template_filter("audit_details")
def audit_details(event: AuditEvent) -> str:
    return details_text(event.action, event.details or {})


@bp.route("/admin/audit")
def index() -> tuple[str, int]:
    require(current_user, Permission.VIEW_AUDIT_LOG)
    form = AuditFilterForm(request.args)
    form.action.choices = [("", str(ANY_ACTION)), *action_choices()]
    if not form.validate():
        return render_template("admin/audit.html", form=form, page=None), 400
    filters = AuditFilters(
        action=form.action.data or None,
        actor=(form.actor.data or "").strip(),
        organization=(form.organization.data or "").strip(),
        address=(form.address.data or "").strip(),
        since=form.since.data,
        until=form.until.data,
    )
    page = search_events(filters, page_number(), current_app.config["PAGE_SIZE"])
    return render_template("admin/audit.html", form=form, page=page), 200
