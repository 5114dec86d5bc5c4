"""`directory search`, driven as a user would, on a database of its own seeded with the demo
network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from directory.cli import main
from directory.geo.distance import haversine_mi
from directory.geo.gazetteer import gazetteer

SAFE_HOME = "live-oak-hill-ministries-safe-home-houston"
LINE = re.compile(r"^(?P<rounded>[ ~])\s*(?P<distance>\d+\.\d|\?)\s+mi  (?P<name>.+) \("
                  r"(?P<kind>[^,]+), (?P<city>[^,]+), (?P<state>[A-Z]{2})\)"
                  r"(?P<covers> \[covers\])?$")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path: Path = tmp_path_factory.mktemp("search-cli")
    settings = {"DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(path),
                "DIRECTORY_DATABASE_URL": f"sqlite:///{path / 'cli.db'}"}
    seeded = CliRunner().invoke(main, ["seed", "--json"], env=settings, catch_exceptions=False)
    assert seeded.exit_code == 0 and json.loads(seeded.stdout)["organizations_created"] >= 150
    return settings


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["search", *args], env=env, catch_exceptions=False)


def search_json(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    result = run(env, *args, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, list)
    return document


def zip_point(code: str) -> tuple[float, float]:
    area = gazetteer().zip_area(code)
    assert area is not None
    return area.lat, area.lon


def test_text_output_lists_the_nearest_first(env: dict[str, str]) -> None:
    result = run(env, "--near", "77002")
    assert result.exit_code == 0
    header, *lines = result.stdout.splitlines()
    count = int(re.fullmatch(r"(\d+) organizations within 50 mi of 77002 Houston, TX:",
                             header).group(1))  # type: ignore[union-attr]
    assert count >= 3 and len(lines) == min(count, 25)
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    distances = [float(match["distance"]) for match in parsed if match]
    assert distances == sorted(distances) and distances[-1] <= 50
    assert any(match["covers"] for match in parsed if match)
    assert {match["state"] for match in parsed if match} == {"TX"}


def test_json_output_is_one_list_of_results(env: dict[str, str]) -> None:
    results = search_json(env, "--near", "77002")
    text_header = run(env, "--near", "77002").stdout.splitlines()[0]
    assert text_header.startswith(f"{len(results)} organizations")
    point = zip_point("77002")
    for item in results:
        assert {"id", "slug", "name", "kind", "distance_mi", "covers", "lat", "lon"} <= item.keys()
        assert "shapes" not in item
        assert isinstance(item["covers"], bool) and item["kind"] in {
            "law_enforcement", "nonprofit", "faith_based", "government", "healthcare", "legal",
            "tribal", "other"}
        if item["lat"] is not None:
            assert item["distance_mi"] == pytest.approx(
                haversine_mi(*point, item["lat"], item["lon"]), abs=0.06)
    distances = [item["distance_mi"] for item in results]
    assert distances == sorted(distances)
    assert len({item["id"] for item in results}) == len(results)


def test_json_hides_a_confidential_nearest_location(env: dict[str, str]) -> None:
    result = run(env, "--near", "77082", "--json")
    results = json.loads(result.stdout)
    safe_home = next(item for item in results if item["slug"] == SAFE_HOME)
    assert safe_home["lat"] is None and safe_home["lon"] is None
    assert safe_home["distance_rounded"] is True
    assert safe_home["distance_mi"] >= 1
    assert safe_home["distance_mi"] == int(safe_home["distance_mi"])  # whole miles
    lat, lon = zip_point("77082")  # where the safe home's residence was placed
    assert str(lat) not in result.stdout and str(lon) not in result.stdout
    public = [item for item in results if item["lat"] is not None]
    assert public and all(item["distance_rounded"] is False for item in public)


def test_text_marks_a_rounded_distance(env: dict[str, str]) -> None:
    lines = run(env, "--near", "77082").stdout.splitlines()
    safe_home = next(line for line in lines if "Live Oak Hill Ministries Safe Home" in line)
    assert re.match(r"^~\s*\d+\.0 mi  ", safe_home)


def test_covering_lists_those_whose_coverage_contains_the_point(env: dict[str, str]) -> None:
    near = search_json(env, "--near", "77002")
    covering = search_json(env, "--near", "77002", "--covering", "--limit", "500")
    assert covering and all(item["covers"] for item in covering)
    assert {item["id"] for item in near if item["covers"]} <= {item["id"] for item in covering}
    located = [item["distance_mi"] for item in covering if item["distance_mi"] is not None]
    assert located == sorted(located)
    assert max(located) > 50  # statewide partners far away cover Houston too

    text = run(env, "--near", "77002", "--covering").stdout.splitlines()
    assert re.fullmatch(rf"{len(covering)} organizations covering 77002 Houston, TX:", text[0])
    assert not any("[covers]" in line for line in text)


SHELTER_SERVICES = {"Shelter and housing", "Emergency shelter", "Youth shelter", "Safe house",
                    "Transitional housing"}


@pytest.mark.parametrize(("option", "check"), [
    (("--kind", "law_enforcement"), lambda item: item["kind"] == "law_enforcement"),
    (("--kind", "legal", "--kind", "healthcare"),
     lambda item: item["kind"] in {"legal", "healthcare"}),
    (("--language", "es"), lambda item: "es" in item["languages"]),
    (("--accepting",), lambda item: item["accepting_referrals"] is True),
    (("--verified-within", "365"), lambda item: item["verified_days"] is not None
     and item["verified_days"] <= 365),
    (("--service", "shelter"), lambda item: SHELTER_SERVICES & set(item["services"])),
    (("--population", "adolescents"), None),
])
def test_filters_narrow_the_results(env: dict[str, str], option: tuple[str, ...],
                                    check: Any) -> None:
    everything = search_json(env, "--near", "Houston, TX", "--radius", "500", "--limit", "500")
    narrowed = search_json(env, "--near", "Houston, TX", "--radius", "500", "--limit", "500",
                           *option)
    assert 0 < len(narrowed) < len(everything)  # the demo network has some of each, not only
    assert {item["id"] for item in narrowed} <= {item["id"] for item in everything}
    assert check is None or all(check(item) for item in narrowed)


def test_open_now_keeps_a_subset(env: dict[str, str]) -> None:
    everything = search_json(env, "--near", "Houston, TX", "--radius", "500", "--limit", "500")
    open_now = search_json(env, "--near", "Houston, TX", "--radius", "500", "--limit", "500",
                           "--open-now")
    assert open_now  # the demo network has 24/7 hotlines and shelters
    assert {item["id"] for item in open_now} <= {item["id"] for item in everything}


def test_service_filter_includes_sub_services(env: dict[str, str]) -> None:
    shelters = search_json(env, "--near", "77082", "--service", "shelter")
    assert SAFE_HOME in {item["slug"] for item in shelters}  # it offers shelter.safe_house
    legal = search_json(env, "--near", "77082", "--service", "legal.immigration")
    assert SAFE_HOME not in {item["slug"] for item in legal}


def test_radius_and_limit(env: dict[str, str]) -> None:
    wide = search_json(env, "--near", "77002", "--radius", "500", "--limit", "500")
    narrow = search_json(env, "--near", "77002", "--radius", "5")
    assert all(item["distance_mi"] <= 5 for item in narrow)
    assert len(wide) > len(narrow)
    assert max(item["distance_mi"] for item in wide) > 50
    first_two = search_json(env, "--near", "77002", "--radius", "500", "--limit", "2")
    assert [item["id"] for item in first_two] == [item["id"] for item in wide[:2]]


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--near", "nowhere"), 1, "Error: Could not find 'nowhere'."),
    (("--near", "00000"), 1, "Error: 00000 is not a known US ZIP code."),
    (("--near", "95,200"), 1, "Error: Coordinates out of range"),
    (("--near", ""), 1, "Error: Enter a ZIP code"),
    (("--near", "77002", "--service", "teleportation"), 1,
     "Error: Unknown service 'teleportation'."),
    (("--near", "77002", "--kind", "spaceship"), 2, "Invalid value for '--kind'"),
    (("--near", "77002", "--radius", "0"), 2, "Invalid value for '--radius'"),
    (("--near", "77002", "--radius", "-5"), 2, "Invalid value for '--radius'"),
    (("--near", "77002", "--limit", "0"), 2, "Invalid value for '--limit'"),
    (("--near", "77002", "--language", "xx"), 2, "Invalid value for '--language'"),
    ((), 2, "Missing option '--near'"),
])
def test_bad_input_exits_non_zero_with_a_clear_message(env: dict[str, str], args: tuple[str, ...],
                                                       code: int, message: str) -> None:
    result = run(env, *args, "--json")
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""  # no half-written JSON document
