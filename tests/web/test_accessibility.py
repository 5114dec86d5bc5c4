"""Every page in tests/web/pages.py, as its role sees it, in a real Chromium:

- axe-core (vendored in tests/web/vendor/axe-core) finds no violation of any impact, with
  every rule axe runs by default (WCAG 2.0, 2.1 and 2.2 A and AA, and best practices), at
  1280 px and at 360 px (where the compact menu replaces the navigation bar);
- at 360 px the page is no wider than the window (nothing scrolls sideways).

A second pass opens every page in Spanish at 360 px (axe and the width check again).

The number of violations per page is recorded as the test's `axe_violations` property
(`pytest --junitxml=report.xml` keeps it), so a run can be compared with an earlier one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from playwright.sync_api import Browser, Page

from directory.accounts.operations import find_user_by_email
from directory.db import get_session
from directory.orgs.operations import get_organization
from directory.referrals.operations import create_referral
from directory.referrals.schemas import ReferralSchema
from tests.conftest import PASSWORD
from tests.factories import Factory
from tests.web.conftest import DEFAULT_TIMEOUT_MS, serve_demo_network
from tests.web.pages import PAGES, ROLES, SAFE_HOME, Fixtures, Visit

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
# A browser that asks for Spanish; the roles' users have no language setting of their own.
SPANISH: dict[str, Any] = {"locale": "es-US", "extra_http_headers": {"Accept-Language": "es"}}
CATALOGUE = Translations.load(str(ROOT / "directory" / "translations"), ["es"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Fixtures]]:
    """The demo network with one sent referral, so that boxes and timelines have content."""
    with serve_demo_network(tmp_path_factory.mktemp("a11y"), REQUIRE_2FA=False,
                            PUBLIC_REPORT=True) as (url, app):
        with app.test_request_context():
            sender = find_user_by_email(ROLES["referrer"] or "")
            receiver = get_organization(SAFE_HOME)
            colleague = find_user_by_email("referrer@safehome.demo.example")
            assert sender and receiver and colleague
            data = Factory.referral_data(
                receiver, service="shelter.safe_house",
                consent={"expires_on": (dt.date.today() + dt.timedelta(days=60)).isoformat()})
            referral = create_referral(sender, ReferralSchema().load(data))
            fixtures = Fixtures(referral=referral.public_id, user=colleague.id)
            get_session().commit()
        yield url, fixtures


@pytest.fixture(scope="module")
def signed_in(browser: Browser, site: tuple[str, Fixtures],
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each role's cookies after one real sign-in (anonymous: none)."""
    base, _ = site
    states: dict[str, Any] = {"anonymous": None}
    for role, email in ROLES.items():
        if email is None:
            continue
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/")
        states[role] = context.storage_state()
        context.close()
    return states


def open_page(browser: Browser, signed_in: dict[str, Any], base: str, fixtures: Fixtures,
              visit: Visit, viewport: dict[str, int], spanish: bool = False) -> Page:
    context = browser.new_context(viewport=viewport, storage_state=signed_in[visit.role],
                                  **(SPANISH if spanish else {}))
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.goto(base + fixtures.fill(visit.path))
    if visit.submit:
        for selector, value in visit.fill.items():
            page.fill(selector, value)
        for selector, path in visit.upload.items():
            page.set_input_files(selector, ROOT / path)
        name = CATALOGUE.gettext(visit.submit) if spanish else visit.submit
        button = page.get_by_role("button", name=name, exact=True)
        button.evaluate("button => { button.form.noValidate = true; }")
        with page.expect_navigation():
            button.click()
    if page.locator("#map").count():
        page.wait_for_selector("#map[data-ready=true]", state="attached")
    return page


# The page's width, and the innermost elements that reach past the window (to say which).
WIDTHS = """() => ({page: document.documentElement.scrollWidth, window: window.innerWidth,
  wider: [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                 && ![...e.children].some(c => c.getBoundingClientRect().right
                                              > window.innerWidth + 1))
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                          + (e.className && typeof e.className === 'string'
                             ? '.' + e.className.split(' ').join('.') : ''))})"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol: the page's Content-Security-Policy stays on.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']}))"
                           ".violations")
    return result


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}x): "
                     f"{violation['help']} -> {'; '.join(targets)}")
    return "\n".join(lines)


@pytest.mark.parametrize("visit", PAGES, ids=[visit.name for visit in PAGES])
def test_page_has_no_accessibility_violation_and_fits_a_phone(
        browser: Browser, signed_in: dict[str, Any], site: tuple[str, Fixtures], visit: Visit,
        record_property: Any) -> None:
    base, fixtures = site
    found: dict[str, list[dict[str, Any]]] = {}
    for label, viewport in (("1280 px", DESKTOP), ("360 px", PHONE)):
        page = open_page(browser, signed_in, base, fixtures, visit, viewport)
        try:
            if visit.state == "errors":
                assert page.locator(".field-error, [role=alert]").count(), "no error shown"
                if page.locator("#error-summary").count():
                    assert page.evaluate("document.activeElement.id") == "error-summary"
            found[label] = axe_violations(page)
            if viewport is PHONE:
                widths = page.evaluate(WIDTHS)
        finally:
            page.context.close()
    record_property("axe_violations", json.dumps(
        {label: sum(len(v["nodes"]) for v in violations) for label, violations in found.items()}))
    record_property("width_at_360", widths["page"])
    report = "\n".join(f"at {label}:\n{describe(violations)}"
                       for label, violations in found.items() if violations)
    assert not report, report
    assert widths["page"] <= widths["window"], widths


@pytest.mark.parametrize("visit", PAGES, ids=[visit.name for visit in PAGES])
def test_the_spanish_page_has_no_violation_and_fits_a_phone(
        browser: Browser, signed_in: dict[str, Any], site: tuple[str, Fixtures],
        visit: Visit, record_property: Any) -> None:
    """Spanish runs longer than English: the same page in Spanish, at 360 px (where the
    longer words would overflow first), axe included."""
    base, fixtures = site
    page = open_page(browser, signed_in, base, fixtures, visit, PHONE, spanish=True)
    try:
        assert page.evaluate("document.documentElement.lang") == "es"
        if visit.state == "errors":
            assert page.locator(".field-error, [role=alert]").count(), "no error shown"
        violations = axe_violations(page)
        widths = page.evaluate(WIDTHS)
    finally:
        page.context.close()
    record_property("axe_violations_es", sum(len(v["nodes"]) for v in violations))
    record_property("width_at_360_es", widths["page"])
    assert not violations, describe(violations)
    assert widths["page"] <= widths["window"], widths
