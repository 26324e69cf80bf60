"""Column types and expressions that make SQLite and PostgreSQL behave the same.

* :class:`UtcDateTime`: SQLite keeps no time zone (an aware value would be stored as its
  wall-clock time and read back as if it were UTC), and PostgreSQL hands values back in
  the session's time zone. Values are converted to UTC on the way in and come back
  aware and in UTC on both.
* :func:`by_code_point`: ``ORDER BY name`` follows the database's collation on
  PostgreSQL (``en_US``: ``"a" < "B"``) but byte order on SQLite. Lists sorted by
  name use code-point order on both.
* :func:`json_dumps`: JSON has no NaN or infinity; SQLite would keep them and
  PostgreSQL refuses the whole row. Both store them as ``null``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Dialect, TypeDecorator
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always returns aware UTC values.

    A naive value is taken to be UTC already (as everything Shipyard makes is).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a value read through a raw text() query on SQLite
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _CodePoint(ColumnElement[Any]):
    """A column compared by code point (see :func:`by_code_point`)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(_CodePoint)
def _code_point_default(element: _CodePoint, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))  # SQLite compares bytes already


@compiles(_CodePoint, "postgresql")
def _code_point_postgresql(element: _CodePoint, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.column, **kw)} COLLATE "C"'


def by_code_point(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` for ORDER BY in code-point order, whatever the database's collation."""
    return _CodePoint(column)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_dumps(value: Any) -> str:
    """Serialise a JSON column's value; NaN and ±infinity become ``null`` on every backend."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False)
