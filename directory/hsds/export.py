"""Listings as HSDS 3.0 rows, and the two forms an export is written in.

An organization becomes rows of the HSDS tables (`organization_rows`); the tabular package
writes them to one CSV file per table beside Open Referral's `datapackage.json`, the JSON form
nests them into full HSDS organizations. Both come from the same rows, so they always agree.
Ids the directory does not store (phones, addresses, schedules, attributes...) are name-based
UUIDs of their owner's id, so exporting the same listings twice gives identical files.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from directory.db import db_session
from directory.hsds import spec
from directory.hsds.areas import service_area_rows
from directory.hsds.taxonomy import (
    ACCEPTING_REFERRALS,
    CONFIDENTIAL,
    FLAGS,
    KINDS,
    OPEN_ELIGIBILITY,
    OWN_TAXONOMIES,
    POPULATIONS,
    SERVICES,
    category_term_id,
    code_term_id,
    fixed_terms,
    kind_code,
    open_eligibility_paths,
    open_eligibility_term_id,
    population_code,
    stable_id,
)
from directory.orgs.models import (
    LANGUAGES,
    CoverageArea,
    Location,
    MembershipStatus,
    Organization,
    Service,
    ServiceCategory,
)
from directory.safecsv import SafeDictWriter

Rows = dict[str, list[dict[str, Any]]]
"""HSDS rows by table (resource) name; values are str or float, absent fields left out."""

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
CONFIDENTIAL_NAME = "Confidential location"
ALL_DAY = ("00:00:00", "23:59:59")
BATCH_SIZE = 500


def _present(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if value not in (None, "")}


def taxonomy_rows(categories: Iterable[ServiceCategory]) -> Rows:
    """The taxonomies and terms every export carries, whether or not a listing uses them."""
    by_id = {category.id: category.code for category in categories}
    terms = [
        _present({"id": category_term_id(category.code), "code": category.code,
                  "name": category.name, "description": category.description or category.name,
                  "parent_id": category_term_id(by_id[category.parent_id])
                  if category.parent_id else None,
                  "taxonomy": SERVICES.name, "taxonomy_id": SERVICES.id})
        for category in sorted(categories, key=lambda item: item.code)
    ]
    terms += [_present({"id": term.id, "code": term.code, "name": term.name,
                        "description": term.description, "taxonomy": term.taxonomy.name,
                        "taxonomy_id": term.taxonomy.id})
              for term in fixed_terms()]
    return {
        "taxonomy": [{"id": taxonomy.id, "name": taxonomy.name,
                      "description": taxonomy.description}
                     for taxonomy in (*OWN_TAXONOMIES, OPEN_ELIGIBILITY)],
        "taxonomy_term": terms,
    }


def _attribute(link_id: str, entity: str, term_id: str, value: str | None = None) -> dict[str, Any]:
    return _present({"id": stable_id(link_id, "attribute", term_id), "link_id": link_id,
                     "taxonomy_term_id": term_id, "link_entity": entity, "value": value})


def _language(owner: str, owner_id: str, code: str) -> dict[str, Any]:
    return {"id": stable_id(owner_id, "language", code), owner: owner_id,
            "name": LANGUAGES.get(code, code), "code": code}


def _schedule_rows(location: Location) -> list[dict[str, Any]]:
    """Opening hours as weekly RRULE-style rows: one per distinct interval, its days in BYDAY."""
    rows = []
    if location.open_24_7:
        rows.append({"id": stable_id(location.hsds_id, "schedule", "24/7"),
                     "location_id": location.hsds_id, "freq": "WEEKLY",
                     "byday": ",".join(DAY_CODES), "opens_at": ALL_DAY[0],
                     "closes_at": ALL_DAY[1], "description": "Open 24 hours, 7 days a week."})
    intervals: dict[tuple[str, str], list[int]] = defaultdict(list)
    for hours in sorted(location.hours, key=lambda item: (item.weekday, item.opens)):
        key = (f"{hours.opens:%H:%M:%S}", f"{hours.closes:%H:%M:%S}")
        if hours.weekday not in intervals[key]:
            intervals[key].append(hours.weekday)
    for (opens, closes), days in sorted(intervals.items(), key=lambda item: (item[1][0], item[0])):
        rows.append({"id": stable_id(location.hsds_id, "schedule", f"{opens}-{closes}"),
                     "location_id": location.hsds_id, "freq": "WEEKLY",
                     "byday": ",".join(DAY_CODES[day] for day in days),
                     "opens_at": opens, "closes_at": closes})
    return rows


def _location_rows(location: Location, organization_id: str, rows: Rows) -> None:
    """A location, its address and hours. A confidential one keeps only its city's centre."""
    location_id = location.hsds_id
    if location.confidential:
        # latitude/longitude hold its public point (see directory.geo.public).
        rows["location"].append({"id": location_id, "location_type": "physical",
                                 "organization_id": organization_id, "name": CONFIDENTIAL_NAME,
                                 "latitude": location.latitude,
                                 "longitude": location.longitude})
        rows["attribute"].append(_attribute(location_id, "location",
                                            code_term_id(FLAGS, CONFIDENTIAL)))
    else:
        rows["location"].append(_present({
            "id": location_id, "location_type": "physical", "organization_id": organization_id,
            "name": location.name, "latitude": location.latitude,
            "longitude": location.longitude}))
        if location.address and location.postal_code:
            rows["address"].append({
                "id": stable_id(location_id, "address"), "location_id": location_id,
                "address_1": location.address, "city": location.city,
                "state_province": location.state, "postal_code": location.postal_code,
                "country": "US", "address_type": "physical"})
    rows["schedule"].extend(_schedule_rows(location))


def service_at_location_id(service_id: str, location_id: str) -> str:
    """The id of a service at a location: a name-based id of the pair whose first 48 bits
    are the location's own, so that the HSDS API finds the pair by id through the unique
    index of location ids (and checks the rest), with no table of pairs to keep."""
    digest = uuid.UUID(stable_id(service_id, "at", location_id)).hex
    prefix = uuid.UUID(location_id).hex[:12]
    return str(uuid.UUID(prefix + "8" + digest[13:]))  # version 8: a custom layout (RFC 9562)


def organization_row(organization: Organization) -> dict[str, Any]:
    return _present({
        "id": organization.hsds_id, "name": organization.name,
        "description": organization.description or organization.name,
        "email": organization.email, "website": organization.website})


def service_row(service: Service, organization_id: str) -> dict[str, Any]:
    return _present({"id": service.hsds_id, "organization_id": organization_id,
                     "name": service.category.name, "description": service.description,
                     "status": "active"})


def organization_rows(organization: Organization) -> Rows:
    """Every HSDS row of one organization: what a vetted member may see of it, nothing else."""
    rows: Rows = defaultdict(list)
    org_id = organization.hsds_id
    rows["organization"].append(organization_row(organization))
    if organization.phone:
        rows["phone"].append({"id": stable_id(org_id, "phone"), "organization_id": org_id,
                              "number": organization.phone, "type": "voice"})
    for index, contact in enumerate(organization.contacts):
        contact_id = stable_id(org_id, "contact", str(index))
        rows["contact"].append(_present({"id": contact_id, "organization_id": org_id,
                                         "name": contact.name, "title": contact.title,
                                         "email": contact.email}))
        if contact.phone:
            rows["phone"].append({"id": stable_id(contact_id, "phone"), "contact_id": contact_id,
                                  "number": contact.phone, "type": "voice"})
    for location in organization.locations:
        _location_rows(location, org_id, rows)
    for service in organization.services:
        service_id = service.hsds_id
        rows["service"].append(service_row(service, org_id))
        rows["language"].extend(_language("service_id", service_id, code)
                                for code in sorted(organization.language_codes))
        rows["attribute"].append(_attribute(service_id, "service",
                                            category_term_id(service.category.code)))
        rows["attribute"].extend(_attribute(service_id, "service", open_eligibility_term_id(path))
                                 for path in open_eligibility_paths(service.category.code))
        rows["service_at_location"].extend(
            {"id": service_at_location_id(service_id, location.hsds_id), "service_id": service_id,
             "location_id": location.hsds_id} for location in organization.locations)
        rows["service_area"].extend(service_area_rows(service))
    if not organization.services:
        for location in organization.locations:
            rows["language"].extend(_language("location_id", location.hsds_id, code)
                                    for code in sorted(organization.language_codes))
    rows["attribute"].append(_attribute(org_id, "organization",
                                        code_term_id(KINDS, kind_code(organization.kind))))
    rows["attribute"].extend(
        _attribute(org_id, "organization", code_term_id(POPULATIONS, population_code(code)))
        for code in sorted(organization.population_codes))
    rows["attribute"].append(_attribute(org_id, "organization",
                                        code_term_id(FLAGS, ACCEPTING_REFERRALS),
                                        "true" if organization.accepting_referrals else "false"))
    return rows


def exported_organizations(batch_size: int = BATCH_SIZE) -> Iterator[Organization]:
    """Active organizations (the listed ones) in HSDS id order, loaded a batch at a time; the
    session's identity map holds them weakly, so an export of 100,000 listings keeps about
    one batch in memory."""
    last = ""
    while True:
        batch = list(db_session.scalars(
            select(Organization)
            .where(Organization.status == MembershipStatus.ACTIVE, Organization.hsds_id > last)
            .order_by(Organization.hsds_id).limit(batch_size)
            .options(selectinload(Organization.locations).selectinload(Location.hours),
                     selectinload(Organization.services), selectinload(Organization.contacts),
                     selectinload(Organization.coverage_areas).selectinload(CoverageArea.services),
                     selectinload(Organization.languages),
                     selectinload(Organization.populations))
        ))
        if not batch:
            return
        yield from batch
        last = batch[-1].hsds_id


def count_exported() -> int:
    return db_session.scalar(select(func.count()).where(
        Organization.status == MembershipStatus.ACTIVE)) or 0


class CsvPackageWriter:
    """The tabular package: one CSV per HSDS table (header only when empty), with every column
    of the table in the descriptor's order, and the descriptor itself."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._files: list[IO[str]] = []
        self._writers: dict[str, SafeDictWriter] = {}
        for table in spec.tables().values():
            handle = (directory / table.path).open("w", newline="", encoding="utf-8")
            self._files.append(handle)
            # Text that a spreadsheet would run as a formula gets a leading ' (safecsv.py).
            writer = SafeDictWriter(handle, table.field_names, extrasaction="raise",
                                    numeric_fields=[field.name for field in table.fields
                                                    if field.type == "number"])
            writer.writeheader()
            self._writers[table.name] = writer

    def write(self, rows: Rows) -> None:
        for table, items in rows.items():
            self._writers[table].writerows(items)

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        (self.directory / "datapackage.json").write_text(
            json.dumps(spec.descriptor(), indent=4, ensure_ascii=False) + "\n", encoding="utf-8")


_CHILDREN: dict[str, list[tuple[str, str, str]]] = {
    # parent table -> (key in the JSON object, child table, child column naming the parent)
    "organization": [("phones", "phone", "organization_id"), ("contacts", "contact",
                     "organization_id"), ("locations", "location", "organization_id"),
                     ("services", "service", "organization_id")],
    "contact": [("phones", "phone", "contact_id")],
    "location": [("addresses", "address", "location_id"), ("schedules", "schedule",
                 "location_id"), ("languages", "language", "location_id")],
    "service": [("languages", "language", "service_id"), ("service_areas", "service_area",
                "service_id"), ("service_at_locations", "service_at_location", "service_id")],
}


Children = dict[str, list[tuple[str, str, str]]]
Attributes = dict[str, list[dict[str, Any]]]


def attributes_by_link(rows: Rows, terms: dict[str, dict[str, Any]],
                       taxonomies: dict[str, dict[str, Any]]) -> Attributes:
    """Each row's attributes (by the row's id), with their taxonomy term and its taxonomy."""
    attributes: Attributes = defaultdict(list)
    for attribute in rows.get("attribute", []):
        term = dict(terms[attribute["taxonomy_term_id"]])
        term["taxonomy_detail"] = taxonomies[term["taxonomy_id"]]
        attributes[attribute["link_id"]].append({**attribute, "taxonomy_term": term})
    return attributes


def nest(rows: Rows, table: str, row: dict[str, Any], attributes: Attributes,
         children: Children = _CHILDREN) -> dict[str, Any]:
    """``row`` of ``table`` as an HSDS object: its ``children`` inside it, recursively, and
    its attributes."""
    item = dict(row)
    for key, child_table, column in children.get(table, []):
        nested = [nest(rows, child_table, child, attributes, children)
                  for child in rows.get(child_table, []) if child.get(column) == row["id"]]
        if nested:
            item[key] = nested
    if row["id"] in attributes:
        item["attributes"] = attributes[row["id"]]
    return item


def nest_organization(rows: Rows, terms: dict[str, dict[str, Any]],
                      taxonomies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One organization's rows as a full HSDS organization object (the JSON form): children
    inside their parents, each attribute with its taxonomy term and that term's taxonomy."""
    return nest(rows, "organization", rows["organization"][0],
                attributes_by_link(rows, terms, taxonomies))


class JsonWriter:
    """The JSON form: one HSDS page (the API's paginated envelope) holding every organization,
    written as it goes."""

    def __init__(self, stream: IO[str], total: int, taxonomy: Rows) -> None:
        self.stream = stream
        self.terms = {term["id"]: term for term in taxonomy["taxonomy_term"]}
        self.taxonomies = {item["id"]: item for item in taxonomy["taxonomy"]}
        self.first = True
        envelope = {"total_items": total, "total_pages": 1, "page_number": 1, "size": total,
                    "first_page": True, "last_page": True, "empty": total == 0}
        stream.write(json.dumps(envelope, ensure_ascii=False)[:-1] + ', "contents": [\n')

    def write(self, rows: Rows) -> None:
        if not self.first:
            self.stream.write(",\n")
        self.first = False
        self.stream.write(json.dumps(nest_organization(rows, self.terms, self.taxonomies),
                                     ensure_ascii=False))

    def close(self) -> None:
        self.stream.write("\n]}\n")
