"""Counts by receiving organization: the busiest receivers and one "Other" sum, chosen in SQL
(``operations.busiest_receivers``), against the choice made in Python over every receiver's
counts (``suppression.group_rare``), and the dashboard's table and CSV built from them."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.orgs.models import Organization
from directory.referrals.models import ReferralStatus
from directory.reports import operations as ops
from directory.reports.operations import Counts, Dimension, Scope
from directory.reports.suppression import group_rare
from directory.reports.tables import ORGANIZATION_ROWS
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.reports.fixture import JANUARY, NOW, _at, add_referral

RANGE = "start=2026-01-01&end=2026-01-31"
RECEIVERS = 32
# Received per organization: 3 to 13, with ties, some below the threshold of 5.
SIZES = [3 + (n * 7) % 11 for n in range(RECEIVERS)]
STATUSES = [ReferralStatus.COMPLETED, ReferralStatus.SENT, ReferralStatus.DECLINED,
            ReferralStatus.ACCEPTED, ReferralStatus.CLOSED, ReferralStatus.EXPIRED]


@pytest.fixture()
def receivers(factory: Factory, db: Session) -> list[Organization]:
    sender = factory.organization()
    found = [factory.organization() for _ in range(RECEIVERS)]
    statuses = itertools.cycle(STATUSES)
    for receiver, size in zip(found, SIZES, strict=True):
        for day in range(size):
            status = next(statuses)
            answered = None if status in (ReferralStatus.SENT, ReferralStatus.EXPIRED) \
                else 3 + 20 * (day % 4)
            add_referral(db, sender, receiver, _at(1 + day), status, answered=answered)
    db.flush()
    return found


def _merged(counts: dict[str, Counts], keys: set[str]) -> Counts:
    merged = Counts(by_status={status.value: 0 for status in ops.REPORTED_STATUSES})
    for key in keys:
        merged.sent += counts[key].sent
        merged.accepted += counts[key].accepted
        merged.matched_48h += counts[key].matched_48h
        merged.overdue += counts[key].overdue
        for status, value in counts[key].by_status.items():
            merged.by_status[status] += value
    return merged


@pytest.mark.parametrize("own_index", [None, 0, 1, 5])
def test_the_busiest_receivers_are_chosen_as_group_rare_chooses(
        receivers: list[Organization], own_index: int | None) -> None:
    # Receiver 0 has 3 referrals (kept only as the viewer's own), 1 has 10, 5 has 6 (a tie).
    own = frozenset() if own_index is None else frozenset({str(receivers[own_index].id)})
    scope = Scope(JANUARY)
    every = ops.counts(scope, Dimension.ORGANIZATION, now=NOW)
    kept, grouped = group_rare({key: c.sent for key, c in every.items()}, 5, own=own,
                               limit=ORGANIZATION_ROWS)
    found = ops.busiest_receivers(scope, ORGANIZATION_ROWS, 5, own=own, now=NOW)
    assert list(found.kept) == kept
    assert found.kept == {key: every[key] for key in kept}
    assert found.others == len(grouped) > 0
    assert found.other == _merged(every, grouped)
    assert sum(c.sent for c in found.kept.values()) + found.other.sent == sum(SIZES)


def test_no_other_row_when_every_receiver_has_a_row(receivers: list[Organization]) -> None:
    found = ops.busiest_receivers(Scope(JANUARY), RECEIVERS, 1, now=NOW)
    assert len(found.kept) == RECEIVERS and found.others == 0
    assert found.other.sent == 0
    empty = ops.busiest_receivers(Scope(ops.DateRange(JANUARY.start.replace(year=2020),
                                                      JANUARY.end.replace(year=2020))),
                                  ORGANIZATION_ROWS, 5)
    assert (empty.kept, empty.others, empty.other.sent) == ({}, 0, 0)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _no_lone_hidden_cell(lines: list[list[str]]) -> None:
    for line in [*lines, *map(list, zip(*lines, strict=True))]:
        assert sum(cell.startswith("fewer than") for cell in line) != 1, line


def test_the_by_organization_csv_shows_the_busiest_and_other(
        client: FlaskClient, auth: AuthActions, factory: Factory,
        receivers: list[Organization]) -> None:
    auth.login(factory.user(coordinator=True).email)
    rows = _rows(client.get(f"/reports/tables/statuses.csv?{RANGE}&by=organization").text)
    assert rows[0][0] == "Receiving organization" and rows[0][-1] == "Total sent"
    body, totals = rows[2:-1], rows[-1]
    ranked = sorted(zip(receivers, SIZES, strict=True),
                    key=lambda pair: (-pair[1], str(pair[0].id)))
    shown = ranked[:ORGANIZATION_ROWS]
    assert [row[0] for row in body[:-1]] == [organization.name for organization, _ in shown]
    assert [int(row[-1]) for row in body[:-1]] == [size for _, size in shown]
    assert body[-1][0] == f"Other ({RECEIVERS - ORGANIZATION_ROWS})"
    assert body[-1][-1] == str(sum(size for _, size in ranked[ORGANIZATION_ROWS:]))
    assert totals[0] == "Total" and totals[-1] == str(sum(SIZES))
    # Every small status count is hidden, and none comes back from a row's or a column's sum.
    assert any(cell.startswith("fewer than") for row in body for cell in row)
    _no_lone_hidden_cell([row[1:] for row in [*body, totals]])
    performance = _rows(client.get(
        f"/reports/tables/performance.csv?{RANGE}&by=organization").text)
    assert [row[0] for row in performance[2:]] == [row[0] for row in body]
    other = dict(zip(performance[0], performance[-1], strict=True))
    assert other["Sent"] == body[-1][-1]
    assert other["Time to an answer, median"] == ""  # no time is shown for a group
