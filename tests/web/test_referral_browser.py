"""A warm referral in a real Chromium: found by search, sent with consent, accepted, noted,
completed, and the outcome seen by the referrer."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_browser import TASK_FORCE_REFERRER, open_login, sign_in, sign_out

pytestmark = pytest.mark.browser

SAFE_HOME_NAME = "Live Oak Hill Ministries Safe Home"
SAFE_HOME_REFERRER = "referrer@safehome.demo.example"


def test_a_referral_from_search_to_outcome(page: Page, live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, TASK_FORCE_REFERRER)
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/search?near=77002&service=shelter.safe_house")
    result = page.locator("article.result").filter(has_text=SAFE_HOME_NAME)
    result.get_by_role("button", name="Refer a client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Refer a client to {SAFE_HOME_NAME}")

    page.select_option("#service", "shelter.safe_house")
    page.select_option("#urgency", "emergency")
    page.fill("#alias", "K.M.")
    page.select_option("#age_range", "12-17")
    page.select_option("#language", "Spanish")
    page.fill("#needs", "A safe bed tonight.")
    page.fill("#contact_instructions", "Through the investigator only.")
    page.fill("#contact_person", "Sam Investigator")
    page.fill("#handoff_time", "Tonight 8pm, warm call")
    page.fill("#consent_purpose", "Emergency placement")
    page.select_option("#consent_method", "written")
    page.fill("#consent_expires_on", (dt.date.today() + dt.timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Send referral").click()
    # A minor without the guardian's consent or a legal basis is refused, nothing is sent.
    expect(page.locator("#consent_minor_basis-error")).to_contain_text("guardian")
    page.select_option("#consent_minor_basis", "guardian")
    page.get_by_role("button", name="Send referral").click()
    # The safe home serves adults: the sender is warned and goes ahead knowingly.
    expect(page.locator("#mismatch-warning")).to_contain_text("outside what it serves")
    page.check("#acknowledge_mismatch")
    page.get_by_role("button", name="Send referral").click()
    expect(page.locator("#status")).to_have_text("Sent")
    expect(page.locator("#timeline")).to_contain_text("sent it anyway")
    referral_url = page.url
    assert re.search(r"/referrals/[A-Za-z0-9_-]{16}$", referral_url)
    sign_out(page)

    open_login(page, live_server)
    sign_in(page, SAFE_HOME_REFERRER)
    page.wait_for_url(f"{live_server}/")
    expect(page.locator("#unread-count")).to_have_text("1")
    page.get_by_role("link", name="Inbox").click()
    page.locator("table a").first.click()
    expect(page.locator("#client-details")).to_contain_text("K.M.")
    page.get_by_role("button", name="Accept referral").click()
    expect(page.locator("#status")).to_have_text("Accepted")
    page.fill("#body", "Bed ready; our advocate meets her at 8pm.")
    page.get_by_role("button", name="Add note").click()
    page.fill("#completed-note", "Placed in the safe home.")  # the first next step is open
    page.get_by_role("button", name="Mark completed").click()
    expect(page.locator("#status")).to_have_text("Completed")
    sign_out(page)

    open_login(page, live_server)
    sign_in(page, TASK_FORCE_REFERRER)
    page.wait_for_url(f"{live_server}/")
    page.goto(referral_url)
    expect(page.locator("#status")).to_have_text("Completed")
    expect(page.locator("#timeline")).to_contain_text("Placed in the safe home.")
    expect(page.locator("#notes")).to_contain_text("Bed ready")
    expect(page.locator("#viewed")).not_to_have_text("not yet")
