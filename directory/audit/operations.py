"""Writing and reading the audit log.

``record`` adds an event to the request's transaction, so it stands or falls with the change
it describes. ``record_refusal`` is for refused attempts (a wrong password, a wrong code):
the request answers with an error and rolls back, yet the attempt must stay on record, so
the event is written after the request, in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from directory.accounts.models import User
from directory.audit.models import AuditAction, AuditEvent
from directory.db import db_session, get_session
from directory.orgs.models import Organization
from directory.orgs.operations import Page

log = logging.getLogger(__name__)


def _event(action: AuditAction | str, actor: User | None, organization: Organization | None,
           subject: User | None, details: dict[str, Any] | None) -> AuditEvent:
    return AuditEvent(
        action=str(action),
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        ip_address=(request.remote_addr or None) if has_request_context() else None,
        organization_id=organization.id if organization else None,
        subject_user_id=subject.id if subject else None,
        details=details or {},
    )


def record(action: AuditAction | str, *, actor: User | None = None,
           organization: Organization | None = None, subject: User | None = None,
           details: dict[str, Any] | None = None) -> AuditEvent:
    """Append an event to the current transaction."""
    event = _event(action, actor, organization, subject, details)
    db_session.add(event)
    db_session.flush()
    log.info("audit: %s by %s", event.action, event.actor_email or "-")
    return event


def record_refusal(action: AuditAction | str, *, actor: User | None = None,
                   organization: Organization | None = None, subject: User | None = None,
                   details: dict[str, Any] | None = None) -> None:
    """Keep a refused attempt on record even though the request rolls back."""
    event = _event(action, actor, organization, subject, details)
    log.info("audit: %s (%s)", event.action, event.ip_address or "-")
    if has_request_context():
        g.setdefault("audit_refusals", []).append(event)
    else:
        db_session.add(event)


def store_refusals(_exc: BaseException | None) -> None:
    events: list[AuditEvent] = g.pop("audit_refusals", [])
    if not events:
        return
    session = get_session()  # a request refused early (rate limit) may not have opened one
    try:
        session.rollback()  # whatever the request left uncommitted is not ours to keep
        session.add_all(events)
        session.commit()
    except Exception:
        log.exception("could not store %d audit event(s) of a refused request", len(events))
        session.rollback()


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    actor: str = ""
    organization: str = ""
    address: str = ""
    since: dt.date | None = None
    until: dt.date | None = None


def _filtered(filters: AuditFilters) -> Select[tuple[AuditEvent]]:
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        query = query.where(func.lower(AuditEvent.actor_email).contains(
            filters.actor.lower(), autoescape=True))
    if filters.organization:
        text = filters.organization.lower()
        query = query.where(AuditEvent.organization.has(or_(
            func.lower(Organization.name).contains(text, autoescape=True),
            Organization.slug == text)))
    if filters.address:
        query = query.where(AuditEvent.ip_address.startswith(filters.address, autoescape=True))
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= _start_of(filters.since))
    if filters.until:
        day_after = filters.until + dt.timedelta(days=1)
        query = query.where(AuditEvent.occurred_at < _start_of(day_after))
    return query


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def search_events(filters: AuditFilters, page: int, per_page: int) -> Page:
    """Events matching ``filters``, newest first, one page at a time."""
    query = _filtered(filters)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    items = list(db_session.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(AuditEvent.organization), selectinload(AuditEvent.subject_user))
    ))
    return Page(items=items, page=page, per_page=per_page, total=total)
