"""Small-number suppression of count tables, with complementary suppression.

A count from 1 to ``min_count - 1`` (``DIRECTORY_REPORT_MIN_COUNT``, default 5) is shown as
"fewer than N" unless it is the viewer's own organization's. Hiding it alone is not enough
where a table prints totals: the total minus the other cells of its row or column gives it
back. So every line that sums to a printed total ends with either no hidden cell or at least
two; the second one hidden ("complementary") is the smallest positive cell of the line that is
not the viewer's own, which may be the line's total itself. Zeros stay shown: a zero reveals
nobody.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

OTHER = "__other__"


@dataclass(frozen=True)
class Grid:
    """A suppressed table: ``None`` marks a hidden cell. ``row_totals``/``column_totals`` are
    empty when the table prints none; ``total`` is None when hidden or not printed."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None


def shown(value: int, min_count: int, *, own: bool = False) -> int | None:
    """``value``, or None where it is a small count that is not the viewer's own."""
    return value if own or value == 0 or value >= min_count else None


def suppress(values: Sequence[Sequence[int]], min_count: int, *,
             own_rows: Collection[int] = (), own_columns: Collection[int] = (),
             row_totals: bool = True, column_totals: bool = True) -> Grid:
    """Suppress ``values`` (rows x columns) and the totals printed with it."""
    rows, columns = len(values), len(values[0]) if values else 0
    # The table extended by its totals: a last column of row sums, a last row of column sums.
    extended = [list(row) + ([sum(row)] if row_totals else []) for row in values]
    if column_totals:
        extended.append([sum(row[j] for row in extended) for j in range(len(extended[0]))]
                        if extended else [0])
    height, width = len(extended), len(extended[0]) if extended else 0

    def own(i: int, j: int) -> bool:
        return (i < rows and i in own_rows) or (j < columns and j in own_columns)

    hidden = {(i, j) for i in range(height) for j in range(width)
              if shown(extended[i][j], min_count, own=own(i, j)) is None}
    lines: list[list[tuple[int, int]]] = []
    if row_totals:
        lines += [[(i, j) for j in range(width)] for i in range(height)]
    if column_totals:
        lines += [[(i, j) for i in range(height)] for j in range(width)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(cell in hidden for cell in line) != 1:
                continue
            candidates = [cell for cell in line if cell not in hidden
                          and extended[cell[0]][cell[1]] > 0 and not own(*cell)]
            if candidates:
                hidden.add(min(candidates, key=lambda c: (extended[c[0]][c[1]], c)))
                changed = True

    def value(i: int, j: int) -> int | None:
        return None if (i, j) in hidden else extended[i][j]

    return Grid(
        cells=[[value(i, j) for j in range(columns)] for i in range(rows)],
        row_totals=[value(i, columns) for i in range(rows)] if row_totals else [],
        column_totals=[value(rows, j) for j in range(columns)] if column_totals else [],
        total=value(rows, columns) if row_totals and column_totals else None,
    )


def rate(numerator: int, denominator: int, min_count: int, *, own: bool = False) -> float | None:
    """``numerator / denominator``, unless either count would be suppressed."""
    if denominator == 0:
        return None
    if shown(numerator, min_count, own=own) is None or shown(denominator, min_count,
                                                                own=own) is None:
        return None
    return numerator / denominator


def group_rare(totals: dict[str, int], min_count: int, *, own: Collection[str] = (),
               limit: int | None = None) -> tuple[list[str], set[str]]:
    """Which keys keep a row of their own (the ``limit`` largest that reach ``min_count``, and
    the viewer's own), and which are grouped under "other"."""
    ranked = sorted(totals, key=lambda key: (-totals[key], key))
    kept = [key for key in ranked if key in own or totals[key] >= min_count]
    if limit is not None:
        kept = [key for key in kept if key in own] + [
            key for key in kept if key not in own][:max(0, limit - len(own))]
        kept.sort(key=lambda key: (-totals[key], key))
    grouped = set(totals) - set(kept)
    return kept, grouped


def suppress_with_known_total(values: Sequence[int], min_count: int) -> list[int | None]:
    """Suppress a breakdown whose total the viewer knows anyway (an organization's own number
    of referrals received, in its inbox): the small counts are hidden, and where that leaves a
    single hidden cell a second one is hidden too, the smallest other positive one, else the
    first zero, since total minus the cells shown would give a lone hidden cell back."""
    hidden = {n for n, value in enumerate(values) if shown(value, min_count) is None}
    if len(hidden) == 1:
        others = [n for n in range(len(values)) if n not in hidden]
        positive = [n for n in others if values[n] > 0]
        if positive:
            hidden.add(min(positive, key=lambda n: (values[n], n)))
        elif others:
            hidden.add(others[0])
    return [None if n in hidden else value for n, value in enumerate(values)]
