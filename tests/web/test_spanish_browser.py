"""A Spanish-speaking referrer in a real Chromium (``Accept-Language: es``): signs in, searches,
sends a referral and reads its timeline, and no page on the way shows English.

What a page may show in English is data: the names, descriptions and addresses members wrote
(read from the live server's database and taken out of the text before it is checked). What is
left must hold none of the English words an untranslated interface is made of."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import String, Text

from directory.db import Base, get_session
from tests.conftest import PASSWORD
from tests.web.conftest import desktop_tab, serve_demo_network
from tests.web.test_browser import TASK_FORCE_REFERRER
from tests.web.test_referral_browser import SAFE_HOME_NAME, SAFE_HOME_REFERRER

pytestmark = pytest.mark.browser

# Tables whose text is what members and users wrote, not the interface's.
DATA_TABLES = ("organizations", "services", "locations", "contacts", "coverage_areas", "users",
               "organization_aliases")
# Words of the English interface that are not Spanish words too (no "a", "no", "es", "me").
WORD = re.compile(r"[A-Za-z]+")
ENGLISH_WORDS = frozenset(WORD.findall("""
the and of to your you with for from this that these is are was were been have will can
not yet any all who which what when where how here there by on at an it its or if more less than
then only each every about after before into out over under
search refer referral referrals client clients send sent sign signed inbox outbox accept
accepted decline declined status timeline service services organization organizations location
locations language save cancel next previous page home reports account help phone hours open
closed miles near covering nearby urgent routine emergency consent purpose method written
expires guardian needs contact person notes note add viewed unread new view show hide
filters filter apply clear age menu skip content main map list legend results result found
none name password remember forgot welcome settings notifications members member partner
partners message messages details received shared between within days day week weeks today
yesterday tomorrow ago minutes hours yes
"""))


@pytest.fixture(scope="module")
def spanish_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, set[str]]]:
    """The demo network served for this module: (base URL, every text value of its data)."""
    with serve_demo_network(tmp_path_factory.mktemp("spanish"), REQUIRE_2FA=False) as (url, app):
        with app.app_context():
            data = _data_texts()
        yield url, data


def _data_texts() -> set[str]:
    texts: set[str] = set()
    session = get_session()
    for name in DATA_TABLES:
        table = Base.metadata.tables.get(name)
        if table is None:
            continue
        columns = [column for column in table.columns
                   if isinstance(column.type, (String, Text))]
        for row in session.execute(table.select().with_only_columns(*columns)):
            texts.update(value for value in row if isinstance(value, str) and len(value) > 2)
    return texts


@pytest.fixture()
def spanish_page(browser: Browser) -> Iterator[Page]:
    with desktop_tab(browser, locale="es-US",
                     extra_http_headers={"Accept-Language": "es"}) as tab:
        yield tab


def english_on_screen(page: Page, data: set[str]) -> list[str]:
    """The English interface words the page shows, once its data is taken out."""
    return english_words(page.locator("body").inner_text(), data)


def english_words(text: str, data: set[str]) -> list[str]:
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return sorted({word for word in WORD.findall(text) if word.lower() in ENGLISH_WORDS})


def assert_spanish(page: Page, data: set[str]) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "es")
    text = page.locator("body").inner_text()
    found = english_words(text, data)
    lines = [line for line in text.splitlines() if any(word in line for word in found)]
    assert not found, f"{page.url}: {found} in {lines}"


def sign_in(page: Page, base: str, email: str, data: set[str], *, check_home: bool = True) -> None:
    page.goto(f"{base}/login")
    expect(page.get_by_role("heading", name="Iniciar sesión", level=1)).to_be_visible()
    assert_spanish(page, data)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url(f"{base}/")
    if check_home:
        assert_spanish(page, data)


def sign_out(page: Page) -> None:
    page.locator("header.site-header").get_by_role("button", name="Cerrar sesión").click()
    page.wait_for_url(re.compile(r"/login(\?|$)"))


def test_the_words_check_finds_english(spanish_page: Page,
                                       spanish_server: tuple[str, set[str]]) -> None:
    """The check itself: an English sentence that is not data is found, data is not."""
    base, data = spanish_server
    spanish_page.goto(f"{base}/login")
    spanish_page.evaluate("""name => { const p = document.createElement('p');
        p.textContent = 'Send the referral to ' + name; document.body.append(p); }""",
                          SAFE_HOME_NAME)
    assert english_on_screen(spanish_page, data) == ["Send", "referral", "the", "to"]


def test_a_spanish_referrer_searches_refers_and_reads_the_timeline(
        spanish_page: Page, spanish_server: tuple[str, set[str]]) -> None:
    page = spanish_page
    base, data = spanish_server
    sign_in(page, base, TASK_FORCE_REFERRER, data)

    page.goto(f"{base}/search?near=77002&service=shelter.safe_house")
    assert_spanish(page, data)
    result = page.locator("article.result").filter(has_text=SAFE_HOME_NAME)
    result.locator("a[href*='/referrals/new']").click()
    expect(page.locator("#alias")).to_be_visible()
    assert_spanish(page, data)

    page.select_option("#service", "shelter.safe_house")
    page.select_option("#urgency", "emergency")
    page.fill("#alias", "K.M.")
    page.select_option("#age_range", "12-17")
    page.select_option("#language", "Spanish")
    page.fill("#needs", "Una cama segura esta noche.")
    page.fill("#contact_instructions", "Solo por medio del investigador.")
    page.fill("#contact_person", "Sam")
    page.fill("#handoff_time", "Esta noche, 8 p. m.")
    page.fill("#consent_purpose", "Ubicación de emergencia")
    page.select_option("#consent_method", "written")
    page.fill("#consent_expires_on", (dt.date.today() + dt.timedelta(days=30)).isoformat())
    submit = page.locator("form[action*='/referrals/new'] button[type=submit]")
    submit.click()
    # A minor without the guardian's consent is refused: the errors are Spanish too.
    expect(page.locator("#consent_minor_basis-error")).to_be_visible()
    assert_spanish(page, data)
    page.select_option("#consent_minor_basis", "guardian")
    submit.click()
    expect(page.locator("#mismatch-warning")).to_be_visible()
    assert_spanish(page, data)
    page.check("#acknowledge_mismatch")
    submit.click()
    expect(page.locator("#status")).to_have_text("Enviada")
    assert_spanish(page, data)
    referral_url = page.url

    page.goto(f"{base}/referrals/outbox")
    assert_spanish(page, data)
    sign_out(page)

    # The receiver has no language setting: the notice on its home page was written when the
    # referral came, in English (notices are stored in their recipient's setting's language).
    sign_in(page, base, SAFE_HOME_REFERRER, data, check_home=False)
    page.goto(f"{base}/referrals/inbox")
    assert_spanish(page, data)
    page.goto(referral_url)
    page.locator("#move-accepted button[type=submit]").click()
    expect(page.locator("#status")).to_have_text("Aceptada")
    page.fill("#body", "La cama está lista.")
    page.locator("form[action*='note'] button[type=submit]").click()
    expect(page.locator("#notes")).to_contain_text("La cama está lista.")
    assert_spanish(page, data)
    sign_out(page)

    sign_in(page, base, TASK_FORCE_REFERRER, data)
    page.goto(referral_url)
    expect(page.locator("#timeline")).to_be_visible()
    assert_spanish(page, data)


def test_data_texts_come_from_the_database(spanish_server: tuple[str, set[str]]) -> None:
    assert SAFE_HOME_NAME in spanish_server[1]
