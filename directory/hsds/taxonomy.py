"""The taxonomies the directory writes into HSDS, and how imported taxonomy terms map back.

HSDS classifies through attributes: a row linking an organization, service or location to a
taxonomy term. The directory publishes five taxonomies of its own (service categories,
organization kinds, populations served, listing flags) plus the Open Eligibility terms its
service categories map to (seed/hsds_taxonomy.csv, documented in docs/hsds.md). Every
identifier is a name-based UUID, so the same directory always exports the same ids.
"""

from __future__ import annotations

import csv
import functools
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from directory.config import PROJECT_ROOT
from directory.db import db_session
from directory.orgs.models import (
    KIND_LABELS,
    POPULATION_LABELS,
    OrganizationKind,
    Population,
    ServiceCategory,
)

MAPPING_PATH = PROJECT_ROOT / "seed" / "hsds_taxonomy.csv"
NAMESPACE = uuid.UUID("8f4b2c1e-5a7d-4e36-9b0c-3d2e1f6a7b58")


def stable_id(*parts: str) -> str:
    """A UUID derived from ``parts``: the same inputs give the same id in every export."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


@dataclass(frozen=True, slots=True)
class Taxonomy:
    key: str
    name: str
    description: str

    @property
    def id(self) -> str:
        return stable_id("taxonomy", self.key)


SERVICES = Taxonomy("services", "Partner directory service categories",
                    "The services taxonomy of the anti-trafficking partner directory "
                    "(seed/taxonomy.csv).")
KINDS = Taxonomy("kinds", "Partner directory organization kinds",
                 "What kind of provider an organization is: law enforcement, nonprofit, "
                 "faith-based, government, healthcare, legal, tribal or other.")
POPULATIONS = Taxonomy("populations", "Partner directory populations served",
                       "The groups of people an organization serves.")
FLAGS = Taxonomy("flags", "Partner directory listing flags",
                 "Facts about a listing that change how it may be used or shown.")
OPEN_ELIGIBILITY = Taxonomy("open-eligibility", "Open Eligibility",
                            "The Open Eligibility human services taxonomy (CC BY-SA 3.0), by "
                            "term name; the directory maps its service categories to it.")
OWN_TAXONOMIES = (SERVICES, KINDS, POPULATIONS, FLAGS)

ACCEPTING_REFERRALS = "flag:accepting_referrals"
CONFIDENTIAL = "flag:confidential"
_FLAG_TERMS = {
    ACCEPTING_REFERRALS: ("Accepting referrals",
                          "Whether the organization accepts new referrals now: the attribute "
                          "value is true or false."),
    CONFIDENTIAL: ("Confidential location",
                   "A shelter or safe house: its name, street address and postal code are "
                   "withheld and its coordinates are those of its city's centre."),
}


@dataclass(frozen=True, slots=True)
class Term:
    id: str
    code: str | None
    name: str
    description: str
    taxonomy: Taxonomy
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class MappingRow:
    """One line of seed/hsds_taxonomy.csv: a directory category and its Open Eligibility term."""

    code: str
    term: str
    path: str
    relation: str
    import_target: bool


@functools.cache
def mapping(path: Path = MAPPING_PATH) -> tuple[MappingRow, ...]:
    with path.open(newline="", encoding="utf-8") as handle:
        return tuple(
            MappingRow(code=row["code"], term=row["open_eligibility_term"],
                       path=row["open_eligibility_path"], relation=row["relation"],
                       import_target=row["import_target"] == "yes")
            for row in csv.DictReader(handle)
        )


def category_term_id(code: str) -> str:
    return stable_id("term", SERVICES.key, code)


def open_eligibility_term_id(path: str) -> str:
    return stable_id("term", OPEN_ELIGIBILITY.key, path)


def kind_code(kind: OrganizationKind) -> str:
    return f"kind:{kind.value}"


def population_code(population: Population) -> str:
    return f"population:{population.value}"


def code_term_id(taxonomy: Taxonomy, code: str) -> str:
    return stable_id("term", taxonomy.key, code)


def fixed_terms() -> list[Term]:
    """The terms that do not depend on the database: kinds, populations, flags, Open
    Eligibility."""
    terms = [Term(code_term_id(KINDS, kind_code(kind)), kind_code(kind), label,
                  f"Organization kind: {label}.", KINDS)
             for kind, label in KIND_LABELS.items()]
    terms += [Term(code_term_id(POPULATIONS, population_code(population)),
                   population_code(population), label, f"Population served: {label}.",
                   POPULATIONS)
              for population, label in POPULATION_LABELS.items()]
    terms += [Term(code_term_id(FLAGS, code), code, name, description, FLAGS)
              for code, (name, description) in _FLAG_TERMS.items()]
    seen: set[str] = set()
    for row in mapping():
        if row.term and row.path not in seen:
            seen.add(row.path)
            terms.append(Term(open_eligibility_term_id(row.path), None, row.term,
                              f"Open Eligibility: {row.path}.", OPEN_ELIGIBILITY))
    return terms


def open_eligibility_paths(code: str) -> list[str]:
    """The Open Eligibility terms (by path) that a directory category is exported with."""
    return [row.path for row in mapping() if row.code == code and row.path]


@dataclass(frozen=True, slots=True)
class Meaning:
    """What an imported taxonomy term means to the directory. ``rank`` orders competing
    service categories: the directory's own code (0) over Open Eligibility (1) over a
    category name (2)."""

    kind: str  # "service", "kind", "population" or "flag"
    value: str
    rank: int = 0


class TermResolver:
    """Reads imported taxonomy terms: the directory's own by taxonomy and code, others by
    Open Eligibility term name or by category name."""

    def __init__(self, categories: dict[str, str], taxonomies: dict[str, dict[str, Any]]) -> None:
        self.categories = categories
        own_names = {taxonomy.name.casefold(): taxonomy for taxonomy in OWN_TAXONOMIES}
        self._own_by_id = {taxonomy.id: taxonomy for taxonomy in OWN_TAXONOMIES}
        for taxonomy_id, row in taxonomies.items():
            match = own_names.get(str(row.get("name", "")).casefold())
            if match is not None:
                self._own_by_id[taxonomy_id] = match
        self._own_by_name = own_names
        self._open_eligibility = {row.term.casefold(): row.code
                                  for row in mapping() if row.import_target}
        self._category_names = {name.casefold(): code for code, name in categories.items()}
        self._meanings: dict[str, Meaning | None] = {}

    def _own_taxonomy(self, term: dict[str, Any]) -> Taxonomy | None:
        by_id = self._own_by_id.get(str(term.get("taxonomy_id", "")))
        return by_id or self._own_by_name.get(str(term.get("taxonomy", "")).casefold())

    def meaning(self, term: dict[str, Any]) -> Meaning | None:
        """What ``term`` means, worked out once per term (attributes repeat terms a lot)."""
        key = str(term.get("id"))
        if key not in self._meanings:
            self._meanings[key] = self._meaning(term)
        return self._meanings[key]

    def _meaning(self, term: dict[str, Any]) -> Meaning | None:
        code = str(term.get("code", ""))
        own = self._own_taxonomy(term)
        if own is SERVICES and code in self.categories:
            return Meaning("service", code)
        if own is KINDS and code.removeprefix("kind:") in OrganizationKind._value2member_map_:
            return Meaning("kind", code.removeprefix("kind:"))
        if own is POPULATIONS and code.removeprefix("population:") in Population._value2member_map_:
            return Meaning("population", code.removeprefix("population:"))
        if own is FLAGS and code in _FLAG_TERMS:
            return Meaning("flag", code)
        name = str(term.get("name", "")).casefold()
        if name in self._open_eligibility:
            return Meaning("service", self._open_eligibility[name], rank=1)
        if name in self._category_names:
            return Meaning("service", self._category_names[name], rank=2)
        return None

    def category_by_name(self, name: str) -> str | None:
        return self._category_names.get(name.casefold())


def service_categories() -> list[ServiceCategory]:
    """The directory's service categories, by code."""
    return list(db_session.scalars(select(ServiceCategory).order_by(ServiceCategory.code)))
