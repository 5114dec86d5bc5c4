"""HSDS fixtures: Open Referral's schemas shipped in the package, packages written and read back."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from directory.hsds import spec
from directory.hsds.operations import export_csv, import_hsds
from directory.hsds.reader import open_source
from directory.hsds.report import ImportReport
from directory.models import Organization
from directory.seeding import SeedReport, load_organizations

HSDS_STANDARD = spec.STANDARD_PATH


@pytest.fixture(scope="session")
def hsds_spec() -> Path:
    """Open Referral's HSDS 3.0 schemas and examples, as the package ships them."""
    assert (HSDS_STANDARD / "datapackage.json").is_file(), (
        f"HSDS 3.0 schemas not found at {HSDS_STANDARD}")
    return HSDS_STANDARD


@pytest.fixture()
def demo_network(db: Session) -> int:
    """The seeded demo network, inside the test's transaction; returns how many are listed."""
    load_organizations(SeedReport())
    return db.scalar(select(func.count()).where(Organization.status == "active")) or 0


def import_path(path: Path, **options: Any) -> ImportReport:
    with open_source(path) as source:
        return import_hsds(source, **options)


def export_to(path: Path) -> Path:
    export_csv(path)
    return path


def remove_all_organizations(db: Session) -> None:
    db.execute(delete(Organization))
    db.expire_all()


def organization_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Organization)) or 0


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def edit_csv(path: Path, match: dict[str, str], changes: dict[str, str]) -> int:
    """Change the first row whose values include ``match``; returns its row number (the
    header is row 1)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    number = next(index for index, row in enumerate(rows)
                  if all(row[key] == value for key, value in match.items()))
    rows[number].update(changes)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return number + 2


def package_files(path: Path) -> dict[str, bytes]:
    return {item.name: item.read_bytes() for item in sorted(path.iterdir())}
