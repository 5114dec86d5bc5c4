"""The search page in a real Chromium: query, filters, list, map markers, and on to a partner."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_browser import TASK_FORCE_REFERRER, open_login, sign_in

pytestmark = pytest.mark.browser


def signed_in(page: Page, live_server: str) -> None:
    open_login(page, live_server)
    sign_in(page, TASK_FORCE_REFERRER)
    page.wait_for_url(f"{live_server}/")


def test_search_by_zip_with_a_service_filter_shows_list_and_markers(page: Page,
                                                                   live_server: str) -> None:
    failed_tiles: list[str] = []
    page.on("requestfailed", lambda request: failed_tiles.append(request.url)
            if request.url.startswith("http://127.0.0.1:9/") else None)
    signed_in(page, live_server)
    page.get_by_role("link", name="Search", exact=True).click()
    page.fill("#near", "77002")
    page.select_option("#service", "victim_advocacy")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"/search\?"))

    query = parse_qs(urlsplit(page.url).query)  # the URL holds the search: it can be shared
    assert query["near"] == ["77002"] and query["service"] == ["victim_advocacy"]
    heading = page.locator("#results-heading")
    expect(heading).to_contain_text("within 50 mi of 77002 Houston, TX")

    results = page.locator("article.result")
    count = results.count()
    assert count >= 2
    assert int(heading.inner_text().split()[0]) == count
    for index in range(count):
        expect(results.nth(index)).to_contain_text("Victim advocacy")
    distances = [float(re.sub(r"[^0-9.]", "", text))
                 for text in page.locator("article.result .distance").all_inner_texts()]
    assert distances == sorted(distances) and distances[-1] <= 50

    # Markers are drawn for every result (none of these locations is confidential), even
    # though the tile server cannot be reached; those close together share a cluster that
    # counts them.
    map_element = page.locator("#map[data-ready=true]")
    expect(map_element).to_be_attached()
    assert map_element.get_attribute("data-markers") == str(count)
    names = [text.strip() for text in page.locator("article.result header a").all_inner_texts()]
    single = page.locator(".leaflet-marker-icon[title]")
    clusters = page.locator(".marker-cluster-badge")
    clustered = sum(int(text.split()[0]) for text in clusters.all_inner_texts())
    assert single.count() + clustered == count
    for title in single.evaluate_all("icons => icons.map(icon => icon.title)"):
        assert title in names
    expect(page.locator("path.leaflet-interactive").first).to_be_attached()
    assert failed_tiles, "the page asked for tiles (and coped with their failure)"

    # The map explains itself: a legend, and the list of results as its alternative.
    map_panel = page.get_by_role("region",
                                 name="Map of the search point and the organizations found")
    expect(map_panel.get_by_role("list", name="Legend")).to_contain_text("Search radius")
    expect(page.get_by_role("application")).to_have_attribute("aria-describedby", "map-help")
    expect(map_panel.get_by_role("link", name="the list of results")).to_have_attribute(
        "href", "#results-list")

    # Open a partner from a marker's popup (zooming into a cluster until it opens up).
    while single.count() == 0:
        clusters.first.click()
        page.wait_for_timeout(400)  # the zoom animation
    name = single.first.get_attribute("title")
    single.first.click()
    page.locator(".leaflet-popup-content a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name or "")


def test_the_map_at_city_zoom_shows_county_outlines_and_place_names(page: Page,
                                                                   live_server: str) -> None:
    signed_in(page, live_server)
    page.goto(f"{live_server}/search?near=77002&radius=10")
    map_element = page.locator("#map[data-detail=shown]")
    expect(map_element).to_be_attached()
    expect(page.locator(".place-label", has_text="Pasadena")).to_be_attached()
    # Place names are context, not controls: nothing there takes the focus.
    assert page.locator(".place-label[tabindex]").count() == 0
    # The zoom signs sit in the middle of their buttons.
    zoom_in = page.get_by_role("button", name="Zoom in")
    box = zoom_in.bounding_box()
    assert box and box["width"] == box["height"] == 30


def test_covering_search_finds_statewide_coverage_and_keeps_safe_houses_hidden(
        page: Page, live_server: str) -> None:
    signed_in(page, live_server)
    page.goto(f"{live_server}/search?near=Houston%2C+TX&mode=covering&service=shelter")
    heading = page.locator("#results-heading")
    expect(heading).to_contain_text("cover Houston, TX")
    results = page.locator("article.result")
    assert results.count() >= 1
    for index in range(results.count()):
        expect(results.nth(index)).to_contain_text("Covers this place")
    html = page.content()
    assert "7146 Fannin St" not in html  # the safe home's confidential address


def test_bad_input_is_explained_on_the_page(page: Page, live_server: str) -> None:
    signed_in(page, live_server)
    response = page.goto(f"{live_server}/search?near=Atlantis%2C+ZZ")
    assert response is not None and response.status == 400
    expect(page.locator("#near-error")).to_contain_text("Could not find")
    expect(page.locator("#near")).to_have_value("Atlantis, ZZ")
