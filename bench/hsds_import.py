"""Benchmark: HSDS 3.0 export and import of a large synthetic network.

Generates N synthetic organizations (default 100,000) into a scratch source database, exports
them with `directory export-hsds`, imports the package into an empty target database with
`directory import-hsds` (its progress bar shows on stderr), imports it a second time (every
organization unchanged), and, unless --no-round-trip, exports the target again and compares
the two packages file by file. Each command runs in its own process, whose wall time and peak
memory are measured. Prints the figures, then one JSON line with all of them.

    python bench/hsds_import.py [--organizations N] [--workdir DIR] [--repeats R]
                                [--source-url URL] [--target-url URL] [--no-round-trip]

The first import is repeated R times (default 3) into fresh SQLite targets and its rate is the
median. A brute-force floor is measured in the same run: the package's CSV rows inserted by a
plain executemany into a scratch SQLite table per file, no validation; the import's ratio to it
and the load average are printed with the figures.

The databases default to SQLite files in the work folder; PostgreSQL URLs must name empty
databases (the script migrates them and refuses a target that already holds organizations).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from directory import create_app
from directory.db import get_database, transaction, upgrade
from directory.models import Organization
from directory.orgs.synthetic import generate_synthetic_network
from directory.seeding import SeedReport, load_taxonomy


def _app(url: str, instance: Path) -> Any:
    return create_app({"ENV": "testing", "INSTANCE_PATH": str(instance), "DATABASE_URL": url})


def _organizations(url: str, instance: Path) -> int:
    app = _app(url, instance)
    upgrade(get_database(app))
    with app.app_context(), transaction() as session:
        return session.scalar(select(func.count()).select_from(Organization)) or 0


def generate(url: str, instance: Path, count: int) -> float:
    """Seed the source with the taxonomy and ``count`` synthetic organizations."""
    app = _app(url, instance)
    upgrade(get_database(app))
    started = time.perf_counter()
    with app.app_context(), transaction():
        load_taxonomy(SeedReport())
        report = generate_synthetic_network(count, random_seed=1)
    if report.skipped:
        raise SystemExit("the source database already holds this synthetic network")
    return time.perf_counter() - started


def run_directory(url: str, instance: Path, *args: str) -> tuple[str, float, float]:
    """Run one `directory` command; its stdout, wall seconds and peak memory in MB."""
    env = {**os.environ, "DIRECTORY_ENV": "testing", "DIRECTORY_DATABASE_URL": url,
           "DIRECTORY_INSTANCE_PATH": str(instance)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", "from directory.cli import main; main()",
                                *args],
                               stdout=subprocess.PIPE, env=env, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"directory {' '.join(args)} failed with exit code "
                         f"{process.returncode}:\n{output}")
    return output, seconds, usage.ru_maxrss / 1024


def same_packages(first: Path, second: Path) -> bool:
    names = sorted(path.name for path in first.iterdir())
    if names != sorted(path.name for path in second.iterdir()):
        return False
    matches, mismatches, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    return not mismatches and not errors


def brute_force(package: Path, database: Path) -> tuple[int, float]:
    """Rows and seconds to read every CSV of ``package`` and insert it as it is (one executemany
    per file into a table of text columns, one transaction): the floor an import can approach."""
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    rows = 0
    with connection:
        for path in sorted(package.glob("*.csv")):
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                if not header:
                    continue
                table = f'"{path.stem}"'
                columns = ", ".join(f'"c{index}" TEXT' for index in range(len(header)))
                connection.execute(f"CREATE TABLE {table} ({columns})")
                marks = ", ".join("?" * len(header))
                batch = list(reader)
                connection.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)
                rows += len(batch)
    connection.close()
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--source-url", default=None)
    parser.add_argument("--target-url", default=None)
    parser.add_argument("--no-round-trip", action="store_true")
    parser.add_argument("--repeats", type=int, default=3,
                        help="imports into fresh SQLite targets (the rate is their median)")
    options = parser.parse_args()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="hsds-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = options.source_url or f"sqlite:///{workdir / 'source.db'}"
    target = options.target_url or f"sqlite:///{workdir / 'target.db'}"
    instance = workdir / "instance"
    if _organizations(target, instance):
        raise SystemExit(f"the target database {target} is not empty")
    print(f"Work folder: {workdir}", file=sys.stderr)

    generated = generate(source, instance, options.organizations)
    print(f"Generated {options.organizations} organizations in {generated:.1f} s.",
          file=sys.stderr)
    package = workdir / "package"
    exported, export_seconds, export_mb = run_directory(
        source, instance, "export-hsds", str(package), "--json")
    export = json.loads(exported)
    package_mb = sum(path.stat().st_size for path in package.iterdir()) / 2**20
    imported, import_seconds, import_mb = run_directory(
        target, instance, "import-hsds", str(package), "--json")
    report = json.loads(imported)
    import_runs = [import_seconds]
    repeats = options.repeats if options.target_url is None else 1
    for repeat in range(1, repeats):
        scratch = f"sqlite:///{workdir / f'target-{repeat}.db'}"
        (workdir / f"target-{repeat}.db").unlink(missing_ok=True)
        _organizations(scratch, instance)  # migrated, empty
        _, seconds, _ = run_directory(scratch, instance, "import-hsds", str(package), "--json")
        import_runs.append(seconds)
    median_seconds = statistics.median(import_runs)
    floor_rows, floor_seconds = brute_force(package, workdir / "brute-force.db")
    again, again_seconds, again_mb = run_directory(
        target, instance, "import-hsds", str(package), "--json")
    second = json.loads(again)
    round_trip = None
    if not options.no_round_trip:
        run_directory(target, instance, "export-hsds", str(workdir / "package-again"))
        round_trip = same_packages(package, workdir / "package-again")

    rows = report["rows_read"]
    load = os.getloadavg()
    figures = {
        "organizations": options.organizations,
        "generate_seconds": round(generated, 1),
        "export_seconds": round(export_seconds, 1),
        "export_rows": sum(export["rows"].values()),
        "export_peak_mb": round(export_mb),
        "package_mb": round(package_mb, 1),
        "import_seconds": round(import_seconds, 1),
        "import_rows": rows,
        "import_rows_per_second": round(rows / import_seconds),
        "import_organizations_per_second": round(options.organizations / import_seconds),
        "import_reported_rows_per_second": report["rows_per_second"],
        "import_peak_mb": round(import_mb),
        "import_runs_seconds": [round(seconds, 1) for seconds in import_runs],
        "import_median_seconds": round(median_seconds, 1),
        "import_median_organizations_per_second": round(options.organizations / median_seconds),
        "import_median_rows_per_second": round(rows / median_seconds),
        "brute_force_rows": floor_rows,
        "brute_force_seconds": round(floor_seconds, 2),
        "brute_force_rows_per_second": round(floor_rows / floor_seconds),
        "import_to_brute_force_ratio": round(median_seconds / floor_seconds, 1),
        "load_average": [round(value, 2) for value in load],
        "created": report["organizations"]["created"],
        "rejected": report["organizations"]["rejected"],
        "reimport_seconds": round(again_seconds, 1),
        "reimport_rows_per_second": round(rows / again_seconds),
        "reimport_unchanged": second["organizations"]["unchanged"],
        "reimport_peak_mb": round(again_mb),
        "round_trip_identical": round_trip,
        "database": "postgresql" if target.startswith("postgresql") else "sqlite",
    }
    print(f"Export: {figures['export_rows']} rows ({package_mb:.1f} MB) in "
          f"{export_seconds:.1f} s, peak {export_mb:.0f} MB")
    print(f"Import: {rows} rows, {figures['created']} organizations created, "
          f"{figures['rejected']} rejected, in {import_seconds:.1f} s "
          f"({figures['import_rows_per_second']} rows/s, "
          f"{figures['import_organizations_per_second']} organizations/s), "
          f"peak {import_mb:.0f} MB")
    print(f"Import median of {len(import_runs)}: {median_seconds:.1f} s "
          f"({figures['import_median_organizations_per_second']} organizations/s, "
          f"{figures['import_median_rows_per_second']} rows/s); brute-force executemany of the "
          f"same {floor_rows} rows: {floor_seconds:.2f} s "
          f"({figures['brute_force_rows_per_second']} rows/s); import takes "
          f"{figures['import_to_brute_force_ratio']}x the floor; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"Re-import: {figures['reimport_unchanged']} unchanged in {again_seconds:.1f} s "
          f"({figures['reimport_rows_per_second']} rows/s), peak {again_mb:.0f} MB")
    if round_trip is not None:
        print(f"Export -> import -> export identical: {round_trip}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
