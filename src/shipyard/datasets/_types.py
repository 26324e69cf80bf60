"""Declared column types, and casting a column to a type with the first bad value found.

Two things cast columns: ``column_types`` a user declares on upload, and making a
file agree with the dataset it is appended to (or the other files of one upload).
Both go through :func:`cast_to`, which either returns the converted column or
raises :class:`BadValue` pointing at the first value that does not convert, or
:class:`Incompatible` when the two types have nothing to do with each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from shipyard.errors import InvalidRequest

#: The types a user may declare for a column, by name.
DECLARED_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}
_ALIASES = {
    "int": "int64", "integer": "int64", "float": "float64", "double": "float64",
    "str": "string", "text": "string", "boolean": "bool", "datetime": "timestamp",
}
_TRUE = ("1", "true", "t", "yes", "y")
_FALSE = ("0", "false", "f", "no", "n")
#: A time of day followed by a UTC offset: "…10:00:00Z", "…10:00+02:00".
ZONED_TIME = r"\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$"
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class BadValue(Exception):
    """The value at ``index`` does not convert to the target type."""

    def __init__(self, index: int, value: Any) -> None:
        super().__init__(index, value)
        self.index = index
        self.value = value


class Incompatible(Exception):
    """No value of ``source`` type can become ``target`` type."""


def parse_column_types(raw: object) -> dict[str, pa.DataType]:
    """Validate a ``column_types`` object (column → type name) into Arrow types.

    Raises:
        InvalidRequest: not an object of strings, or a type name Shipyard does not know.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidRequest(
            'column_types must be a JSON object such as {"tenure": "int64"}; '
            f"got {type(raw).__name__}."
        )
    out: dict[str, pa.DataType] = {}
    for column, name in raw.items():
        key = _ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
        if not isinstance(name, str) or key not in DECLARED_TYPES:
            raise InvalidRequest(
                f"column_types gives column {column!r} the type {name!r}; "
                f"use one of {', '.join(DECLARED_TYPES)}."
            )
        out[str(column)] = DECLARED_TYPES[key]
    return out


def type_name(t: pa.DataType) -> str:
    """The declared-type name of ``t`` when it has one (``int64``, ``timestamp``…), else Arrow's."""
    for name, declared in DECLARED_TYPES.items():
        if t == declared:
            return name
    return str(t)


def _is_string(t: pa.DataType) -> bool:
    return bool(pat.is_string(t) or pat.is_large_string(t))


def _first_failure(arr: pa.Array, convert: Callable[[pa.Array], pa.Array]) -> int:
    """Index of the first value ``convert`` refuses (``convert(arr)`` is known to fail)."""
    lo, hi = 0, len(arr)  # arr[:lo] converts; arr[lo:hi] holds a failure
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(arr.slice(lo, mid - lo))
        except _ARROW_ERRORS:
            hi = mid
        else:
            lo = mid
    return lo


def _checked(arr: pa.Array, convert: Callable[[pa.Array], pa.Array]) -> pa.Array:
    try:
        return convert(arr)
    except _ARROW_ERRORS:
        index = _first_failure(arr, convert)
        raise BadValue(index, arr[index].as_py()) from None


def _blank_to_null(arr: pa.Array) -> pa.Array:
    """Trimmed strings, with empty ones as missing (an empty cell means "no value")."""
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, arr.type), trimmed)


def _parse_int(arr: pa.Array) -> pa.Array:
    try:
        return pc.cast(arr, pa.int64())
    except _ARROW_ERRORS:
        # "3.0" (how pandas writes integers in a column with gaps) is still the integer 3;
        # "3.5" is refused by the safe cast.
        return pc.cast(pc.cast(arr, pa.float64()), pa.int64())


def _parse_bool(arr: pa.Array) -> pa.Array:
    low = pc.utf8_lower(arr)
    is_true = pc.is_in(low, value_set=pa.array(_TRUE))
    is_false = pc.is_in(low, value_set=pa.array(_FALSE))
    bad = pc.and_(pc.is_valid(arr), pc.invert(pc.or_(is_true, is_false)))
    if pc.any(bad).as_py():
        index = pc.index(bad, True).as_py()
        raise BadValue(index, arr[index].as_py())
    return pc.if_else(pc.is_valid(arr), is_true, pa.scalar(None, pa.bool_()))


def _parse_timestamp(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """ISO 8601 text to ``target``; values with a UTC offset are converted to UTC."""
    zoned = pc.fill_null(pc.match_substring_regex(arr, ZONED_TIME), False)
    none = pa.scalar(None, arr.type)
    aware = pc.cast(pc.if_else(zoned, arr, none), pa.timestamp("us", tz="UTC"))
    naive = pc.cast(pc.if_else(zoned, none, arr), pa.timestamp("us"))
    # A tz-aware value cast to naive keeps its UTC wall-clock time.
    merged = pc.if_else(zoned, pc.cast(aware, pa.timestamp("us")), naive)
    if target.tz is not None:
        merged = pc.assume_timezone(merged, "UTC")
    return pc.cast(merged, target)


def _parse_date(arr: pa.Array) -> pa.Array:
    try:
        return pc.cast(arr, pa.date32())
    except _ARROW_ERRORS:
        return pc.cast(pc.cast(arr, pa.timestamp("us")), pa.date32(), safe=False)


def _from_string(arr: pa.Array, target: pa.DataType) -> pa.Array:
    arr = _blank_to_null(arr)
    if pat.is_integer(target):
        return _checked(arr, lambda a: pc.cast(_parse_int(a), target))
    if pat.is_floating(target):
        return _checked(arr, lambda a: pc.cast(a, target))
    if pat.is_boolean(target):
        return _parse_bool(arr)
    if pat.is_timestamp(target):
        return _checked(arr, lambda a: _parse_timestamp(a, target))
    if pat.is_date(target):
        return _checked(arr, lambda a: pc.cast(_parse_date(a), target))
    raise Incompatible


def cast_to(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Convert ``arr`` to ``target`` where that keeps every value's meaning.

    Text is parsed (empty text is missing); integers widen or become floats; floats
    become integers only when whole; anything flat becomes text; timestamps change unit.

    Raises:
        BadValue: the first value that does not convert.
        Incompatible: the types cannot be converted at all (say, a list to an integer).
    """
    source = arr.type
    if source == target:
        return arr
    if pat.is_null(source):
        return pa.nulls(len(arr), target)
    if _is_string(target):
        if pat.is_nested(source) or pat.is_binary(source) or pat.is_dictionary(source):
            raise Incompatible
        return _checked(arr, lambda a: pc.cast(a, target))
    if _is_string(source):
        return _from_string(arr, target)
    if pat.is_boolean(target):
        if pat.is_integer(source):
            return _from_string(pc.cast(arr, pa.string()), target)
        raise Incompatible
    numeric = pat.is_integer(source) or pat.is_floating(source)
    if (pat.is_integer(target) or pat.is_floating(target)) and numeric:
        return _checked(arr, lambda a: pc.cast(a, target))
    if pat.is_timestamp(target) and (pat.is_timestamp(source) or pat.is_date(source)):
        if pat.is_timestamp(source) and (source.tz is None) != (target.tz is None):
            arr = pc.assume_timezone(arr, "UTC") if target.tz else pc.cast(
                arr, pa.timestamp(source.unit))
        return _checked(arr, lambda a: pc.cast(a, target))
    if pat.is_date(target) and (pat.is_timestamp(source) or pat.is_date(source)):
        return _checked(arr, lambda a: pc.cast(a, target))
    raise Incompatible
