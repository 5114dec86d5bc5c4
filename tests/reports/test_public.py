"""The public transparency page's figures: the quarterly table against the dashboard's own
per-range queries, at the quarters' edges (UTC) and whatever the session's time zone; the
network's size with confidential locations placed as partners by state places them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from directory.orgs.models import Organization
from directory.referrals.models import ReferralStatus
from directory.reports import operations as ops
from directory.reports import partners
from directory.reports.operations import Counts, Dimension, Scope, Timing
from directory.reports.partners import public_state
from directory.reports.public import network_size, quarterly, quarters
from directory.reports.suppression import rate
from directory.reports.tables import HIDDEN
from tests.factories import Factory
from tests.reports.fixture import add_referral

TODAY = dt.date(2026, 5, 15)  # 2024 Q3 to 2026 Q2 (to date)
S = ReferralStatus


def _utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.fixture()
def pair(factory: Factory) -> tuple[Organization, Organization]:
    return factory.organization(), factory.organization()


def _sent(db: Session, pair: tuple[Organization, Organization]) -> None:
    a, b = pair
    # Each edge of a quarter on both sides, in UTC: 23:30 UTC on March 31st is April 1st in
    # most of Asia and still March 31st in America.
    for sent, status, answered in [
        (_utc(2024, 6, 30, 23, 59), S.COMPLETED, 1),  # before the first quarter shown
        (_utc(2024, 7, 1), S.COMPLETED, 3),
        (_utc(2024, 9, 30, 23, 59, 59), S.CLOSED, 5),
        (_utc(2025, 12, 31, 23, 59, 59, 999_999), S.DECLINED, 40),
        (_utc(2026, 1, 1), S.SENT, None),
        (_utc(2026, 3, 31, 23, 30), S.COMPLETED, 7),
        (_utc(2026, 3, 31, 23, 30), S.ACCEPTED, 9),
        (_utc(2026, 4, 1), S.COMPLETED, 2),
        (_utc(2026, 4, 1, 0, 0, 1), S.EXPIRED, None),
        (_utc(2026, 5, 15, 23, 59), S.CLOSED, 11),  # today
        (_utc(2026, 5, 16), S.COMPLETED, 1),  # after today
    ]:
        add_referral(db, a, b, sent, status, answered=answered)
    db.flush()


def _one_query_per_quarter(min_count: int) -> list[list[object]]:
    """The figures as the page computed them before: the dashboard's queries, per quarter."""
    rows = []
    for _label, period in quarters(TODAY):
        scope = Scope(period)
        counts = ops.counts(scope, Dimension.NETWORK).get(ops.ALL, Counts())
        answers = ops.timings(scope, Dimension.NETWORK, Timing.ANSWER).get(ops.ALL)
        median = answers.median if answers and answers.count >= min_count else None
        rows.append([counts.sent, median, rate(counts.closed_loop, counts.sent, min_count)])
    return rows


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Chicago"])
def test_quarterly_figures_match_the_per_quarter_queries(
        db: Session, pair: tuple[Organization, Organization], zone: str) -> None:
    _sent(db, pair)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text(f"SET LOCAL TIME ZONE '{zone}'"))
    table = quarterly(1, TODAY)
    assert [row.label for row in table.rows][0] == "2024 Q3"
    assert [row.cells for row in table.rows] == _one_query_per_quarter(1)
    by_quarter = {row.label: row.cells for row in table.rows}
    assert by_quarter["2024 Q3"] == [2, 3.0, 1.0]  # median of 3 h and 5 h: rank 1
    assert by_quarter["2025 Q4"] == [1, 40.0, 0.0]
    assert by_quarter["2026 Q1"] == [3, 7.0, 1 / 3]
    assert by_quarter["2026 Q2 (to date)"] == [3, 2.0, 2 / 3]
    assert by_quarter["2025 Q1"] == [0, None, None]


def test_quarterly_figures_are_suppressed_as_before(
        db: Session, pair: tuple[Organization, Organization]) -> None:
    _sent(db, pair)
    table = quarterly(3, TODAY)
    expected = _one_query_per_quarter(3)
    for row, (sent, median, closed_rate) in zip(table.rows, expected, strict=True):
        assert row.cells[0] == (HIDDEN if 0 < sent < 3 else sent)
        assert row.cells[1:] == [median, closed_rate]
    by_quarter = {row.label: row.cells for row in table.rows}
    # Three sent, two answered: the time and the rate are not shown.
    assert by_quarter["2026 Q1"] == [3, None, None]
    assert by_quarter["2024 Q3"] == [HIDDEN, None, None]


# Columbus, Ohio: the true point of a safe house recorded in a city the gazetteer does not know,
# in Indiana. Its public point is the centre of the city of the nearest ZIP code, in Ohio.
COLUMBUS_OH = (39.9612, -82.9988)


def test_a_confidential_location_counts_in_its_public_points_state(factory: Factory) -> None:
    safe_house = factory.organization(kind="legal", locations=[
        {"name": "Safe house", "city": "Nowhere Springs", "state": "IN",
         "latitude": COLUMBUS_OH[0], "longitude": COLUMBUS_OH[1], "confidential": True}])
    location = safe_house.locations[0]
    assert location.state == "IN" and public_state(location.latitude, location.longitude) == "OH"
    factory.organization(kind="legal", locations=[
        {"name": "Office", "address": "1 Main St", "city": "Indianapolis", "state": "IN",
         "postal_code": "46204"}])
    table = network_size(1)
    by_state = {row.key: row.cells for row in table.rows}
    assert by_state["OH"] == [1, 1]  # the safe house, at its public point
    assert by_state["IN"] == [1, 1]  # the office only: never the safe house's recorded state
    assert table.totals is not None and table.totals.cells == [2, 2]
    # The same state as partners by state gives it.
    assert partners.counts_by_state() == {("OH", "legal"): 1, ("IN", "legal"): 1}


def test_a_confidential_first_location_outside_the_gazetteer_is_not_placed(
        factory: Factory) -> None:
    factory.organization(locations=[
        {"name": "Safe house", "city": "Nowhere", "state": "TX", "latitude": 10.0,
         "longitude": -150.0, "confidential": True}])
    by_state = {row.key: row for row in network_size(1).rows}
    assert set(by_state) == {partners.NOT_PLACED}
    assert by_state[partners.NOT_PLACED].label == "Confidential location, state not shown"
