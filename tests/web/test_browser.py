"""End-to-end tests in a real Chromium against the seeded demo network (see conftest.py)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from directory.seeding import SEED_DIR
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

COORDINATOR = "coordinator@demo.example"
SAFE_HOME_ADMIN = "admin@safehome.demo.example"
TASK_FORCE_REFERRER = "referrer@taskforce.demo.example"
SAFE_HOME = "live-oak-hill-ministries-safe-home-houston"


def seed_organizations() -> list[dict[str, Any]]:
    document = json.loads((SEED_DIR / "organizations.json").read_text(encoding="utf-8"))
    return document["organizations"]


def seed_organization(slug: str) -> dict[str, Any]:
    return next(entry for entry in seed_organizations() if entry["slug"] == slug)


def active_count(kind: str | None = None) -> int:
    counts = Counter(entry["kind"] for entry in seed_organizations() if entry["status"] == "active")
    return counts[kind] if kind else sum(counts.values())


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill the real sign-in form (with its CSRF token) on the current /login page."""
    assert path_of(page) == "/login"
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()


def open_login(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/login")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()


def sign_out(page: Page) -> None:
    page.locator("header.site-header").get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login(\?|$)"))
    expect(page.get_by_role("status")).to_contain_text("You are signed out")


def test_sign_in_browse_filter_and_open_a_profile(page: Page, live_server: str) -> None:
    # An anonymous visitor is sent to the sign-in page, remembering where they were going.
    page.goto(f"{live_server}/organizations")
    page.wait_for_url(re.compile(r"/login\?next="))
    assert path_of(page) == "/login"
    assert "Sign out" not in page.locator("header.site-header").inner_text()

    sign_in(page, COORDINATOR)
    page.wait_for_url(re.compile(r"/organizations$"))  # back where they were going
    header = page.locator("header.site-header")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()

    # The home page shows the network at a glance.
    header.get_by_role("link", name="Partner Directory").click()
    page.wait_for_url(f"{live_server}/")
    stats = page.get_by_role("region", name="The network at a glance")
    expect(stats).to_be_visible()
    expect(stats.locator("article").first).to_contain_text(str(active_count()))
    expect(stats.locator("article").first).to_contain_text("member organizations")
    assert active_count() == 169

    # The Organizations link lists organizations.
    header.get_by_role("link", name="Organizations").click()
    page.wait_for_url(f"{live_server}/organizations")
    expect(page.get_by_role("heading", name="Organizations", level=1)).to_be_visible()
    expect(page.get_by_text(f"{active_count()} organizations", exact=True)).to_be_visible()
    assert page.locator(".org-list > li article").count() == 25  # one page

    # Filtering by kind keeps law enforcement only.
    page.get_by_label("Kind").select_option(label="Law enforcement")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"kind=law_enforcement"))
    expected = active_count("law_enforcement")
    expect(page.get_by_text(f"{expected} organizations", exact=True)).to_be_visible()
    expect(page.get_by_label("Kind")).to_have_value("law_enforcement")
    cards = page.locator(".org-list > li article")
    badges = page.locator(".org-list .badge[class*='kind-']")
    assert cards.count() == min(expected, 25)
    assert badges.count() == cards.count()
    assert set(badges.all_inner_texts()) == {"Law enforcement"}
    assert page.locator(".org-list .badge.kind-law_enforcement").count() == cards.count()

    # Clicking an organization opens its profile.
    first = page.locator(".org-list > li article header a").first
    name = first.inner_text().strip()
    first.click()
    page.wait_for_url(re.compile(r"/organizations/[a-z0-9-]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("article.profile .badge.kind-law_enforcement")).to_be_visible()


def test_confidential_address_is_shown_only_to_its_own_organization(
        page: Page, live_server: str) -> None:
    secret = next(location for location in seed_organization(SAFE_HOME)["locations"]
                  if location["confidential"])
    public = next(location for location in seed_organization(SAFE_HOME)["locations"]
                  if not location["confidential"])
    profile_url = f"{live_server}/organizations/{SAFE_HOME}"

    # A member of another organization sees the city, not the address.
    open_login(page, live_server)
    sign_in(page, TASK_FORCE_REFERRER)
    page.wait_for_url(f"{live_server}/")
    page.goto(profile_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Live Oak Hill Ministries Safe Home")
    confidential = page.locator("article.location.confidential")
    expect(confidential).to_have_count(1)
    expect(confidential).to_contain_text("Confidential location")
    expect(confidential).to_contain_text(f"{secret['city']}, {secret['state']}")
    html = page.content()
    assert secret["address"] not in html
    assert secret["postal_code"] not in html
    # The organization's public location is still shown in full.
    expect(page.get_by_text(public["address"])).to_be_visible()

    sign_out(page)

    # A member of the organization itself sees the address.
    sign_in(page, SAFE_HOME_ADMIN)
    page.wait_for_url(f"{live_server}/")
    page.goto(profile_url)
    confidential = page.locator("article.location.confidential")
    expect(confidential).to_contain_text(secret["address"])
    expect(confidential).to_contain_text("Confidential: shown only to your organization")
    assert secret["address"] in page.content()


def test_wrong_password_is_refused(page: Page, live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, COORDINATOR, "not the password")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    assert path_of(page) == "/login"
    expect(page.locator("#email")).to_have_value(COORDINATOR)
    header = page.locator("header.site-header")
    expect(header.get_by_role("button", name="Sign out")).to_have_count(0)
    # Still signed out: the directory stays closed.
    page.goto(f"{live_server}/organizations")
    page.wait_for_url(re.compile(r"/login\?next="))


def test_organization_list_fits_a_phone(page: Page, live_server: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_login(page, live_server)
    sign_in(page, COORDINATOR)
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/organizations")
    expect(page.get_by_role("heading", name="Organizations", level=1)).to_be_visible()

    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert widths["inner"] == 390
    assert widths["scroll"] <= widths["inner"], widths

    # The navigation folds into a menu button, which the keyboard opens and Escape closes.
    nav = page.locator("header.site-header nav")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Partner Directory")).to_be_in_viewport()
    menu = nav.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Organizations")).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Organizations")).to_be_in_viewport()
    expect(nav.get_by_role("button", name="Sign out")).to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Search", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    expect(nav.get_by_role("link", name="Organizations")).to_be_hidden()

    # At desktop width there is no menu button: the links are in the bar.
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(menu).to_be_hidden()
    expect(nav.get_by_role("link", name="Organizations")).to_be_in_viewport()


def test_profile_page_screenshot(page: Page, live_server: str, tmp_path: Path) -> None:
    open_login(page, live_server)
    sign_in(page, SAFE_HOME_ADMIN)
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/organizations/{SAFE_HOME}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Live Oak Hill Ministries Safe Home")

    shot = tmp_path / "profile.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file()
    data = shot.read_bytes()
    assert len(data) > 1000
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
