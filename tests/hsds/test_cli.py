"""`directory export-hsds` and `directory import-hsds`, driven as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from directory.cli import main
from tests.hsds.conftest import edit_csv, read_csv


def environment(tmp_path: Path, name: str) -> dict[str, str]:
    return {"DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(tmp_path / name),
            "DIRECTORY_DATABASE_URL": f"sqlite:///{tmp_path / name / 'cli.db'}"}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def table_counts(env: dict[str, str]) -> dict[str, int]:
    engine = create_engine(env["DIRECTORY_DATABASE_URL"])
    with engine.connect() as connection:
        counts = {table: connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0
                  for table in ("organizations", "service_categories")}
    engine.dispose()
    return counts


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo network seeded into a database of its own and exported with the CLI."""
    tmp_path = tmp_path_factory.mktemp("hsds-cli")
    env = environment(tmp_path, "source")
    assert run(env, "seed").exit_code == 0
    result = run(env, "export-hsds", str(tmp_path / "package"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format"] == "csv" and summary["organizations"] >= 150
    json_result = run(env, "export-hsds", str(tmp_path / "directory.json"), "--format", "json")
    assert json_result.exit_code == 0 and "Exported" in json_result.stdout
    return tmp_path


def test_help_lists_the_hsds_commands() -> None:
    output = CliRunner().invoke(main, ["--help"]).output
    assert "export-hsds" in output and "import-hsds" in output


def test_import_prints_one_json_report_and_a_second_run_changes_nothing(
        exported: Path, tmp_path: Path) -> None:
    env = environment(tmp_path, "target")
    first = run(env, "import-hsds", str(exported / "package"), "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    organizations = report["organizations"]
    assert organizations["created"] == organizations["in_source"] >= 150
    assert report["rejected"] == [] and report["rows_per_second"] > 0
    second = json.loads(run(env, "import-hsds", str(exported / "package"), "--json").stdout)
    assert second["organizations"]["unchanged"] == organizations["created"]
    assert second["organizations"]["created"] == second["organizations"]["updated"] == 0
    plain = run(env, "import-hsds", str(exported / "directory.json"))
    assert plain.exit_code == 0
    assert f"0 created, 0 updated, {organizations['created']} unchanged" in plain.stdout
    assert "rows/s" in plain.stdout


def test_dry_run_and_strict(exported: Path, tmp_path: Path) -> None:
    env = environment(tmp_path, "target")
    dry = json.loads(run(env, "import-hsds", str(exported / "package"), "--dry-run",
                         "--json").stdout)
    assert dry["dry_run"] and dry["organizations"]["created"] >= 150
    assert table_counts(env) == {"organizations": 0, "service_categories": 0}
    again = json.loads(run(env, "import-hsds", str(exported / "package"), "--dry-run",
                           "--json").stdout)
    assert again["organizations"]["created"] == dry["organizations"]["created"]

    broken = tmp_path / "broken"
    broken.mkdir()
    for path in (exported / "package").iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    first_id = read_csv(broken / "organizations.csv")[0]["id"]
    row = edit_csv(broken / "organizations.csv", {"id": first_id}, {"name": ""})
    strict = run(env, "import-hsds", str(broken), "--strict", "--json")
    assert strict.exit_code == 1
    report = json.loads(strict.stdout)
    assert report["refused"] and report["organizations"]["created"] == 0
    assert {"file": "organizations.csv", "row": row, "id": first_id,
            "message": "name is required"} in report["rejected"]
    plain = run(env, "import-hsds", str(broken), "--strict")
    assert plain.exit_code == 1 and "Refused (--strict)" in plain.stdout
    assert "organizations.csv row 2: name is required" in plain.stdout


@pytest.mark.parametrize("target", ["nowhere", "notes.txt"])
def test_unreadable_input_exits_non_zero_without_a_traceback(tmp_path: Path,
                                                             target: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = run(environment(tmp_path, "target"), "import-hsds", str(tmp_path / target),
                 "--json")
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output
    assert result.stdout == ""


def test_export_refuses_a_file_as_package_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    result = run(environment(tmp_path, "source"), "export-hsds", str(tmp_path / "taken"))
    assert result.exit_code == 1 and "is a file" in result.output
