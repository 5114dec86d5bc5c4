"""An organization's ``updated_at`` is the time its listing last changed, whatever changed.

Its own columns bump it through ``onupdate``; a change to a row that belongs to it (a
location, its hours, a service, a contact, a language, a population, a coverage area) bumps
it here, before each flush, so that the HSDS API's ``modified_after`` and ``last_modified``
tell consumers about every change, whichever operation made it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from directory.db import utcnow
from directory.orgs.models import (
    Contact,
    CoverageArea,
    Location,
    OpeningHours,
    Organization,
    OrganizationLanguage,
    OrganizationPopulation,
    Service,
)

_OWNED = (Location, Service, Contact, CoverageArea, OrganizationLanguage,
          OrganizationPopulation)


def _owner_id(instance: Any, session: Session) -> int | None:
    if isinstance(instance, _OWNED):
        return instance.organization_id
    if isinstance(instance, OpeningHours):
        location = session.get(Location, instance.location_id) if instance.location_id else None
        return location.organization_id if location is not None else None
    return None


@event.listens_for(Session, "before_flush")
def _touch_changed_organizations(session: Session, _flush: UOWTransaction,
                                 _instances: Any) -> None:
    changed: set[Organization] = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Organization):
            # A collection changed (a contact removed...) leaves the row itself clean.
            if instance not in session.new and session.is_modified(instance):
                changed.add(instance)
            continue
        if instance in session.dirty and not session.is_modified(instance):
            continue
        owner = getattr(instance, "organization", None) if isinstance(instance, _OWNED) else None
        if owner is None:
            owner_id = _owner_id(instance, session)
            owner = session.get(Organization, owner_id) if owner_id is not None else None
        if owner is not None and owner not in session.new and owner not in session.deleted:
            changed.add(owner)
    now = utcnow()
    for organization in changed:
        organization.updated_at = now
