"""A report table as a CSV file: the same suppressed cells the page shows, formula-safe.

The header's first line names each column, the second the measure it serves; a hidden count
is written "fewer than N", a rate or time not shown is left empty.
"""

from __future__ import annotations

import io

from flask_babel import gettext as _

from directory.reports.tables import HIDDEN, Cell, ColumnKind, Table
from directory.safecsv import SafeDictWriter


def _value(cell: Cell, kind: ColumnKind, min_count: int) -> str | int | float:
    if cell is HIDDEN:
        return _("fewer than %(count)s", count=min_count)
    if cell is None:
        return ""
    if kind == ColumnKind.RATE:
        return round(float(cell), 4)
    if kind == ColumnKind.HOURS:
        return round(float(cell), 2)
    return cell  # type: ignore[return-value]


def table_csv(table: Table, min_count: int) -> str:
    names = [str(table.row_header), *(str(column.label) for column in table.columns)]
    handle = io.StringIO()
    writer = SafeDictWriter(handle, names)
    writer.writeheader()
    writer.writerow(dict(zip(names, [_("measure"),
                                     *(str(c.measure or c.label) for c in table.columns)],
                             strict=True)))
    rows = [*table.rows, *([table.totals] if table.totals else [])]
    for row in rows:
        cells = [_value(cell, column.kind, min_count)
                 for cell, column in zip(row.cells, table.columns, strict=True)]
        writer.writerow(dict(zip(names, [str(row.label), *cells], strict=True)))
    return handle.getvalue()
