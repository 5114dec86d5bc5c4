"""Focus rings, filters that fold on phones, and the print stylesheet, in a real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_browser import SAFE_HOME, TASK_FORCE_REFERRER, open_login, sign_in

pytestmark = pytest.mark.browser

FOCUS_RING = """() => {
  const style = getComputedStyle(document.activeElement);
  return {element: document.activeElement.outerHTML.slice(0, 120),
          ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
}"""


def signed_in(page: Page, live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, TASK_FORCE_REFERRER)
    page.wait_for_url(f"{live_server}/")


@pytest.mark.parametrize("path", [
    "/search?near=77002", f"/referrals/new?to={SAFE_HOME}", f"/organizations/{SAFE_HOME}",
])
def test_every_tab_stop_shows_a_focus_ring(page: Page, live_server: str, path: str) -> None:
    signed_in(page, live_server)
    page.goto(live_server + path)
    seen = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_RING)
        if focus["element"] in seen or focus["element"].startswith("<body"):
            break
        seen.add(focus["element"])
        assert focus["ring"], focus["element"]
    assert len(seen) > 10


def test_filters_fold_away_on_a_phone_unless_in_use(page: Page, live_server: str) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    signed_in(page, live_server)
    page.goto(f"{live_server}/referrals/outbox")
    filters = page.locator("details.fold")
    expect(filters).not_to_have_attribute("open", "")
    expect(page.get_by_label("Urgency")).to_be_hidden()
    filters.locator("summary").click()
    expect(page.get_by_label("Urgency")).to_be_visible()
    page.goto(f"{live_server}/referrals/outbox?urgency=urgent")
    expect(page.get_by_label("Urgency")).to_be_visible()  # a filter in use stays in view
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/referrals/outbox")
    expect(page.get_by_label("Urgency")).to_be_visible()


def test_a_profile_prints_as_its_content_alone(page: Page, live_server: str) -> None:
    signed_in(page, live_server)
    page.goto(f"{live_server}/organizations/{SAFE_HOME}")
    page.emulate_media(media="print")
    expect(page.locator("header.site-header")).to_be_hidden()
    expect(page.locator("footer.site-footer")).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_have_text("Live Oak Hill Ministries Safe Home")
    expect(page.locator("article.location").first).to_be_visible()
    colour = page.locator("main").evaluate("main => getComputedStyle(main).color")
    assert colour == "rgb(0, 0, 0)"
    assert len(page.pdf()) > 1000
