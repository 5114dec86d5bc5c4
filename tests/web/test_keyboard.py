"""The referral flow with the keyboard alone (search -> refer -> send), in a real Chromium:
the skip link, the focus order, the error summary after a refused submit and its links."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import serve_demo_network
from tests.web.test_browser import TASK_FORCE_REFERRER, open_login, sign_in

pytestmark = pytest.mark.browser

SAFE_HOME_NAME = "Live Oak Hill Ministries Safe Home"
MAX_TABS = 80


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A network of its own: the referral sent here must not reach the other tests' inboxes."""
    with serve_demo_network(tmp_path_factory.mktemp("keyboard"), REQUIRE_2FA=False) as served:
        yield served[0]


def focused(page: Page, selector: str) -> bool:
    return page.evaluate("selector => document.activeElement.matches(selector)", selector)


def tab_to(page: Page, selector: str) -> int:
    """Press Tab until the element matching ``selector`` has the focus; the number of presses."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        if focused(page, selector):
            return presses
    raise AssertionError(f"{selector} never got the focus in {MAX_TABS} Tabs")


def type_into(page: Page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def test_search_refer_and_send_with_the_keyboard_alone(page: Page, live_server: str,
                                                      record_property: Any) -> None:
    open_login(page, live_server)
    sign_in(page, TASK_FORCE_REFERRER)
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/search")

    # The first Tab reaches the skip link; following it puts the next Tab in the content.
    page.keyboard.press("Tab")
    assert focused(page, "a.skip-link")
    expect(page.locator("a.skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert tab_to(page, "#near") == 1
    page.keyboard.type("77002")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?near=77002**")
    results_url = page.url

    # From the skip link, a handful of Tabs reach the first "Refer a client".
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    tabs = tab_to(page, "a[href*='/referrals/new']")
    record_property("tabs_from_skip_link_to_first_refer", tabs)
    assert tabs <= 25, tabs
    page.goto(results_url)  # back to the top, then on to the safe home's button
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    tab_to(page, "a[href$='to=live-oak-hill-ministries-safe-home-houston']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Refer a client to {SAFE_HOME_NAME}")

    # A first try with the service alone: refused, and the focus lands on the summary.
    type_into(page, "#service", "Safe house")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("There is a problem")
    # Each entry links to its field: following the first puts the focus in that field.
    page.keyboard.press("Tab")
    link = page.locator("#error-summary a").first
    expect(link).to_be_focused()
    target = (link.get_attribute("href") or "#")[1:]
    page.keyboard.press("Enter")
    assert focused(page, f"#{target}"), target
    expect(page.locator("#service")).to_have_value("shelter.safe_house")  # kept

    # The whole form, field by field.
    page.locator("#error-summary").focus()
    type_into(page, "#urgency", "Emergency")
    type_into(page, "#alias", "K.M.")
    type_into(page, "#age_range", "18")
    type_into(page, "#language", "Spanish")
    type_into(page, "#needs", "A safe bed tonight.")
    type_into(page, "#contact_instructions", "Through the investigator only.")
    type_into(page, "#contact_person", "Sam Investigator")
    type_into(page, "#handoff_time", "Tonight 8pm, warm call")
    type_into(page, "#consent_purpose", "Emergency placement")
    type_into(page, "#consent_method", "Written")
    ends = dt.date.today() + dt.timedelta(days=30)
    type_into(page, "#consent_expires_on", ends.strftime("%m%d%Y"))
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Sent")
    expect(page.locator("#client-details")).to_contain_text("Spanish")
