"""Reference data and the demo network, loaded from the data files in seed/.

Every loader goes through the same operations as the web pages, and is idempotent: what is
already there is left as it is, so running a seed twice changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from directory.accounts.membership import add_membership
from directory.accounts.models import MemberRole, User
from directory.accounts.operations import create_user, find_user_by_email, set_password
from directory.config import PROJECT_ROOT
from directory.db import db_session, utcnow
from directory.orgs.coverage import add_coverage_area
from directory.orgs.models import MembershipStatus, Organization
from directory.orgs.operations import ListingError, create_organization, upsert_service_category
from directory.orgs.schemas import CoverageAreaSchema, SeedOrganizationSchema

log = logging.getLogger(__name__)

SEED_DIR = PROJECT_ROOT / "seed"
Progress = Callable[[int], None]


class SeedError(ValueError):
    """A seed file is missing or malformed; the message names the file and the entry."""


@dataclass
class SeedReport:
    categories_created: int = 0
    categories_updated: int = 0
    organizations_created: int = 0
    organizations_existing: int = 0
    users: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "categories_created": self.categories_created,
            "categories_updated": self.categories_updated,
            "organizations_created": self.organizations_created,
            "organizations_existing": self.organizations_existing,
            "users": self.users,
        }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SeedError(f"{path} does not exist.") from exc
    except json.JSONDecodeError as exc:
        raise SeedError(f"{path} is not valid JSON: {exc}") from exc


def load_taxonomy(report: SeedReport, path: Path = SEED_DIR / "taxonomy.csv") -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            outcome = upsert_service_category(row["code"], row["name"], row["description"],
                                              row["parent_code"] or None)
            if outcome == "created":
                report.categories_created += 1
            elif outcome == "updated":
                report.categories_updated += 1
    log.info("taxonomy loaded from %s", path)


def load_organizations(report: SeedReport, path: Path = SEED_DIR / "organizations.json",
                       progress: Progress | None = None) -> None:
    entries = _read_json(path).get("organizations", [])
    existing = set(db_session.scalars(select(Organization.slug)))
    schema = SeedOrganizationSchema()
    now = utcnow()
    for number, entry in enumerate(entries, start=1):
        try:
            data = schema.load(entry)
        except ValidationError as exc:
            raise SeedError(f"{path.name}, organization #{number} "
                            f"({entry.get('slug', '?')}): {exc.messages}") from exc
        if data["slug"] in existing:
            report.organizations_existing += 1
        else:
            days = data.pop("verified_days_ago")
            coverage = data.pop("coverage")
            organization = create_organization(
                data, slug=data.pop("slug"), status=MembershipStatus(data.pop("status")),
                verified_at=None if days is None else now - dt.timedelta(days=days),
            )
            try:
                for area in coverage:
                    add_coverage_area(organization, _coverage_input(organization, area))
            except (ValidationError, ListingError, IndexError) as exc:
                raise SeedError(f"{path.name}, organization #{number} ({organization.slug}): "
                                f"coverage: {getattr(exc, 'messages', exc)}") from exc
            report.organizations_created += 1
        if progress:
            progress(1)


def _coverage_input(organization: Organization, entry: dict[str, Any]) -> dict[str, Any]:
    data = dict(entry)
    if "location" in data:
        data["location_id"] = organization.locations[data.pop("location")].id
    if isinstance(data.get("geojson"), dict):
        data["geojson"] = json.dumps(data["geojson"])
    return CoverageAreaSchema().load(data)


def seed_demo_network(progress: Progress | None = None) -> SeedReport:
    report = SeedReport()
    load_taxonomy(report)
    load_organizations(report, progress=progress)
    return report


def demo_network_size() -> int:
    return len(_read_json(SEED_DIR / "organizations.json").get("organizations", []))


def ensure_demo_users(password: str,
                      path: Path = SEED_DIR / "demo_users.json") -> list[dict[str, Any]]:
    """Create the demo users (or reset their password to ``password``); demo mode only."""
    users: list[dict[str, Any]] = []
    for entry in _read_json(path).get("users", []):
        user: User | None = find_user_by_email(entry["email"])
        if user is None:
            user = create_user(entry["email"], entry["name"], password,
                               is_coordinator=entry.get("coordinator", False), email_verified=True)
        else:
            set_password(user, password)
        roles = ["network coordinator"] if user.is_coordinator else []
        for membership in entry.get("memberships", []):
            organization = db_session.scalar(
                select(Organization).where(Organization.slug == membership["organization"]))
            if organization is None:
                raise SeedError(f"{path.name}: {entry['email']} names unknown organization "
                                f"{membership['organization']!r}.")
            role = MemberRole(membership["role"])
            add_membership(user, organization, role)
            roles.append(f"{role.label.lower()} of {organization.name}")
        users.append({"email": user.email, "name": user.name, "roles": roles})
    return users
