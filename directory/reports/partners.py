"""Partners: how many member organizations the network has, of which kinds and in which
states, how many joined in a period, and with how many a partnership agreement (MOU) is on
file (the hotline's "new referral partners added, total partners").

These tables count organizations, not clients, and are not suppressed: every partner is
listed by name, kind, city and state in the directory every vetted member reads, so a count
of them, however small, tells a coordinator nothing about anybody the directory does not
already show. Small-number suppression protects the people referred (their counts live in
``tables.py``), and none of them appears here.

A partner is an organization that is an active member now; a new partner one that first
became an active member in the range (``Organization.joined_at``), whatever its standing
since. The states are those of the partners' locations; a confidential location counts in
the state of its public point (its city's centre, see directory.geo.public), never anything
taken from its true point, as everything an outsider learns about it is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import aliased

from directory.db import db_session
from directory.geo.states import STATES
from directory.hsds.places import place_at
from directory.orgs.models import (
    Location,
    Organization,
    OrganizationKind,
    PartnershipAgreement,
)
from directory.reports.operations import DateRange
from directory.reports.tables import Column, ColumnKind, Row, Table

NO_LOCATION = "none"  # a partner with no location on file
NOT_PLACED = "unknown"  # a confidential location whose public point is in no known state
ALL_KINDS = "total"

_active = Organization.is_active  # the one definition, shared with public.network_size
# The placing of a confidential location is shared with it too (``public_state``).


@dataclass
class KindCounts:
    partners: int = 0
    new: int = 0
    mou: int = 0

    @property
    def mou_share(self) -> float | None:
        return self.mou / self.partners if self.partners else None


def counts_by_kind(period: DateRange) -> dict[str, KindCounts]:
    """Partners now, new partners in ``period`` and partners with an MOU on file, per kind,
    in one pass over the organizations."""
    joined = and_(Organization.joined_at >= period.start_at,
                  Organization.joined_at < period.end_at)
    query = (select(Organization.kind,
                    func.sum(case((_active, 1), else_=0)),
                    func.sum(case((joined, 1), else_=0)),
                    func.sum(case((and_(_active, PartnershipAgreement.on_file.is_(True)), 1),
                                  else_=0)))
             .select_from(Organization)
             .outerjoin(PartnershipAgreement,
                        PartnershipAgreement.organization_id == Organization.id)
             .group_by(Organization.kind))
    found: dict[str, KindCounts] = {}
    for kind, partners, new, mou in db_session.execute(query):
        if partners or new:
            found[OrganizationKind(kind).value] = KindCounts(partners or 0, new or 0, mou or 0)
    return found


def public_state(latitude: float, longitude: float) -> str:
    """The state a confidential location's public point (``latitude``/``longitude``) is in."""
    place = place_at(latitude, longitude)
    return place[1] if place is not None else NOT_PLACED


def counts_by_state() -> dict[tuple[str, str], int]:
    """(state, kind) -> partners with a location in the state. The public locations are
    counted in SQL; the confidential ones (a small share) are placed from their public point
    and added where their organization has no public location in that state already."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    public = (select(Location.state, Organization.kind,
                     func.count(func.distinct(Organization.id)))
              .join(Organization, Organization.id == Location.organization_id)
              .where(_active, Location.confidential.is_(False))
              .group_by(Location.state, Organization.kind))
    for state, kind, count in db_session.execute(public):
        counts[(state, OrganizationKind(kind).value)] += count
    hidden, other = aliased(Location), aliased(Location)
    confidential = (select(hidden.organization_id, Organization.kind, hidden.latitude,
                           hidden.longitude, other.state)
                    .join(Organization, Organization.id == hidden.organization_id)
                    .outerjoin(other, and_(other.organization_id == hidden.organization_id,
                                           other.confidential.is_(False)))
                    .where(_active, hidden.confidential.is_(True)))
    kinds: dict[int, str] = {}
    public_states: dict[int, set[str]] = defaultdict(set)
    points: dict[int, set[tuple[float, float]]] = defaultdict(set)
    for organization_id, kind, latitude, longitude, state in db_session.execute(confidential):
        kinds[organization_id] = OrganizationKind(kind).value
        points[organization_id].add((latitude, longitude))
        if state is not None:
            public_states[organization_id].add(state)
    for organization_id, found in points.items():
        states = {public_state(*point) for point in found} - public_states[organization_id]
        for state in states:
            counts[(state, kinds[organization_id])] += 1
    without = (select(Organization.kind, func.count())
               .where(_active, ~exists().where(Location.organization_id == Organization.id))
               .group_by(Organization.kind))
    for kind, count in db_session.execute(without):
        counts[(NO_LOCATION, OrganizationKind(kind).value)] += count
    return dict(counts)


def kind_columns() -> list[Column]:
    """The by-kind table's columns, labelled in the reader's language."""
    return [
        Column("partners", _("Partners"),
               measure=_("hotline: total partners (active members now)")),
        Column("new", _("New in the range"), measure=_(
            "hotline: new referral partners added (became active members in the range)")),
        Column("mou", _("MOU on file"),
               measure=_("partners with a signed partnership agreement on file")),
        Column("no_mou", _("No MOU on file"),
               measure=_("partners without a partnership agreement on file")),
        Column("mou_share", _("Share with an MOU"), ColumnKind.RATE,
               measure=_("share of partners with a partnership agreement on file")),
    ]


def _kind_cells(counts: KindCounts) -> list[int | float | None]:
    return [counts.partners, counts.new, counts.mou, counts.partners - counts.mou,
            counts.mou_share]


def _kinds_in_order(keys: set[str]) -> list[OrganizationKind]:
    return [kind for kind in OrganizationKind if kind.value in keys]


def by_kind_table(found: dict[str, KindCounts], total: KindCounts) -> Table:
    return Table(
        "partners_by_kind", _("Partners by kind"), _("Kind"), kind_columns(),
        [Row(kind.value, kind.label, _kind_cells(found[kind.value]))
         for kind in _kinds_in_order(set(found))],
        Row("total", _("All partners"), _kind_cells(total)) if found else None,
        note=_("Partners are active members now. New partners first became active members in "
               "the range, whatever their standing since. Counts of organizations, not of "
               "clients: none is suppressed."))


def _state_label(key: str) -> str:
    if key == NO_LOCATION:
        return _("No location on file")
    if key == NOT_PLACED:
        return _("Confidential location, state not shown")
    return STATES.get(key, key)


def _state_order(key: str) -> tuple[int, str]:
    return (0 if key in STATES else 1 if key == NOT_PLACED else 2, _state_label(key))


def by_state_table() -> Table:
    found = counts_by_state()
    kinds = _kinds_in_order({kind for _, kind in found})
    states = sorted({state for state, _ in found}, key=_state_order)
    columns = [*(Column(kind.value, kind.label,
                        measure=_("%(kind)s partners", kind=kind.label.lower()))
                 for kind in kinds),
               Column(ALL_KINDS, _("All kinds"),
                      measure=_("partners with a location in the state"))]
    rows = []
    for state in states:
        cells = [found.get((state, kind.value), 0) for kind in kinds]
        rows.append(Row(state, _state_label(state), [*cells, sum(cells)]))
    return Table(
        "partners_by_state", _("Partners by state"), _("State"), columns, rows,
        note=_("A partner counts in every state where it has a location, so the states add up "
               "to more than the partners; a confidential location counts in the state of its "
               "public point (its city's centre)."))


@dataclass
class PartnersReport:
    total: KindCounts
    by_kind: Table
    by_state: Table

    @property
    def tables(self) -> list[Table]:
        return [self.by_kind, self.by_state]

    def table(self, slug: str) -> Table | None:
        return next((table for table in self.tables if table.slug == slug), None)


def network_total(found: dict[str, KindCounts]) -> KindCounts:
    """The whole network's counts from ``counts_by_kind``'s."""
    return KindCounts(sum(c.partners for c in found.values()),
                      sum(c.new for c in found.values()), sum(c.mou for c in found.values()))


def report(period: DateRange) -> PartnersReport:
    found = counts_by_kind(period)
    total = network_total(found)
    return PartnersReport(total, by_kind_table(found, total), by_state_table())
