"""The `directory` command, driven as a user would (on a database of its own)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from directory import create_app
from directory.cli import main
from directory.db import MIGRATIONS_PATH, get_session
from directory.geo.distance import haversine_mi
from directory.models import Location, Organization, Service, User

VERBS = {"demo", "init", "seed", "serve", "geocode", "routes"}


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {"DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(tmp_path),
            "DIRECTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def counts(env: dict[str, str]) -> dict[str, int]:
    app = create_app({"ENV": "testing", "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
                      "DATABASE_URL": env["DIRECTORY_DATABASE_URL"]})
    with app.app_context():
        session = get_session()
        return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Organization, Location, Service, User)}


def test_help_lists_the_verbs() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1].splitlines()
    listed = {line.split()[0] for line in commands if line.strip()}
    assert listed >= VERBS


def test_geocode_prints_one_json_object() -> None:
    result = CliRunner().invoke(main, ["geocode", "77002", "--json"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert {"lat", "lon", "label", "state"} <= document.keys()
    assert haversine_mi(document["lat"], document["lon"], 29.7604, -95.3698) < 5 / 1.609
    assert document["state"] == "TX"


def test_geocode_plain_output() -> None:
    result = CliRunner().invoke(main, ["geocode", "Columbus, OH"])
    assert result.exit_code == 0 and result.output.startswith("Columbus, OH: 39.99")


@pytest.mark.parametrize("query", ["nowhere", "00000", "200,200"])
def test_geocode_unknown_input_exits_non_zero_with_a_message(query: str) -> None:
    result = CliRunner().invoke(main, ["geocode", query, "--json"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output


def test_init_creates_the_database_and_is_repeatable(env: dict[str, str]) -> None:
    heads = ScriptDirectory(str(MIGRATIONS_PATH)).get_heads()
    first = run(env, "init")
    assert first.exit_code == 0
    assert any(f"is at revision {head}." in first.output for head in heads), first.output
    assert run(env, "init").exit_code == 0
    assert Path(env["DIRECTORY_INSTANCE_PATH"], "cli.db").exists()


def test_seed_loads_the_demo_network_and_twice_changes_nothing(env: dict[str, str]) -> None:
    first = json.loads(run(env, "seed", "--json").stdout)
    assert first["organizations_created"] >= 150 and first["categories_created"] >= 20
    after_first = counts(env)
    second = json.loads(run(env, "seed", "--json").stdout)
    assert second["organizations_created"] == 0 and second["categories_created"] == 0
    assert second["organizations_existing"] == first["organizations_created"]
    assert counts(env) == after_first
    assert after_first["User"] == 0  # demo users (and passwords) only come with `directory demo`


def test_seeded_network_spans_states_and_kinds(env: dict[str, str]) -> None:
    run(env, "seed", "--json")
    app = create_app({"ENV": "testing", "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
                      "DATABASE_URL": env["DIRECTORY_DATABASE_URL"]})
    with app.app_context():
        session = get_session()
        states = session.scalar(select(func.count(func.distinct(Location.state))))
        kinds = session.scalar(select(func.count(func.distinct(Organization.kind))))
        confidential = session.scalar(select(func.count()).where(Location.confidential))
    assert states >= 5 and kinds == 8 and confidential > 0


def test_synthetic_network_is_deterministic(tmp_path: Path) -> None:
    def build(name: str) -> list[tuple[str, str, float, float]]:
        env = {"DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(tmp_path / name),
               "DIRECTORY_DATABASE_URL": f"sqlite:///{tmp_path / name / 'db.sqlite'}"}
        result = run(env, "seed", "--synthetic", "300", "--random-seed", "7", "--json")
        assert json.loads(result.stdout)["synthetic"]["organizations"] == 300
        assert "Generating organizations" in result.stderr
        again = json.loads(
            run(env, "seed", "--synthetic", "300", "--random-seed", "7", "--json").stdout)
        assert again["synthetic"]["already_present"] is True
        app = create_app({"ENV": "testing", "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
                          "DATABASE_URL": env["DIRECTORY_DATABASE_URL"]})
        with app.app_context():
            return list(get_session().execute(
                select(Organization.slug, Organization.name, Location.latitude, Location.longitude)
                .join(Location).where(Organization.slug.startswith("synthetic-"))
                .order_by(Location.id)).tuples())

    first, second = build("a"), build("b")
    assert len(first) >= 300 and first == second


def test_demo_prints_the_logins_and_the_password(env: dict[str, str]) -> None:
    env = {**env, "DIRECTORY_DEMO_PASSWORD": "a demo password for tests"}
    result = run(env, "demo", "--no-serve", "--port", "5123")
    assert result.exit_code == 0
    assert "http://127.0.0.1:5123/" in result.output
    assert "coordinator@demo.example" in result.output
    assert "Password for every demo user: a demo password for tests" in result.output
    assert counts(env)["User"] >= 3


def test_production_mode_without_secrets_is_a_clear_error(tmp_path: Path) -> None:
    env = {"DIRECTORY_ENV": "production", "DIRECTORY_INSTANCE_PATH": str(tmp_path),
           "DIRECTORY_SECRET_KEY": "", "DIRECTORY_DATA_KEY": ""}
    result = CliRunner().invoke(main, ["init"], env=env)
    assert result.exit_code == 1
    assert "DIRECTORY_SECRET_KEY is not set" in result.output and "Traceback" not in result.output


def test_routes_json(env: dict[str, str]) -> None:
    routes = json.loads(run(env, "routes", "--json").stdout)
    rules = {route["rule"] for route in routes}
    assert {"/", "/login", "/logout", "/organizations", "/organizations/<slug>"} <= rules
