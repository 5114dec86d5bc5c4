"""SQL expressions the reports need that SQLite and PostgreSQL spell differently."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ARRAY, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class utc_day(FunctionElement[str]):  # noqa: N801
    """The UTC day of a timestamp as ``YYYY-MM-DD``."""

    type = String()
    inherit_cache = True
    name = "utc_day"


class utc_month(FunctionElement[str]):  # noqa: N801
    """The UTC month of a timestamp as ``YYYY-MM``."""

    type = String()
    inherit_cache = True
    name = "utc_month"


# SQLite keeps UTC timestamps as ISO text: the day and month are prefixes of it.
@compiles(utc_day)
def _day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_month)
def _month_sqlite(element: utc_month, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 7)"


@compiles(utc_day, "postgresql")
def _day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(timezone('UTC', {compiler.process(element.clauses, **kw)}), 'YYYY-MM-DD')"


@compiles(utc_month, "postgresql")
def _month_postgresql(element: utc_month, compiler: Any, **kw: Any) -> str:
    return f"to_char(timezone('UTC', {compiler.process(element.clauses, **kw)}), 'YYYY-MM')"


class utc_quarter(FunctionElement[str]):  # noqa: N801
    """The UTC calendar quarter of a timestamp as ``YYYY-N`` (N from 1 to 4)."""

    type = String()
    inherit_cache = True
    name = "utc_quarter"


@compiles(utc_quarter)
def _quarter_sqlite(element: utc_quarter, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"(substr({value}, 1, 5) || ((CAST(substr({value}, 6, 2) AS INTEGER) + 2) / 3))"


@compiles(utc_quarter, "postgresql")
def _quarter_postgresql(element: utc_quarter, compiler: Any, **kw: Any) -> str:
    return f"to_char(timezone('UTC', {compiler.process(element.clauses, **kw)}), 'YYYY-Q')"


def quarter_key(year: int, month: int) -> str:
    """``utc_quarter``'s text for a month of a year."""
    return f"{year}-{(month + 2) // 3}"


class MedianAndP90(TypeDecorator[tuple[float, float]]):
    """The pair ``median_and_p90`` gives: an array on PostgreSQL, JSON text on SQLite."""

    impl = String()
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Float()))
        return dialect.type_descriptor(String())

    def process_result_value(self, value: Any, dialect: Any) -> tuple[float, float] | None:
        if value is None:
            return None
        median, p90 = json.loads(value) if isinstance(value, str) else value
        return float(median), float(p90)


class median_and_p90(FunctionElement[tuple[float, float]]):  # noqa: N801
    """Aggregate: the nearest-rank median and 90th percentile of a group's non-NULL values (the
    values at ranks ceil(n/2) and ceil(0.9 n)), NULL for a group without one."""

    type = MedianAndP90()
    inherit_cache = True
    name = "median_and_p90"


# percentile_disc is the nearest rank: the first value whose cumulative share reaches p. Both
# share one sort of the group.
@compiles(median_and_p90, "postgresql")
def _median_and_p90_postgresql(element: median_and_p90, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"percentile_disc(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY {value})"


# SQLite has no percentile aggregate before 3.47 (and then only when compiled in):
# ``directory.db`` registers ``NearestRanks`` below on every connection.
@compiles(median_and_p90)
def _median_and_p90_sqlite(element: median_and_p90, compiler: Any, **kw: Any) -> str:
    return f"median_and_p90({compiler.process(element.clauses, **kw)})"


class NearestRanks:
    """SQLite aggregate ``median_and_p90(value)``: the same nearest ranks, as JSON text."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> str | None:
        if not self.values:
            return None
        self.values.sort()
        n = len(self.values)
        return json.dumps([self.values[(n + 1) // 2 - 1], self.values[(9 * n + 9) // 10 - 1]])
