"""SQL expressions the reports need that SQLite and PostgreSQL spell differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class hours_between(FunctionElement[float]):  # noqa: N801 (an SQL function's name)
    """``later - earlier`` in hours (NULL when either is NULL)."""

    type = Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between)
def _hours_sqlite(element: hours_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_postgresql(element: hours_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0)"


class utc_period(FunctionElement[str]):  # noqa: N801
    """The UTC day (``YYYY-MM-DD``) or month (``YYYY-MM``) of a timestamp, as text."""

    type = String()
    inherit_cache = True
    name = "utc_period"

    def __init__(self, column: ColumnElement[Any], length: int) -> None:
        self.length = length  # 10: a day, 7: a month
        super().__init__(column)


@compiles(utc_period)
def _period_sqlite(element: utc_period, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, {element.length})"


@compiles(utc_period, "postgresql")
def _period_postgresql(element: utc_period, compiler: Any, **kw: Any) -> str:
    pattern = "YYYY-MM-DD" if element.length == 10 else "YYYY-MM"
    return f"to_char(timezone('UTC', {compiler.process(element.clauses, **kw)}), '{pattern}')"
