"""The network reports in a real Chromium: a coordinator's dashboard and an admin's own page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
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
