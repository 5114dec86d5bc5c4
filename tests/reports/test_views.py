"""The report pages and CSV files over HTTP: who sees what, suppression as printed, bad input."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.reports.fixture import Network, build

RANGE = "start=2026-01-01&end=2026-01-31"


@pytest.fixture()
def network(factory: Factory, db: Session) -> Network:
    return build(factory, db)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_coordinator_dashboard_suppresses_small_counts(client: FlaskClient, auth: AuthActions,
                                                       factory: Factory,
                                                       network: Network) -> None:
    auth.login(factory.user(coordinator=True).email)
    page = client.get(f"/reports/?{RANGE}&by=kind")
    assert page.status_code == 200
    # Six referrals in all: every non-zero count is below five.
    assert "fewer than 5" in page.text and "<svg" in page.text
    assert network.a.name not in page.text  # organization flows: every count is hidden
    rows = _rows(client.get(f"/reports/tables/kind_flows.csv?{RANGE}").text)
    assert rows[0] == ["From \\ to", "Law enforcement", "Nonprofit", "Total sent"]
    by_sender = {row[0]: row[1:] for row in rows[2:]}
    assert by_sender["Nonprofit"] == ["fewer than 5", "0", "fewer than 5"]
    assert by_sender["Law enforcement"] == ["0", "fewer than 5", "fewer than 5"]
    assert rows[-1][-1] == "6"  # the grand total is large enough to show


def test_with_a_threshold_of_one_every_figure_shows(client: FlaskClient, auth: AuthActions,
                                                    factory: Factory, network: Network,
                                                    app: object) -> None:
    auth.login(factory.user(coordinator=True).email)
    client.application.config["REPORT_MIN_COUNT"] = 1
    try:
        rows = _rows(client.get(f"/reports/tables/performance.csv?{RANGE}&by=network").text)
        statuses = _rows(client.get(f"/reports/tables/statuses.csv?{RANGE}&by=kind").text)
    finally:
        client.application.config["REPORT_MIN_COUNT"] = 5
    header = rows[0]
    network_row = dict(zip(header, rows[2], strict=True))
    assert network_row["Sent"] == "6"
    assert network_row["Accepted"] == "0.5"  # 3 of 6
    assert network_row["Declined"] == str(round(1 / 6, 4))
    assert network_row["Accepted within 48 h"] == "0.5"
    assert network_row["Closed loop"] == str(round(2 / 6, 4))
    assert network_row["Overdue now"] == "1" and network_row["Expired"] == "1"
    assert network_row["Time to an answer, median"] == "10.0"
    assert network_row["Time to an answer, 90th pct."] == "60.0"
    assert network_row["Time to acceptance, 90th pct."] == "30.0"
    assert rows[1][0] == "measure" and "HHS: matched to a provider within 48 hours" in rows[1]
    by_kind = {row[0]: row for row in statuses[2:]}
    assert by_kind["Law enforcement"][-1] == "4" and by_kind["Nonprofit"][-1] == "2"


def test_an_admin_sees_their_own_figures_unsuppressed(client: FlaskClient, auth: AuthActions,
                                                      factory: Factory,
                                                      network: Network) -> None:
    admin = factory.user(organization=network.a, role=MemberRole.ADMIN)
    auth.login(admin.email)
    landing = client.get(f"/reports/?{RANGE}")
    assert landing.status_code == 302
    assert landing.headers["Location"].startswith(f"/reports/organizations/{network.a.slug}")
    page = client.get(f"/reports/organizations/{network.a.slug}?{RANGE}")
    assert page.status_code == 200 and network.a.name in page.text
    rows = _rows(client.get(
        f"/reports/organizations/{network.a.slug}/tables/comparison.csv?{RANGE}").text)
    by_label = {row[0]: row for row in rows[2:]}
    assert by_label["Sent by this organization"][1] == "3"  # own: no suppression
    assert by_label["Received by this organization"][1] == "1"
    assert by_label["Whole network"][1] == "6"
    assert by_label["Whole network"][2] == ""  # 3 accepted of 6: a rate over a hidden count
    assert client.get(f"/reports/organizations/{network.b.slug}").status_code == 403
    assert client.get(f"/reports/tables/statuses.csv?{RANGE}").status_code == 403


@pytest.mark.parametrize("query", ["start=2026-13-01", "start=2026-02-01&end=2026-01-01",
                                   "start=2000-01-01&end=2026-01-01", "by=planet"])
def test_bad_ranges_are_a_clear_400(client: FlaskClient, auth: AuthActions, factory: Factory,
                                    query: str) -> None:
    auth.login(factory.user(coordinator=True).email)
    response = client.get(f"/reports/?{query}")
    assert response.status_code == 400
    assert "range" in response.text or "date" in response.text or "Break" in response.text


def test_unknown_table_is_404(client: FlaskClient, auth: AuthActions, factory: Factory) -> None:
    auth.login(factory.user(coordinator=True).email)
    assert client.get("/reports/tables/clients.csv").status_code == 404
