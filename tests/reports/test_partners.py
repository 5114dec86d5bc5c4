"""The partner and listing-freshness reports: every figure against the hand-computed fixture
(tests/reports/partners_fixture.py), over HTTP and CSV, with their permissions and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.orgs.models import OrganizationKind
from directory.reports import freshness, partners
from directory.reports.operations import DateRange
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.reports.partners_fixture import Partners, build, set_freshness

JANUARY = DateRange(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
RANGE = "start=2026-01-01&end=2026-01-31"
PAGES = ["/reports/partners", "/reports/partners/tables/partners_by_kind.csv",
         "/reports/partners/tables/partners_by_state.csv", "/reports/freshness",
         "/reports/freshness/tables/confirmed.csv", "/reports/freshness/tables/verified.csv"]


@pytest.fixture()
def network(factory: Factory, db: Session) -> Partners:
    return build(factory, db)


@pytest.fixture()
def coordinator(factory: Factory, auth: AuthActions) -> None:
    auth.login(factory.user(coordinator=True).email)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _by_label(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    header = rows[0]
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows[2:]}


# --- the figures ---------------------------------------------------------------------------

def test_partner_counts_by_kind(network: Partners) -> None:
    found = partners.counts_by_kind(JANUARY)
    assert {kind: (c.partners, c.new, c.mou) for kind, c in found.items()} == {
        "nonprofit": (2, 2, 1), "law_enforcement": (1, 1, 0), "legal": (1, 0, 1),
        "healthcare": (1, 0, 0)}


def test_a_partner_joining_at_midnight_after_the_range_is_not_new(network: Partners) -> None:
    february = partners.counts_by_kind(DateRange(dt.date(2026, 2, 1), dt.date(2026, 2, 1)))
    assert february["healthcare"].new == 1 and february["law_enforcement"].new == 0


def test_partner_counts_by_state_use_a_confidential_locations_public_point(
        network: Partners) -> None:
    assert partners.counts_by_state() == {
        ("TX", "nonprofit"): 2, ("TX", "legal"): 1, ("LA", "legal"): 1,
        ("OH", "law_enforcement"): 1, (partners.NO_LOCATION, "healthcare"): 1}


def test_the_csv_of_partners_by_kind(client: FlaskClient, coordinator: None,
                                     network: Partners) -> None:
    response = client.get(f"/reports/partners/tables/partners_by_kind.csv?{RANGE}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="network-partners_by_kind.csv"' in response.headers["Content-Disposition"]
    rows = _rows(response.text)
    assert rows[0] == ["Kind", "Partners", "New in the range", "MOU on file", "No MOU on file",
                       "Share with an MOU"]
    assert rows[1][0] == "measure" and rows[1][1].startswith("hotline: total partners")
    assert rows[1][2].startswith("hotline: new referral partners added")
    assert rows[2:] == [["Law enforcement", "1", "1", "0", "1", "0.0"],
                        ["Nonprofit", "2", "2", "1", "1", "0.5"],
                        ["Healthcare", "1", "0", "0", "1", "0.0"],
                        ["Legal", "1", "0", "1", "0", "1.0"],
                        ["All partners", "5", "3", "2", "3", "0.4"]]


def test_the_csv_of_partners_by_state(client: FlaskClient, coordinator: None,
                                      network: Partners) -> None:
    rows = _rows(client.get("/reports/partners/tables/partners_by_state.csv").text)
    assert rows[0] == ["State", "Law enforcement", "Nonprofit", "Healthcare", "Legal",
                       "All kinds"]
    assert rows[2:] == [["Louisiana", "0", "0", "0", "1", "1"],
                        ["Ohio", "1", "0", "0", "0", "1"],
                        ["Texas", "0", "2", "0", "1", "3"],
                        ["No location on file", "0", "0", "1", "0", "1"]]
    by_state = _by_label(rows)
    assert "Indiana" not in by_state  # the safe house's true point is never used
    assert by_state["Texas"]["All kinds"] == "3" and by_state["Ohio"]["Law enforcement"] == "1"


def test_the_partners_page(client: FlaskClient, coordinator: None, network: Partners) -> None:
    page = client.get(f"/reports/partners?{RANGE}")
    assert page.status_code == 200
    assert "<strong>5</strong> partners today" in page.text
    assert "<strong>3</strong> new in the range" in page.text
    assert "(40%)" in page.text
    assert page.text.count("<svg") == 2 and 'data-table="partners_by_kind"' in page.text
    assert "Renewal pending." not in page.text and "Signed by the director." not in page.text
    assert "Indiana" not in page.text


def test_an_empty_network_has_no_partners(client: FlaskClient, coordinator: None) -> None:
    page = client.get(f"/reports/partners?{RANGE}")
    assert page.status_code == 200 and "No partners yet." in page.text


# --- listing freshness ---------------------------------------------------------------------

@pytest.fixture()
def aged(network: Partners, db: Session) -> Partners:
    """Confirmed / verified this many days ago (active listings only count):
    p1 5/29, p2 45/200, p3 never/never, p4 400/100, p7 179/365; p5 and p6 are not active."""
    for organization, confirmed, verified in (
            (network.p1, 5, 29), (network.p2, 45, 200), (network.p3, None, None),
            (network.p4, 400, 100), (network.p7, 179, 365), (network.p5, 1, 1),
            (network.p6, 1, 1)):
        set_freshness(db, organization, confirmed_days=confirmed, verified_days=verified)
    return network


def test_freshness_in_one_group_by(aged: Partners) -> None:
    found = freshness.counts()
    assert found == {
        ("nonprofit", "under_30", "under_30"): 1, ("nonprofit", "30_to_89", "180_to_364"): 1,
        ("law_enforcement", "never", "never"): 1, ("legal", "365_plus", "90_to_179"): 1,
        ("healthcare", "90_to_179", "365_plus"): 1}


@pytest.mark.parametrize("days,bucket", [
    (0, "under_30"), (29.9, "under_30"), (30, "30_to_89"), (89.9, "30_to_89"),
    (90, "90_to_179"), (180, "180_to_364"), (364.9, "180_to_364"), (365, "365_plus"),
    (-1, "under_30"),
])
def test_the_age_buckets_boundaries(factory: Factory, db: Session, days: float,
                                    bucket: str) -> None:
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    organization = factory.organization(kind=OrganizationKind.TRIBAL)
    organization.verified_at = now - dt.timedelta(days=days)
    db.flush()
    assert freshness.counts(now) == {("tribal", "never", bucket): 1}


def test_the_csv_of_listings_by_confirmation(client: FlaskClient, coordinator: None,
                                             aged: Partners) -> None:
    response = client.get("/reports/freshness/tables/confirmed.csv")
    assert response.status_code == 200
    rows = _rows(response.text)
    assert rows[0] == ["Age", "Law enforcement", "Nonprofit", "Healthcare", "Legal",
                       "All kinds"]
    assert rows[1] == ["measure", "law enforcement listings", "nonprofit listings",
                       "healthcare listings", "legal listings", "active listings"]
    assert rows[2:] == [["Under 30 days", "0", "1", "0", "0", "1"],
                        ["30 to 89 days", "0", "1", "0", "0", "1"],
                        ["90 to 179 days", "0", "0", "1", "0", "1"],
                        ["180 to 364 days", "0", "0", "0", "0", "0"],
                        ["365 days or more", "0", "0", "0", "1", "1"],
                        ["Never", "1", "0", "0", "0", "1"],
                        ["All listings", "1", "2", "1", "1", "5"]]


def test_the_csv_of_listings_by_verification(client: FlaskClient, coordinator: None,
                                             aged: Partners) -> None:
    by_age = _by_label(_rows(client.get("/reports/freshness/tables/verified.csv").text))
    assert {age: row["All kinds"] for age, row in by_age.items()} == {
        "Under 30 days": "1", "30 to 89 days": "0", "90 to 179 days": "1",
        "180 to 364 days": "1", "365 days or more": "1", "Never": "1", "All listings": "5"}
    assert by_age["365 days or more"]["Healthcare"] == "1"
    assert by_age["Never"]["Law enforcement"] == "1"


def test_the_freshness_page_links_to_the_stale_listings(client: FlaskClient,
                                                        coordinator: None,
                                                        aged: Partners) -> None:
    page = client.get("/reports/freshness")
    assert page.status_code == 200
    assert 'href="/listings/stale"' in page.text and "within 180 days" in page.text
    assert page.text.count("<svg") == 2


def test_no_active_listing(client: FlaskClient, coordinator: None) -> None:
    page = client.get("/reports/freshness")
    assert page.status_code == 200 and "No active listings." in page.text


# --- who may look, and bad input -------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_coordinators_only(client: FlaskClient, auth: AuthActions, factory: Factory,
                           network: Partners, path: str) -> None:
    assert client.get(path).status_code == 302  # anonymous: to sign in
    assert "/login" in client.get(path).headers["Location"]
    for role in (MemberRole.ADMIN, MemberRole.REFERRER):
        auth.login(factory.user(organization=network.p1, role=role).email)
        assert client.get(path).status_code == 403
        auth.logout()
    auth.login(factory.user(coordinator=True).email)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("query", ["start=2026-13-01", "start=yesterday", "end=2026-02-30",
                                   "start=2026-02-01&end=2026-01-01",
                                   "start=1990-01-01&end=2026-01-01"])
@pytest.mark.parametrize("path", ["/reports/partners",
                                  "/reports/partners/tables/partners_by_kind.csv"])
def test_bad_dates_are_refused(client: FlaskClient, coordinator: None, path: str,
                               query: str) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/reports/partners/tables/statuses.csv",
                                  "/reports/freshness/tables/partners_by_kind.csv",
                                  "/reports/freshness/tables/nothing.csv"])
def test_unknown_tables_are_not_found(client: FlaskClient, coordinator: None,
                                      path: str) -> None:
    assert client.get(path).status_code == 404
