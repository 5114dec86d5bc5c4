"""The HSDS 3.0 tables and fields, read from Open Referral's own data package descriptor.

`standard/3.0/datapackage.json` is the descriptor published with HSDS 3.0 (CC BY-SA 4.0; see
`standard/SOURCE.txt` and `standard/LICENSE`), shipped with the package together with the
standard's JSON schemas, API reference and examples, so that export, import, the HSDS API and
the tests never need the network or anything outside the repository. The export writes it as
the package's descriptor; the import checks every row against its field definitions.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from directory.safecsv import QUOTE, unescape_cell

STANDARD_PATH = Path(__file__).with_name("standard") / "3.0"
DESCRIPTOR_PATH = STANDARD_PATH / "datapackage.json"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHARED_LENGTH = 32
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:([0-5]\d)(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    format: str | None
    required: bool
    enum: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Table:
    """One HSDS table: ``name`` is the resource name ("service"), ``path`` its CSV file."""

    name: str
    path: str
    fields: tuple[Field, ...]

    @property
    def field_names(self) -> list[str]:
        return [field.name for field in self.fields]


@functools.cache
def descriptor() -> dict[str, Any]:
    return json.loads(DESCRIPTOR_PATH.read_text(encoding="utf-8"))


@functools.cache
def tables() -> dict[str, Table]:
    """Every HSDS table by resource name, in the descriptor's order."""
    result: dict[str, Table] = {}
    for resource in descriptor()["resources"]:
        fields = tuple(
            Field(name=item["name"], type=item["type"], format=item.get("format"),
                  required=bool(item.get("constraints", {}).get("required")),
                  enum=tuple(item["constraints"]["enum"])
                  if "enum" in item.get("constraints", {}) else None)
            for item in resource["schema"]["fields"]
        )
        result[resource["name"]] = Table(resource["name"], resource["path"], fields)
    return result


def normalize_uuid(value: str) -> str | None:
    """The canonical lower-case form of a hyphenated UUID, or None when it is not one."""
    lowered = value.strip().lower()
    return lowered if _UUID.match(lowered) else None


def parse_time(value: str) -> dt.time | None:
    """'09:00', '09:00:00' or '09:00:00-05:00' -> 09:00 (seconds and offsets dropped)."""
    match = _TIME.match(value.strip())
    if match is None:
        return None
    return dt.time(int(match.group(1)), int(match.group(2)))


def _check_value(field: Field, value: Any) -> tuple[Any, str | None]:
    """The value in the field's Python form (str or float), or a message saying what is wrong."""
    if isinstance(value, dict | list):
        return None, _("%(field)s must be a single value", field=field.name)
    if field.type == "number":
        if isinstance(value, bool):
            return None, _("%(field)s must be a number", field=field.name)
        try:
            number = float(value)
        except ValueError:
            return None, _("%(field)s must be a number, not %(value)s", field=field.name,
                           value=repr(value))
        if not math.isfinite(number):
            return None, _("%(field)s must be a finite number", field=field.name)
        return number, None
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if field.format == "uuid":
        canonical = normalize_uuid(text)
        if canonical is None:
            return None, _("%(field)s is not a UUID: %(value)s", field=field.name,
                           value=repr(text))
        return canonical, None
    if field.enum is not None:
        if text not in field.enum:
            return None, _("%(field)s must be one of %(choices)s, not %(value)s",
                           field=field.name, choices=", ".join(field.enum), value=repr(text))
        return field.enum[field.enum.index(text)], None
    if field.type == "time" and parse_time(text) is None:
        return None, _("%(field)s must be a time such as 09:00:00, not %(value)s",
                       field=field.name, value=repr(text))
    if field.type == "date":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return None, _("%(field)s must be a date such as 2024-01-31, not %(value)s",
                           field=field.name, value=repr(text))
    if field.type == "datetime":
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            return None, _("%(field)s must be a date and time, not %(value)s",
                           field=field.name, value=repr(text))
    return text, None


_Check = Callable[[Any], tuple[Any, str | None]]


def _plain_text(field: Field) -> bool:
    """Whether any text is a valid value of the field."""
    return field.type == "string" and field.enum is None and field.format in (
        None, "default", "email", "uri")


def _checker(field: Field) -> _Check:
    """``_check_value`` for one field, with its plain-text cases decided once for the field
    rather than once per row (a package holds millions of values)."""
    def general(value: Any) -> tuple[Any, str | None]:
        return _check_value(field, value)

    if field.type == "string" and field.enum is None and field.format == "uuid":
        def uuid_text(value: Any) -> tuple[Any, str | None]:
            if type(value) is not str:
                return general(value)
            lowered = value.lower()  # already stripped by check_row
            if _UUID.match(lowered):
                return lowered, None
            return None, _("%(field)s is not a UUID: %(value)s", field=field.name,
                           value=repr(value))
        return uuid_text
    if _plain_text(field):
        def plain_text(value: Any) -> tuple[Any, str | None]:
            return (value, None) if type(value) is str else general(value)
        return plain_text
    return general


_PLANS: dict[int, tuple[Table, tuple[tuple[str, bool, _Check], ...]]] = {}


def _plan(table: Table) -> tuple[tuple[str, bool, _Check], ...]:
    # Looked up by identity (the table is kept with its plan, so its id is not reused): a
    # Table's own hash walks all its fields, once per row a sixth of the reading.
    entry = _PLANS.get(id(table))
    if entry is None or entry[0] is not table:
        entry = _PLANS[id(table)] = (table, tuple((field.name, field.required, _checker(field))
                                                  for field in table.fields))
    return entry[1]


def check_row(table: Table, raw: dict[str, Any],
              keep: frozenset[str]) -> tuple[dict[str, Any], list[str]]:
    """Check one row against its table's field definitions.

    Returns the non-empty values of the ``keep`` fields, converted, and the problems found
    in any field (a missing required value, a malformed UUID, number, time or date, a value
    outside an enumeration).
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, required, check in _plan(table):
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if required:
                problems.append(_("%(field)s is required", field=name))
            continue
        converted, problem = check(value)
        if problem:
            problems.append(problem)
        elif name in keep:
            if type(converted) is str and len(converted) <= _SHARED_LENGTH:
                converted = sys.intern(converted)  # "Main office", "TX", "es"... repeat a lot
            values[name] = converted
    return values, problems


def _finite_number(text: str, finite: Callable[[float], bool]) -> bool:
    try:
        return finite(float(text))
    except ValueError:
        return False


def record_checker(table: Table, header: list[str],
                   keep: frozenset[str]) -> Callable[[list[str]], tuple[dict[str, Any], list[str]]]:
    """``check_row`` for the CSV records of one file with this ``header`` (a record of as many
    cells, each unescaped as ``unescape_cell`` does): the same values and problems, with what
    is constant per file decided once. A column is looked up by position (the last of a
    repeated name, as a dict of the cells would); a field that is neither kept nor required
    and takes any text is not looked at (it cannot be wrong), and kept plain text is taken
    as it is."""
    positions = {name: position for position, name in enumerate(header)}
    steps: list[tuple[str, int | None, bool, _Check | None, bool, str, frozenset[str]]] = []
    for (name, required, check), field in zip(_plan(table), table.fields, strict=True):
        position = positions.get(name)
        kept = name in keep
        if position is None:
            if required:
                steps.append((name, None, True, None, False, "", frozenset()))
            continue
        if _plain_text(field):
            if not (required or kept):
                continue
            steps.append((name, position, required, None, kept, "", frozenset()))
            continue
        # How _check_value reads a text of the field; a value it refuses is handed to it
        # (through ``check``) for its message.
        if field.type == "number":
            kind = "number"
        elif field.format == "uuid":
            kind = "uuid" if field.enum is None else ""
        elif field.enum is not None:
            kind = "enum"
        else:
            kind = ""
        steps.append((name, position, required, check, kept, kind,
                      frozenset(field.enum or ())))
    intern, shared, uuid_match, finite = sys.intern, _SHARED_LENGTH, _UUID.match, math.isfinite

    def check_record(record: list[str]) -> tuple[dict[str, Any], list[str]]:
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, position, required, check, kept, kind, choices in steps:
            if position is None:
                problems.append(_("%(field)s is required", field=name))
                continue
            value = record[position]
            if value[:1] == QUOTE:
                value = unescape_cell(value)
            value = value.strip()
            if not value:
                if required:
                    problems.append(_("%(field)s is required", field=name))
                continue
            if check is None:
                converted = value
            elif kind == "uuid":  # _checker's uuid_text, inline: most cells are ids
                converted = value.lower()
                if not uuid_match(converted):
                    problems.append(_("%(field)s is not a UUID: %(value)s", field=name,
                                      value=repr(value)))
                    continue
            elif kind == "enum" and value in choices:
                converted = value
            elif kind == "number" and _finite_number(value, finite):
                converted = float(value)
            else:
                converted, problem = check(value)
                if problem:
                    problems.append(problem)
                    continue
            if kept:
                if type(converted) is str and len(converted) <= shared:
                    converted = intern(converted)
                values[name] = converted
        return values, problems

    return check_record
