"""The membership workflow in a real Chromium, with two-factor sign-in required as in
production: an organization applies to join, a coordinator approves it, its admin invites a
referrer, and the referrer accepts the invitation and signs in. Mail is read from the files
the embedded sender writes to instance/mail/."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.web.conftest import serve_demo_network

pytestmark = pytest.mark.browser

COORDINATOR = "coordinator@demo.example"
APPLICANT = "director@tidewater.test.example"
REFERRER = "caseworker@tidewater.test.example"
ORGANIZATION = "Tidewater Youth Refuge"
REFERRER_PASSWORD = "harbor lights at low tide"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The demo network with two-factor sign-in required; (base URL, mail folder)."""
    with serve_demo_network(tmp_path_factory.mktemp("membership"), REQUIRE_2FA=True) as (
            url, app):
        yield url, Path(app.instance_path) / "mail"


def mail_to(folder: Path, address: str) -> list[Message]:
    messages = [email.message_from_bytes(path.read_bytes())
                for path in sorted(folder.glob("*.eml"))]
    return [message for message in messages if message["To"] == address]


def link_in(message: Message) -> str:
    body = message.get_payload(decode=True).decode()
    return urlsplit(re.search(r"https?://\S+", body).group(0)).path


def sign_in(page: Page, base: str, address: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", address)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.locator("header.site-header").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")


def set_up_two_factor(page: Page, password: str = PASSWORD) -> None:
    """The forced enrolment of a coordinator or admin: scan (read) the key, enter a code."""
    expect(page.get_by_text("Your role requires two-factor sign-in")).to_be_visible()
    page.get_by_label("Your password").fill(password)
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator(".recovery-codes code").count() == 10
    page.get_by_role("button", name="I have saved them").click()


def test_apply_approve_invite_accept(page: Page, served: tuple[str, Path]) -> None:
    base, mail = served

    # 1. An organization applies to join, from the sign-in page.
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Apply to join the network").click()
    expect(page.get_by_role("heading", name="Apply to join the network")).to_be_visible()
    page.get_by_label("Organization name").fill(ORGANIZATION)
    page.get_by_label("Kind").select_option("nonprofit")
    page.get_by_label("What your organization does").fill(
        "Emergency shelter and case management for youth survivors.")
    page.get_by_label("City").fill("Houston")
    page.get_by_label("State").select_option("TX")
    page.get_by_label("ZIP code").fill("77002")
    page.get_by_label("Services").select_option(["shelter.youth", "case_management"])
    page.get_by_label("Your name").fill("Tess Director")
    page.get_by_label("Your work email").fill(APPLICANT)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password").fill(PASSWORD)
    page.get_by_label("I may apply on behalf of this organization").check()
    page.get_by_role("button", name="Send the application").click()
    page.wait_for_url(f"{base}/login")
    expect(page.get_by_role("status")).to_contain_text("your application is with the coordinators")

    # The applicant confirms their address with the mailed link.
    (confirmation,) = mail_to(mail, APPLICANT)
    page.goto(base + link_in(confirmation))
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_role("status")).to_contain_text(f"{APPLICANT} is confirmed")

    # 2. The coordinator (two-factor required) approves the application.
    assert any(ORGANIZATION in m["Subject"] for m in mail_to(mail, COORDINATOR))
    sign_in(page, base, COORDINATOR)
    set_up_two_factor(page)
    page.locator("header.site-header").get_by_role("link", name="Coordinate").click()
    page.locator("nav.subnav").get_by_role("link", name="Applications").click()
    page.get_by_role("link", name=ORGANIZATION).click()
    expect(page.get_by_text("email confirmed")).to_be_visible()
    page.get_by_label("Approve", exact=True).check()
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_contain_text(f"{ORGANIZATION} is now an active member")
    expect(page.get_by_text("No application is waiting.")).to_be_visible()
    sign_out(page)
    assert any("is a member" in m["Subject"] for m in mail_to(mail, APPLICANT))

    # 3. The organization's new admin sets up two-factor sign-in and invites a referrer.
    sign_in(page, base, APPLICANT)
    set_up_two_factor(page)
    page.locator("header.site-header").get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(REFERRER)
    page.get_by_label("Role", exact=True).select_option("referrer")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {REFERRER}")
    expect(page.get_by_text("Open invitations")).to_be_visible()
    sign_out(page)

    # 4. The referrer accepts the invitation, creating an account, and signs in.
    (invitation,) = mail_to(mail, REFERRER)
    page.goto(base + link_in(invitation))
    expect(page.get_by_role("heading", name=f"Join {ORGANIZATION}")).to_be_visible()
    page.get_by_label("Your name").fill("Casey Caseworker")
    page.get_by_label("New password", exact=True).fill(REFERRER_PASSWORD)
    page.get_by_label("Repeat the new password").fill(REFERRER_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{base}/login")
    expect(page.get_by_text(f"Welcome to {ORGANIZATION}.")).to_be_visible()
    sign_in(page, base, REFERRER, REFERRER_PASSWORD)
    page.wait_for_url(f"{base}/")
    expect(page.get_by_role("region", name="The network at a glance")).to_be_visible()

    # The referrer is a vetted member now: the directory lists their organization.
    page.goto(f"{base}/organizations?q=tidewater")
    expect(page.get_by_role("link", name=ORGANIZATION)).to_be_visible()
    # A referrer needs no second factor, and may not invite anyone.
    page.goto(f"{base}/account")
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_text("Tess Director")).to_be_visible()
    expect(page.get_by_role("button", name="Send the invitation")).to_have_count(0)

    # The invitation link worked once.
    page.goto(base + link_in(invitation))
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()

