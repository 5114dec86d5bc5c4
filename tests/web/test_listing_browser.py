"""Acceptance, in a real Chromium: an admin keeps the listing current. The description, a
service, and a confidential location with hours placed by dragging its marker show on the
profile, in search and in the HSDS export, with the safe house's point kept to its own
organization; the change history lists each change."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import serve_demo_network
from tests.web.test_browser import TASK_FORCE_REFERRER, open_login, sign_in, sign_out

pytestmark = pytest.mark.browser

BRIDGEWAY = "bridgeway-house-for-youth-columbus"
BRIDGEWAY_ADMIN = "admin@bridgeway.demo.example"
DESCRIPTION = "Beds for youth 12-17; intake answers day and night."
ADDRESS = "55 Quiet Row"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A network of its own: this test changes a listing the other browser tests read."""
    with serve_demo_network(Path(tmp_path_factory.mktemp("listing-server")),
                            REQUIRE_2FA=False) as served:
        yield served[0]


def _drag_marker(page: Page, dx: int, dy: int) -> None:
    page.locator("#location-map").scroll_into_view_if_needed()
    marker = page.locator("[data-testid=location-marker]")
    expect(marker).to_be_visible()
    box = marker.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=5)
    page.mouse.move(x + dx, y + dy, steps=5)
    page.mouse.up()


def _export_text(page: Page, base: str) -> str:
    response = page.request.get(f"{base}/api/v1/hsds/export")
    assert response.ok, response.text()
    with zipfile.ZipFile(io.BytesIO(response.body())) as package:
        return "\n".join(package.read(name).decode() for name in package.namelist())


def test_an_admin_keeps_the_listing_current(page: Page, own_server: str) -> None:
    base = own_server
    open_login(page, base)
    sign_in(page, BRIDGEWAY_ADMIN)
    page.wait_for_url(f"{base}/")

    # The description and a service (a sub-service of the taxonomy).
    page.goto(f"{base}/organizations/{BRIDGEWAY}")
    page.get_by_role("link", name="Edit listing").click()
    page.fill("#description", DESCRIPTION)
    page.check("input[name=services][value='legal.immigration']")
    page.get_by_role("button", name="Save the listing").click()
    expect(page.get_by_role("status")).to_contain_text("description, services")
    expect(page.locator("article.profile")).to_contain_text(DESCRIPTION)
    expect(page.locator("article.profile")).to_contain_text("Immigration legal services")

    # A confidential location: placed from its ZIP code, then dragged to the exact spot.
    page.get_by_role("link", name="Add a location").click()
    page.fill("#name", "Willow safe house")
    page.fill("#address", ADDRESS)
    page.fill("#city", "Columbus")
    page.select_option("#state", "OH")
    page.fill("#postal_code", "43215")
    page.get_by_role("button", name="Place from the address").click()
    expect(page.locator("#latitude")).not_to_have_value("")
    placed = (page.input_value("#latitude"), page.input_value("#longitude"))
    _drag_marker(page, 120, 80)
    dragged = (page.input_value("#latitude"), page.input_value("#longitude"))
    assert dragged != placed
    assert float(dragged[0]) < float(placed[0]) and float(dragged[1]) > float(placed[1])
    page.check("#confidential")
    page.fill("#mon", "09:00-12:00, 13:00-17:00")
    page.fill("#sat", "10:00-14:00")
    page.fill("#closures", "2026-12-25 Christmas")
    page.get_by_role("button", name="Save the location").click()
    expect(page.get_by_role("status")).to_contain_text("locations")
    house = page.locator("article.location", has_text="Willow safe house")
    expect(house).to_contain_text(ADDRESS)  # its own organization sees the address
    expect(house).to_contain_text("09:00–12:00, 13:00–17:00")
    expect(house).to_contain_text("2026-12-25 (Christmas)")
    expect(house).to_contain_text("Confidential")

    # The point kept is the dragged one, for the organization's own eyes.
    house.get_by_role("link", name="Edit this location").click()
    assert (page.input_value("#latitude"), page.input_value("#longitude")) == dragged
    exact = [value[:7] for value in dragged]  # e.g. "39.9591": no outsider ever sees it

    page.goto(f"{base}/organizations/{BRIDGEWAY}/history")
    history = page.locator("table.history")
    expect(history).to_contain_text("Listing updated: locations")
    expect(history).to_contain_text("Listing updated: description, services")
    expect(history).to_contain_text("Morgan Admin")

    # An outsider finds the new service in search; the safe house shows as Columbus only.
    sign_out(page)
    sign_in(page, TASK_FORCE_REFERRER)
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/search?near=Columbus%2C+OH&service=legal.immigration&radius=25")
    result = page.locator("article.result", has_text="Bridgeway")
    expect(result).to_be_visible()
    searched = page.content()
    assert ADDRESS not in searched and not any(text in searched for text in exact)
    api = page.request.get(f"{base}/api/v1/search?near=Columbus%2C+OH&service=legal.immigration")
    assert api.ok and not any(text in api.text() for text in exact)
    listing: Any = page.request.get(f"{base}/api/v1/organizations/{BRIDGEWAY}").json()
    seen = next(loc for loc in listing["locations"] if loc["confidential"]
                and loc["weekly_hours"])
    assert (seen["name"], seen["city"], seen["lat"], seen["address"]) == (
        "Confidential location", "Columbus", None, None)
    page.goto(f"{base}/organizations/{BRIDGEWAY}")
    expect(page.locator("article.profile")).to_contain_text(DESCRIPTION)
    assert ADDRESS not in page.content()

    # The HSDS export carries the change, and the city centre only.
    exported = _export_text(page, base)
    assert DESCRIPTION in exported and "Immigration legal services" in exported
    assert ADDRESS not in exported and "Willow safe house" not in exported
    assert not any(text in exported for text in exact)
    as_json = page.request.get(f"{base}/api/v1/hsds/export?format=json")
    assert as_json.ok and not any(text in json.dumps(as_json.json()) for text in exact)
    assert re.search(r"Columbus", exported)


def test_the_marker_moves_with_the_keyboard(page: Page, own_server: str) -> None:
    """Without a pointer: Tab reaches the marker, the arrow keys move it and the coordinates
    follow (Shift for larger steps); the map itself does not pan away under it."""
    base = own_server
    open_login(page, base)
    sign_in(page, BRIDGEWAY_ADMIN)
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/organizations/{BRIDGEWAY}/locations/new")
    page.fill("#postal_code", "43215")
    page.get_by_role("button", name="Place from the address").click()
    expect(page.locator("#latitude")).not_to_have_value("")
    placed = float(page.input_value("#latitude")), float(page.input_value("#longitude"))

    marker = page.get_by_role("button", name="The location's marker")
    marker.focus()
    expect(marker).to_be_focused()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    after_right = float(page.input_value("#latitude")), float(page.input_value("#longitude"))
    assert after_right[0] == pytest.approx(placed[0], abs=1e-5) and after_right[1] > placed[1]

    page.keyboard.press("Shift+ArrowDown")
    moved = float(page.input_value("#latitude")), float(page.input_value("#longitude"))
    assert moved[0] < after_right[0] and moved[1] == pytest.approx(after_right[1], abs=1e-5)
    # Shift moves ten times the plain step: 50 pixels of latitude are more than five plain
    # steps of longitude even at this latitude (a plain step down would be under four).
    plain_step = (after_right[1] - placed[1]) / 3
    assert after_right[0] - moved[0] > 5 * plain_step
    expect(marker).to_be_focused()
