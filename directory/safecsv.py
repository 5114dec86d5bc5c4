"""CSV files that a spreadsheet opens as data, never as formulas (CSV injection).

Excel, LibreOffice Calc and Google Sheets take a cell that begins with ``= + - @`` as a
formula (``=HYPERLINK(...)``, ``@SUM(1+1)*cmd|...``), and skip a leading tab or carriage
return before looking. Every CSV the application writes goes through ``SafeDictWriter``: a
text cell that begins with one of those characters is written with a ``'`` in front, which
spreadsheets show as plain text. ``unescape_cell`` takes exactly that prefix off again, so
that an import reads back what the export wrote.

The rule is a bijection on text: a cell is prefixed when it is any number of ``'`` followed by
a trigger character (so ``'=x`` is written ``''=x``), and the reader removes one ``'`` from a
cell of that same shape with one more ``'``. Numbers are written as they are: a longitude of
-97.7 is a number to a spreadsheet (no formula) and to the HSDS schema.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Mapping
from typing import IO, Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _formula_like(text: str) -> bool:
    return text.lstrip(QUOTE).startswith(TRIGGERS)


def escape_cell(value: Any, *, numeric: bool = False) -> Any:
    """``value`` as a spreadsheet may safely read it; ``numeric``: the column holds numbers,
    and a number written as text (``"-97.7"``) stays a number."""
    if not isinstance(value, str) or not _formula_like(value):
        return value
    if numeric and _NUMBER.fullmatch(value):
        return value
    return QUOTE + value


def unescape_cell(text: str) -> str:
    """The cell as it was before ``escape_cell``: one ``'`` less on a formula-like cell."""
    if text.startswith(QUOTE) and _formula_like(text[1:]):
        return text[1:]
    return text


class SafeDictWriter:
    """``csv.DictWriter`` whose cells pass through ``escape_cell``; ``numeric_fields`` names
    the columns that hold numbers."""

    def __init__(self, handle: IO[str], fieldnames: list[str], *,
                 numeric_fields: Collection[str] = (), **options: Any) -> None:
        self._writer = csv.DictWriter(handle, fieldnames=fieldnames, **options)
        self._numeric = frozenset(numeric_fields)

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow(self._safe(row))

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._writer.writerows(self._safe(row) for row in rows)

    def _safe(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {name: escape_cell(value, numeric=name in self._numeric)
                for name, value in row.items()}
