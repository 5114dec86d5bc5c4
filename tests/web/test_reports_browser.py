"""The network reports in a real Chromium: a coordinator's dashboard and grant period file, and
an admin's own pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from babel.dates import format_skeleton
from playwright.sync_api import Page, expect

from tests.web.test_browser import COORDINATOR, SAFE_HOME, SAFE_HOME_ADMIN, open_login, sign_in

pytestmark = pytest.mark.browser


def test_a_coordinator_changes_the_range_and_downloads_a_table(page: Page,
                                                               live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, COORDINATOR)
    page.wait_for_url(f"{live_server}/")
    page.get_by_role("link", name="Reports").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Is the network working?")
    start = (dt.date.today() - dt.timedelta(days=29)).isoformat()
    page.fill("input[name=start]", start)
    page.select_option("select[name=by]", "urgency")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/reports/?start={start}*by=urgency*")
    expect(page.locator("input[name=start]")).to_have_value(start)
    expect(page.locator("svg.chart").first).to_be_attached()
    expect(page.get_by_role("heading", name="By urgency")).to_be_visible()
    with page.expect_download() as download:
        page.locator("#table-kind_flows a.csv-link").click()
    assert download.value.suggested_filename == "network-kind_flows.csv"
    assert "Total sent" in Path(download.value.path()).read_text(encoding="utf-8")
    # The coverage gaps of a service: the map, its legend, and the table that reads it.
    page.get_by_role("link", name="Coverage gaps").click()
    page.select_option("select[name=service]", "shelter.youth")
    page.get_by_role("button", name="Show coverage").click()
    page.wait_for_url("**/reports/gaps?service=shelter.youth*")
    expect(page.locator("svg.gap-map")).to_be_visible()
    expect(page.locator("svg.gap-map path[data-covered=false]").first).to_be_attached()
    expect(page.get_by_text("Hatched: no member covers it")).to_be_visible()
    gap_rows = page.locator("#table-gap_counties tbody tr")
    hatched = page.locator("svg.gap-map path[data-covered=false]")
    assert gap_rows.count() == hatched.count() > 0
    with page.expect_download() as download:
        page.locator("#table-gap_counties a.csv-link").click()
    assert download.value.suggested_filename == "coverage-gaps-shelter.youth-gap_counties.csv"


def test_an_organization_admin_sees_only_its_own_figures(page: Page, live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, SAFE_HOME_ADMIN)
    page.wait_for_url(f"{live_server}/")
    page.get_by_role("link", name="Reports").first.click()
    page.wait_for_url(f"**/reports/organizations/{SAFE_HOME}*")
    expect(page.locator("#table-comparison")).to_contain_text("Received by this organization")
    response = page.goto(f"{live_server}/reports/tables/statuses.csv")
    assert response is not None and response.status == 403


def test_a_coordinator_changes_the_grant_period_and_downloads_its_file(
        page: Page, live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, COORDINATOR)
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/reports/")
    page.get_by_role("link", name="Grant reporting").click()
    page.wait_for_url("**/reports/grants")
    expect(page.get_by_role("heading", level=1)).to_have_text("Grant reporting")
    first, last = dt.date.today() - dt.timedelta(days=59), dt.date.today() - dt.timedelta(days=1)
    start, end = first.isoformat(), last.isoformat()
    page.fill("input[name=start]", start)
    page.fill("input[name=end]", end)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/reports/grants?start={start}&end={end}")
    expect(page.locator("input[name=end]")).to_have_value(end)
    # The page writes the period's dates as its reader reads them: "Oct 4, 2026".
    shown = [format_skeleton("yMMMd", day, locale="en_US") for day in (first, last)]
    expect(page.get_by_text(f"for referrals sent from {shown[0]} to {shown[1]}")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the period file").click()
    assert download.value.suggested_filename == f"network-grants-{start}-{end}-period.csv"
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    header = rows[0]
    assert header[:2] == ["Period", "referrals sent in the period"]
    assert "HHS: matched to a provider within 48 hours (count)" in header
    assert "hotline: total partners" in header
    assert rows[1][0] == "measure" and len(rows) == 3
    assert rows[2][0] == f"Whole network, {start} to {end}"


def test_an_organization_admin_opens_its_grant_page_and_not_the_networks(
        page: Page, live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, SAFE_HOME_ADMIN)
    page.wait_for_url(f"{live_server}/")
    own = page.goto(f"{live_server}/reports/organizations/{SAFE_HOME}/grants")
    assert own is not None and own.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grant reporting: ")
    expect(page.get_by_role("link", name="Download the period file")).to_be_visible()
    for path in ("/reports/grants", "/reports/grants/period.csv"):
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 403, path
