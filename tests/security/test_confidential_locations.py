"""No number of questions locates a confidential location.

Everything an outsider (a member of another organization, or a coordinator) gets about a
confidential location is computed from its public point, its city's centre: the differential
test moves the true point within its city and finds every answer byte-for-byte the same, and
the three attacks of the attack run (radius bisection, the rounded distance's steps, the edge
of a radius drawn around it) find the public point, never the true one. Its own members still
get the true point and distance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.geo.distance import EARTH_RADIUS_MI, haversine_mi
from directory.geo.public import public_point
from directory.orgs.coverage import add_coverage_area, recentre_tied_areas
from directory.orgs.models import Location, Organization
from tests.conftest import AuthActions
from tests.factories import Factory

Point = tuple[float, float]
CENTRE: Point = public_point("Houston", "TX", 0.0, 0.0)
TRUE_POINT: Point = (CENTRE[0] + 0.040, CENTRE[1] + 0.050)  # about 4 miles north-east
MOVED_POINT: Point = (CENTRE[0] - 0.035, CENTRE[1] - 0.030)  # about 3 miles south-west
COVERAGE_MI = 8.0
RESIDENCE = {"name": "Residence", "address": "1 Hidden Way", "city": "Houston", "state": "TX",
             "postal_code": "77002", "confidential": True}
PUBLIC_OFFICES = [("77002", "Downtown"), ("77006", "Montrose"), ("77019", "River Oaks"),
                  ("77096", "Meyerland")]


@dataclass
class Network:
    safe_home: Organization
    residence: Location
    outsider_email: str
    coordinator_email: str
    member_email: str


@pytest.fixture()
def network(factory: Factory, db: Session) -> Network:
    safe_home = factory.organization(
        name="Live Oak Test Safe Home", services=["shelter.youth"],
        locations=[{**RESIDENCE, "latitude": TRUE_POINT[0], "longitude": TRUE_POINT[1]}])
    residence = safe_home.locations[0]
    add_coverage_area(safe_home, {"kind": "radius", "radius_mi": COVERAGE_MI,
                                  "location_id": residence.id})
    for postal_code, name in PUBLIC_OFFICES:
        factory.organization(name=f"{name} Partner", services=["shelter.youth"],
                             locations=[{"name": "Office", "address": "1 Main St",
                                         "city": "Houston", "state": "TX",
                                         "postal_code": postal_code}])
    referrer_home = factory.organization(name="Referring Partner", locations=[
        {"name": "Office", "address": "1 Elm St", "city": "Dallas", "state": "TX",
         "postal_code": "75201"}])
    outsider = factory.user(organization=referrer_home)
    coordinator = factory.user(coordinator=True)
    member = factory.user(organization=safe_home)
    db.flush()
    return Network(safe_home, residence, outsider.email, coordinator.email, member.email)


def _move(network: Network, db: Session, point: Point) -> None:
    network.residence.place(*point)
    recentre_tied_areas(network.residence, network.safe_home.coverage_areas)
    db.flush()


def _offset(point: Point, miles: float, bearing_deg: float) -> Point:
    """The point ``miles`` from ``point`` towards ``bearing_deg`` (flat-earth, short hops)."""
    dlat = miles * math.cos(math.radians(bearing_deg)) / EARTH_RADIUS_MI
    dlon = (miles * math.sin(math.radians(bearing_deg))
            / (EARTH_RADIUS_MI * math.cos(math.radians(point[0]))))
    return point[0] + math.degrees(dlat), point[1] + math.degrees(dlon)


def _trilaterate(anchors: list[tuple[Point, float]]) -> Point:
    """The point at the given distances from three anchors, on a local flat projection."""
    lat0, lon0 = anchors[0][0]
    scale = math.radians(1) * EARTH_RADIUS_MI

    def flat(point: Point) -> tuple[float, float]:
        return ((point[1] - lon0) * scale * math.cos(math.radians(lat0)),
                (point[0] - lat0) * scale)

    (x1, y1), d1 = flat(anchors[0][0]), anchors[0][1]
    rows = []
    for point, distance in anchors[1:3]:
        x, y = flat(point)
        rows.append((2 * (x - x1), 2 * (y - y1), d1**2 - distance**2 + x**2 - x1**2 + y**2 - y1**2))
    (a, b, e), (c, d, f) = rows
    determinant = a * d - b * c
    x, y = (e * d - b * f) / determinant, (a * f - e * c) / determinant
    return lat0 + y / scale, lon0 + x / (scale * math.cos(math.radians(lat0)))


def _bisect(inside: Callable[[float], bool], low: float, high: float,
            steps: int = 16) -> float:
    """The edge between ``low`` (inside) and ``high`` (outside)."""
    assert inside(low) and not inside(high)
    for _ in range(steps):
        middle = (low + high) / 2
        low, high = (middle, high) if inside(middle) else (low, middle)
    return (low + high) / 2


def _item(client: FlaskClient, slug: str, point: Point, **query: object) -> dict | None:
    response = client.get("/api/v1/search", query_string={
        "near": f"{point[0]:.6f},{point[1]:.6f}", "limit": 50, **query})
    assert response.status_code == 200, response.get_data(as_text=True)
    return next((item for item in response.get_json()["items"] if item["slug"] == slug), None)


def _assert_no_closer_than_public(estimate: Point) -> None:
    """The attack found the public point: it is no nearer the true point than that."""
    assert haversine_mi(*estimate, *CENTRE) < 0.3
    assert haversine_mi(*estimate, *TRUE_POINT) >= haversine_mi(*CENTRE, *TRUE_POINT) - 0.3


ANCHORS = [_offset(CENTRE, 12, 10), _offset(CENTRE, 15, 130), _offset(CENTRE, 9, 250)]


@pytest.fixture(params=["referrer", "coordinator"])
def outsider(request: pytest.FixtureRequest, network: Network, auth: AuthActions) -> Network:
    email = network.outsider_email if request.param == "referrer" else network.coordinator_email
    assert auth.login(email).status_code == 302
    return network


def test_the_radius_oracle_finds_only_the_public_point(client: FlaskClient,
                                                       outsider: Network) -> None:
    slug = outsider.safe_home.slug
    distances = []
    for anchor in ANCHORS:
        edge = _bisect(lambda radius, a=anchor: _item(client, slug, a, radius=radius)  # type: ignore[misc]
                       is None, 1, 40)
        distances.append((anchor, edge))
    _assert_no_closer_than_public(_trilaterate(distances))


def test_the_steps_of_the_rounded_distance_find_only_the_public_point(
        client: FlaskClient, outsider: Network) -> None:
    slug = outsider.safe_home.slug
    measured = []
    for bearing in (0, 120, 240):
        # Walk outwards from near the city centre: the shown distance steps from 3 to 4 miles
        # exactly where the computed distance is 3 miles.
        def beyond_three(miles: float, bearing: float = bearing) -> bool:
            item = _item(client, slug, _offset(CENTRE, miles, bearing), radius=50)
            assert item is not None and item["lat"] is None
            return item["distance_mi"] > 3
        edge = _bisect(lambda miles: not beyond_three(miles), 0.5, 6)
        measured.append((_offset(CENTRE, edge, bearing), 3.0))
    _assert_no_closer_than_public(_trilaterate(measured))


def test_the_edge_of_a_radius_around_it_finds_only_the_public_point(
        client: FlaskClient, outsider: Network) -> None:
    slug = outsider.safe_home.slug
    edges = []
    for bearing in (30, 150, 270):
        def covers(miles: float, bearing: float = bearing) -> bool:
            item = _item(client, slug, _offset(CENTRE, miles, bearing), radius=100)
            assert item is not None
            return bool(item["covers"])
        edge = _bisect(covers, 0, 3 * COVERAGE_MI)
        edges.append((_offset(CENTRE, edge, bearing), COVERAGE_MI))
    _assert_no_closer_than_public(_trilaterate(edges))
    # Covering mode draws the same edge.
    inside = _offset(CENTRE, COVERAGE_MI - 0.2, 45)
    outside = _offset(CENTRE, COVERAGE_MI + 0.2, 45)
    assert _item(client, slug, inside, covering="true") is not None
    assert _item(client, slug, outside, covering="true") is None


# --- the differential test ----------------------------------------------------------------------

_NOISE = [
    (re.compile(r'name="csrf_token"[^>]*value="[^"]*"'), 'name="csrf_token"'),
    (re.compile(r'content="[^"]*" name="csrf-token"|name="csrf-token" content="[^"]*"'),
     'name="csrf-token"'),
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "TIME"),
]


def _normalized(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    return text


def _outsider_requests(slug: str) -> Iterator[tuple[str, dict[str, object]]]:
    places = ["77002", "Houston, TX", f"{ANCHORS[0][0]:.5f},{ANCHORS[0][1]:.5f}",
              f"{TRUE_POINT[0]:.5f},{TRUE_POINT[1]:.5f}", "77096"]
    for place in places:
        for radius in (1, 3, 5, 10, 25, 50):
            yield "/api/v1/search", {"near": place, "radius": radius}
        yield "/api/v1/search", {"near": place, "covering": "true"}
        yield "/api/v1/search", {"near": place, "service": "shelter", "accepting": "true"}
        yield "/api/v1/search", {"near": place, "covering": "true", "service": "shelter.youth",
                                 "kind": "nonprofit"}
        for radius in (10, 25, 50):
            yield "/search", {"near": place, "radius": radius}
            yield "/search", {"near": place, "radius": radius, "service": "shelter"}
        yield "/search", {"near": place, "mode": "covering"}
        yield "/search", {"near": place, "mode": "covering", "service": "shelter.youth"}
    yield f"/organizations/{slug}", {}
    yield f"/api/v1/organizations/{slug}", {}
    yield "/api/v1/hsds/export", {"format": "json"}
    yield "/api/v1/hsds/export", {"format": "csv"}


def _answers(client: FlaskClient, slug: str) -> list[tuple[str, str]]:
    answers = []
    for path, query in _outsider_requests(slug):
        response = client.get(path, query_string=query)
        assert response.status_code == 200, (path, query, response.status_code)
        body = response.data
        if response.mimetype == "application/zip":
            import io
            import zipfile

            with zipfile.ZipFile(io.BytesIO(body)) as package:
                body = b"".join(name.encode() + package.read(name)
                                for name in sorted(package.namelist()))
        answers.append((f"{path}?{sorted(query.items())}", _normalized(body)))
    return answers


def test_moving_it_within_its_city_changes_no_outsiders_answer(
        client: FlaskClient, outsider: Network, db: Session) -> None:
    slug = outsider.safe_home.slug
    before = _answers(client, slug)
    assert sum(slug in body for _, body in before) > 40  # it is found, and often
    _move(outsider, db, MOVED_POINT)
    assert outsider.residence.true_point == MOVED_POINT
    after = _answers(client, slug)
    changed = [request for (request, one), (_, other) in zip(before, after, strict=True)
               if one != other]
    assert changed == []


def test_its_members_see_what_moving_it_changes(client: FlaskClient, network: Network,
                                                auth: AuthActions, db: Session) -> None:
    """The differential test can fail: the same answers do change for those who may see."""
    auth.login(network.member_email)
    slug = network.safe_home.slug
    before = _answers(client, slug)
    _move(network, db, MOVED_POINT)
    after = _answers(client, slug)
    assert sum(one != other for (_, one), (_, other) in zip(before, after, strict=True)) > 10


def test_its_members_get_the_true_point_and_distance(client: FlaskClient, network: Network,
                                                     auth: AuthActions) -> None:
    auth.login(network.member_email)
    anchor = ANCHORS[2]
    item = _item(client, network.safe_home.slug, anchor, radius=50)
    assert item is not None
    assert (item["lat"], item["lon"]) == pytest.approx(TRUE_POINT)
    assert item["distance_mi"] == round(haversine_mi(*anchor, *TRUE_POINT), 1)
    assert item["distance_mi"] != round(haversine_mi(*anchor, *CENTRE), 1)
    location = client.get(f"/api/v1/organizations/{network.safe_home.slug}"
                          ).get_json()["locations"][0]
    assert (location["lat"], location["lon"], location["address"]) == (
        *TRUE_POINT, "1 Hidden Way")


def test_outsiders_get_the_public_point_distance_rounded_up(client: FlaskClient,
                                                            outsider: Network) -> None:
    anchor = ANCHORS[2]
    item = _item(client, outsider.safe_home.slug, anchor, radius=50)
    assert item is not None and item["lat"] is None and item["lon"] is None
    assert item["distance_mi"] == 5 * math.ceil(haversine_mi(*anchor, *CENTRE) / 5)
    location = client.get(f"/api/v1/organizations/{outsider.safe_home.slug}"
                          ).get_json()["locations"][0]
    assert (location["lat"], location["lon"], location["address"]) == (None, None, None)


def test_a_radius_typed_at_its_point_is_tied_to_it(network: Network, db: Session) -> None:
    near_it = _offset(TRUE_POINT, 0.3, 90)
    area = add_coverage_area(network.safe_home, {
        "kind": "radius", "radius_mi": 5, "center": f"{near_it[0]},{near_it[1]}"})
    assert area.location is network.residence
    assert (area.center_lat, area.center_lon) == CENTRE
    assert area.label == "Within 5 mi of Houston, TX"
