"""A small network of partners with hand-computed figures (see the table in ``build``).

Organizations are made through the factory; the moments that the operations stamp with the
present (joining, confirming, verifying) are then set to chosen values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from directory.db import utcnow
from directory.orgs.models import (
    ListingReview,
    MembershipStatus,
    Organization,
    OrganizationKind,
    PartnershipAgreement,
)
from tests.factories import Factory

# Richmond, Indiana: the true point of p3's safe house, which says it is in Columbus, Ohio.
# Nothing may count it in Indiana.
SAFE_HOUSE_TRUE_POINT = (39.8289, -84.8902)


@dataclass
class Partners:
    p1: Organization
    p2: Organization
    p3: Organization
    p4: Organization
    p5: Organization
    p6: Organization
    p7: Organization


def _at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def _office(city: str, state: str, postal_code: str) -> dict[str, object]:
    return {"name": "Office", "address": "1 Main St", "city": city, "state": state,
            "postal_code": postal_code}


HOUSTON = _office("Houston", "TX", "77002")


def build(factory: Factory, db: Session) -> Partners:
    """For the range January 2026:

    ====  =============  =========  ============  ==============  ===========================
    org   kind           status     joined        MOU             locations
    ====  =============  =========  ============  ==============  ===========================
    p1    nonprofit      active     2026-01-10    on file         Houston TX
    p2    nonprofit      active     2025-06-01    (no record)     Houston TX + confidential
                                                                  Houston TX
    p3    law enf.       active     2026-01-31    not on file     confidential "Columbus OH"
                                    23:00                         (true point in Indiana)
    p4    legal          active     2024-03-01    on file         Houston TX, New Orleans LA
    p5    nonprofit      suspended  2026-01-15    on file         Houston TX
    p6    faith-based    pending    never         (no record)     Houston TX
    p7    healthcare     active     2026-02-01    (no record)     none
                                    00:00
    ====  =============  =========  ============  ==============  ===========================

    By kind: nonprofit 2 partners, 2 new (p1, p5), 1 MOU; law enforcement 1, 1 new, 0 MOU;
    legal 1, 0 new, 1 MOU; healthcare 1, 0 new, 0 MOU. All: 5 partners, 3 new, 2 MOU (40%).
    By state: TX nonprofit 2 + legal 1; LA legal 1; OH law enforcement 1; no location:
    healthcare 1.
    """
    kind = OrganizationKind
    p1 = factory.organization(kind=kind.NONPROFIT, locations=[HOUSTON])
    p2 = factory.organization(kind=kind.NONPROFIT, locations=[
        HOUSTON, {"name": "Safe house", "city": "Houston", "state": "TX",
                  "latitude": 29.80, "longitude": -95.32, "confidential": True}])
    p3 = factory.organization(kind=kind.LAW_ENFORCEMENT, locations=[
        {"name": "Safe house", "city": "Columbus", "state": "OH",
         "latitude": SAFE_HOUSE_TRUE_POINT[0], "longitude": SAFE_HOUSE_TRUE_POINT[1],
         "confidential": True}])
    p4 = factory.organization(kind=kind.LEGAL, locations=[
        HOUSTON, _office("New Orleans", "LA", "70112")])
    p5 = factory.organization(kind=kind.NONPROFIT, locations=[HOUSTON])
    p6 = factory.organization(kind=kind.FAITH_BASED, status=MembershipStatus.PENDING,
                              locations=[HOUSTON])
    p7 = factory.organization(kind=kind.HEALTHCARE, locations=[])
    partners = Partners(p1, p2, p3, p4, p5, p6, p7)
    p1.joined_at, p2.joined_at, p3.joined_at = (_at(2026, 1, 10), _at(2025, 6, 1),
                                                _at(2026, 1, 31, 23))
    p4.joined_at, p5.joined_at, p7.joined_at = (_at(2024, 3, 1), _at(2026, 1, 15),
                                                _at(2026, 2, 1))
    p5.status = MembershipStatus.SUSPENDED
    db.add_all([
        PartnershipAgreement(organization_id=p1.id, on_file=True, signed_on=dt.date(2025, 12, 1),
                             note="Signed by the director."),
        PartnershipAgreement(organization_id=p3.id, on_file=False, note="Renewal pending."),
        PartnershipAgreement(organization_id=p4.id, on_file=True, signed_on=dt.date(2024, 3, 1),
                             note=""),
        PartnershipAgreement(organization_id=p5.id, on_file=True, signed_on=dt.date(2026, 1, 2),
                             note=""),
    ])
    db.flush()
    return partners


def set_freshness(db: Session, organization: Organization, *, confirmed_days: int | None,
                  verified_days: int | None, now: dt.datetime | None = None) -> None:
    """Make ``organization`` last confirmed and verified that many days before ``now``."""
    now = now or utcnow()
    organization.verified_at = (None if verified_days is None
                                else now - dt.timedelta(days=verified_days))
    if confirmed_days is not None:
        db.add(ListingReview(organization_id=organization.id, reminders=0,
                             confirmed_at=now - dt.timedelta(days=confirmed_days)))
    db.flush()
