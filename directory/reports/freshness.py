"""Listing freshness: the active listings by how long ago their organization last confirmed
them (``listing_reviews.confirmed_at``, see directory/orgs/freshness.py) and how long ago the
network last verified them (``organizations.verified_at``), by kind.

Both distributions come from one GROUP BY over the organizations. Like the partner tables
these count organizations, whose listings every vetted member reads: nothing is suppressed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.sql.expression import ColumnElement

from directory.db import db_session, utcnow
from directory.orgs.models import ListingReview, MembershipStatus, Organization, OrganizationKind
from directory.reports.tables import Column, Row, Table

NEVER = "never"


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: str
    from_days: int  # included
    to_days: int | None  # excluded; None: no upper bound


BUCKETS = [
    AgeBucket("under_30", _l("Under 30 days"), 0, 30),
    AgeBucket("30_to_89", _l("30 to 89 days"), 30, 90),
    AgeBucket("90_to_179", _l("90 to 179 days"), 90, 180),
    AgeBucket("180_to_364", _l("180 to 364 days"), 180, 365),
    AgeBucket("365_plus", _l("365 days or more"), 365, None),
]
BUCKET_LABELS = {**{bucket.key: bucket.label for bucket in BUCKETS}, NEVER: _l("Never")}


def _bucket(moment: ColumnElement[Any], now: dt.datetime) -> ColumnElement[str]:
    """The age bucket of ``moment`` at ``now``: compared with each bucket's start, newest
    first, so one CASE names it (a moment in the future counts as under 30 days)."""
    whens = [(moment.is_(None), NEVER)]
    whens += [(moment > now - dt.timedelta(days=bucket.to_days), bucket.key)
              for bucket in BUCKETS if bucket.to_days is not None]
    return case(*whens, else_=BUCKETS[-1].key)


def counts(now: dt.datetime | None = None) -> dict[tuple[str, str, str], int]:
    """(kind, confirmation bucket, verification bucket) -> active listings."""
    now = now or utcnow()
    confirmed = _bucket(ListingReview.confirmed_at, now).label("confirmed")
    verified = _bucket(Organization.verified_at, now).label("verified")
    # Grouped outside: PostgreSQL would not match a GROUP BY expression whose parameters
    # are bound apart from the selected one's.
    listings = (select(Organization.kind.label("kind"), confirmed, verified)
                .outerjoin(ListingReview, ListingReview.organization_id == Organization.id)
                .where(Organization.status == MembershipStatus.ACTIVE)).subquery()
    query = (select(listings.c.kind, listings.c.confirmed, listings.c.verified, func.count())
             .group_by(listings.c.kind, listings.c.confirmed, listings.c.verified))
    return {(OrganizationKind(kind).value, c, v): n for kind, c, v, n in db_session.execute(query)}


def _table(slug: str, title: str, found: dict[tuple[str, str], int], note: str) -> Table:
    kinds = [kind for kind in OrganizationKind if any(k == kind.value for _, k in found)]
    columns = [*(Column(kind.value, kind.label,
                        measure=_("%(kind)s listings", kind=kind.label.lower()))
                 for kind in kinds), Column("total", _("All kinds"), measure=_("active listings"))]
    keys = [*(bucket.key for bucket in BUCKETS), NEVER]
    rows = []
    for key in keys:
        cells = [found.get((key, kind.value), 0) for kind in kinds]
        rows.append(Row(key, str(BUCKET_LABELS[key]), [*cells, sum(cells)]))
    totals = [sum(row.cells[n] for row in rows) for n in range(len(columns))]  # type: ignore[misc]
    return Table(slug, title, _("Age"), columns, rows if found else [],
                 Row("total", _("All listings"), totals) if found else None, note=note)


@dataclass
class FreshnessReport:
    confirmed: Table
    verified: Table

    @property
    def tables(self) -> list[Table]:
        return [self.confirmed, self.verified]

    def table(self, slug: str) -> Table | None:
        return next((table for table in self.tables if table.slug == slug), None)


def report(now: dt.datetime | None = None) -> FreshnessReport:
    found = counts(now)
    by_confirmation: dict[tuple[str, str], int] = defaultdict(int)
    by_verification: dict[tuple[str, str], int] = defaultdict(int)
    for (kind, confirmed, verified), count in found.items():
        by_confirmation[(confirmed, kind)] += count
        by_verification[(verified, kind)] += count
    return FreshnessReport(
        _table("confirmed", _("Active listings by age of their last confirmation"),
               by_confirmation, _("The organization's own word that its listing is current. "
                                  "Never: not confirmed since it was listed.")),
        _table("verified", _("Active listings by age of their last verification"),
               by_verification, _("A coordinator's check of the listing. Never: not verified "
                                  "since it was listed.")))
