"""Every figure of the report queries against the hand-computed fixture."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from directory.orgs.models import OrganizationKind
from directory.referrals.models import ReferralStatus
from directory.reports import operations as ops
from directory.reports.operations import DateRange, Dimension, Scope, Side, Timing
from tests.factories import Factory
from tests.reports.fixture import JANUARY, NOW, Network, add_referral, build


@pytest.fixture()
def network(factory: Factory, db: Session) -> Network:
    return build(factory, db)


def test_network_counts(network: Network) -> None:
    counts = ops.counts(Scope(JANUARY), Dimension.NETWORK, now=NOW)["all"]
    assert counts.sent == 6
    assert counts.accepted == 3  # r1, r2, r4
    assert counts.matched_48h == 3  # answered after 2, 10 and 30 hours
    assert counts.declined == 1
    assert counts.expired == 1
    assert counts.overdue == 1  # r5
    assert counts.closed_loop == 2  # r1 completed, r2 closed
    assert counts.by_status == {"sent": 1, "accepted": 1, "completed": 1, "closed": 1,
                                "declined": 1, "withdrawn": 0, "expired": 1}


def test_counts_by_receiving_organization_and_kind(network: Network) -> None:
    by_org = ops.counts(Scope(JANUARY), Dimension.ORGANIZATION, now=NOW)
    assert {key: c.sent for key, c in by_org.items()} == {
        str(network.b.id): 4, str(network.a.id): 1, str(network.c.id): 1}
    by_kind = ops.counts(Scope(JANUARY), Dimension.KIND, now=NOW)
    assert {key: c.sent for key, c in by_kind.items()} == {"law_enforcement": 4, "nonprofit": 2}
    by_service = ops.counts(Scope(JANUARY), Dimension.SERVICE, now=NOW)
    assert {key: c.sent for key, c in by_service.items()} == {"case_management": 5, "shelter": 1}
    by_urgency = ops.counts(Scope(JANUARY), Dimension.URGENCY, now=NOW)
    assert {key: c.sent for key, c in by_urgency.items()} == {"urgent": 5, "emergency": 1}


def test_timings_are_nearest_rank_percentiles(network: Network) -> None:
    answer = ops.timings(Scope(JANUARY), Dimension.NETWORK, Timing.ANSWER)["all"]
    assert (answer.count, answer.median, answer.p90) == (4, pytest.approx(10),
                                                         pytest.approx(60))
    accepted = ops.timings(Scope(JANUARY), Dimension.NETWORK, Timing.ACCEPTANCE)["all"]
    assert (accepted.count, accepted.median, accepted.p90) == (3, pytest.approx(10),
                                                               pytest.approx(30))
    viewed = ops.timings(Scope(JANUARY), Dimension.NETWORK, Timing.FIRST_VIEW)["all"]
    assert (viewed.count, viewed.median, viewed.p90) == (3, pytest.approx(1), pytest.approx(4))
    by_kind = ops.timings(Scope(JANUARY), Dimension.KIND, Timing.ANSWER)
    assert by_kind["law_enforcement"].median == pytest.approx(10)
    assert "nonprofit" not in by_kind  # r5 and r6 were never answered


def test_timings_are_exact_to_the_microsecond(factory: Factory, db: Session) -> None:
    """SQLite's date functions round to milliseconds (00.9996 becomes the next second) and its
    julianday() is a double in steps of some 40 microseconds: the hours must not come from
    them, or the percentiles differ from the timestamps' own differences."""
    a, b = factory.organization(), factory.organization()
    waits = [dt.timedelta(hours=2, microseconds=400), dt.timedelta(hours=5, microseconds=1),
             dt.timedelta(hours=7, seconds=59, microseconds=999_999)]
    for day, wait in enumerate(waits, start=5):
        sent = dt.datetime(2026, 1, day, 9, 30, 59, 999_600, tzinfo=dt.UTC)
        add_referral(db, a, b, sent, ReferralStatus.DECLINED).responded_at = sent + wait
    db.flush()
    answer = ops.timings(Scope(JANUARY), Dimension.NETWORK, Timing.ANSWER)["all"]
    exact = [wait.total_seconds() / 3600 for wait in waits]
    assert answer.count == 3
    assert answer.median == pytest.approx(exact[1], rel=0, abs=1e-12)
    assert answer.p90 == pytest.approx(exact[2], rel=0, abs=1e-12)


def test_figures_by_kind_follow_a_change_of_an_organizations_kind(network: Network,
                                                                  db: Session) -> None:
    """The kinds are copied onto each referral for speed: a change of kind reaches them."""
    network.b.kind = OrganizationKind.HEALTHCARE
    network.c.kind = OrganizationKind.LEGAL
    db.flush()
    by_kind = ops.counts(Scope(JANUARY), Dimension.KIND, now=NOW)
    assert {key: c.sent for key, c in by_kind.items()} == {"healthcare": 4, "nonprofit": 1,
                                                           "legal": 1}
    assert ops.timings(Scope(JANUARY), Dimension.KIND, Timing.ANSWER)["healthcare"].count == 4
    assert ops.kind_flows(Scope(JANUARY)) == {("nonprofit", "healthcare"): 3,
                                              ("legal", "healthcare"): 1,
                                              ("healthcare", "nonprofit"): 1,
                                              ("healthcare", "legal"): 1}


def test_previous_range_and_one_organization(network: Network) -> None:
    previous = JANUARY.previous()
    assert previous == DateRange(dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert ops.counts(Scope(previous), Dimension.NETWORK)["all"].sent == 1
    a = network.a.id
    assert ops.counts(Scope(JANUARY, a, Side.SENT), Dimension.NETWORK)["all"].sent == 3
    assert ops.counts(Scope(JANUARY, a, Side.RECEIVED), Dimension.NETWORK)["all"].sent == 1
    assert ops.counts(Scope(JANUARY, a), Dimension.NETWORK)["all"].sent == 4


def test_over_time_reasons_outcomes_and_flows(network: Network) -> None:
    over_time = ops.over_time(Scope(JANUARY))
    assert over_time["2026-01-05"] == {"completed": 1}
    assert sum(sum(day.values()) for day in over_time.values()) == 6
    assert ops.decline_reasons(Scope(JANUARY)) == {"no_capacity": 1}
    assert ops.outcomes(Scope(JANUARY)) == {"completed": 1, "could_not_contact": 1}
    assert ops.kind_flows(Scope(JANUARY)) == {("nonprofit", "law_enforcement"): 4,
                                              ("law_enforcement", "nonprofit"): 2}
    a, b, c = network.a.id, network.b.id, network.c.id
    assert ops.busiest(Scope(JANUARY), Side.SENT, 1) == {a: 3}
    assert ops.organization_flows(Scope(JANUARY), [a], [b]) == {(a, b): 3, (0, b): 1, (0, 0): 2}
    assert c in ops.busiest(Scope(JANUARY), Side.RECEIVED, 3)


def test_month_periods_for_a_long_range(network: Network) -> None:
    year = DateRange(dt.date(2025, 6, 1), dt.date(2026, 5, 31))
    assert ops.over_time(Scope(year)) == {
        "2025-12": {"completed": 1},
        "2026-01": {"completed": 1, "closed": 1, "declined": 1, "accepted": 1, "sent": 1,
                    "expired": 1}}
    # The daily query after the monthly one: each is compiled (and cached) apart.
    assert "2026-01-05" in ops.over_time(Scope(JANUARY))
    year = DateRange(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert year.periods()[:2] == ["2025-01", "2025-02"] and len(year.periods()) == 12
    with pytest.raises(ValueError):
        DateRange(dt.date(2025, 2, 1), dt.date(2025, 1, 1))


def test_timings_by_organization_only_for_the_organizations_asked(network: Network) -> None:
    everyone = ops.timings(Scope(JANUARY), Dimension.ORGANIZATION, Timing.ANSWER)
    assert str(network.b.id) in everyone
    only_a = ops.timings(Scope(JANUARY), Dimension.ORGANIZATION, Timing.ANSWER,
                         [network.a.id])
    assert set(only_a) <= {str(network.a.id)}
    assert ops.timings(Scope(JANUARY), Dimension.ORGANIZATION, Timing.ANSWER,
                       [network.b.id])[str(network.b.id)] == everyone[str(network.b.id)]
