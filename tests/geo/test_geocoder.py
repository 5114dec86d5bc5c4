import math

import pytest
from geopy.distance import geodesic

from directory.geo.distance import distance_mi, haversine_mi, rounded_distance_mi
from directory.geo.geocoder import GeocodeError, geocode
from directory.geo.states import state_code

DOWNTOWN_HOUSTON = (29.7604, -95.3698)
DOWNTOWN_COLUMBUS = (39.9612, -82.9988)


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geodesic(a, b).km


def test_zip_code_resolves_within_5_km_of_downtown_houston() -> None:
    result = geocode("77002")
    assert km_between((result.lat, result.lon), DOWNTOWN_HOUSTON) < 5
    assert (result.state, result.county, result.postal_code) == ("TX", "Harris County", "77002")
    assert result.precision == "zip"


@pytest.mark.parametrize(
    "query", ["Columbus, OH", "columbus oh", "Columbus, Ohio", "  COLUMBUS ,  OH "])
def test_city_and_state_resolve_within_10_km_of_columbus(query: str) -> None:
    result = geocode(query)
    assert km_between((result.lat, result.lon), DOWNTOWN_COLUMBUS) < 10
    assert result.state == "OH" and result.label == "Columbus, OH"


@pytest.mark.parametrize("query", ["Houston, TX", "houston texas", "77002-1234"])
def test_houston_spellings(query: str) -> None:
    result = geocode(query)
    assert km_between((result.lat, result.lon), DOWNTOWN_HOUSTON) < 10


def test_place_names_with_saint_and_multiword_states() -> None:
    assert geocode("St. Paul, MN").label == "Saint Paul, MN"
    assert geocode("Charleston West Virginia").state == "WV"
    saint_paul = geocode("Saint Paul MN")
    assert km_between((saint_paul.lat, saint_paul.lon), (44.9537, -93.0900)) < 10


@pytest.mark.parametrize(
    "query", ["29.76,-95.37", "29.76, -95.37", "29.76 -95.37", "+29.76;-95.37"])
def test_coordinates_are_taken_as_given_and_placed(query: str) -> None:
    result = geocode(query)
    assert (result.lat, result.lon) == (29.76, -95.37)
    assert result.state == "TX" and "Houston" in result.label


def test_coordinates_far_from_any_zip_have_no_state() -> None:
    result = geocode("0,-140")
    assert result.state is None and result.label == "0.00000, -140.00000"


@pytest.mark.parametrize(("query", "message"), [
    ("nowhere", "Could not find 'nowhere'"),
    ("99999", "not a known US ZIP code"),
    ("91,10", "out of range"),
    ("45,-181", "out of range"),
    ("", "Enter a ZIP code"),
    ("   ", "Enter a ZIP code"),
    ("x" * 300, "too long"),
    ("Springfield", "Could not find"),
    ("Atlantis, ZZ", "Could not find"),
])
def test_unknown_or_malformed_input_is_refused_with_a_clear_message(query: str,
                                                                   message: str) -> None:
    with pytest.raises(GeocodeError, match=message):
        geocode(query)


def test_haversine_matches_geopy_great_circle() -> None:
    pairs = [((29.76, -95.37), (39.96, -83.0)), ((47.6, -122.3), (25.76, -80.19)), ((0, 0), (0, 0))]
    for (lat1, lon1), (lat2, lon2) in pairs:
        assert math.isclose(haversine_mi(lat1, lon1, lat2, lon2),
                            distance_mi(lat1, lon1, lat2, lon2), rel_tol=1e-4, abs_tol=1e-9)


@pytest.mark.parametrize(("miles", "shown"), [(0.2, 1), (3.01, 4), (10, 10), (10.2, 15), (23, 25)])
def test_rounded_distance_hides_the_exact_point(miles: float, shown: float) -> None:
    assert rounded_distance_mi(miles) == shown


def test_state_codes() -> None:
    assert state_code("tx") == "TX"
    assert state_code("New  York") == "NY"
    assert state_code("Narnia") is None
