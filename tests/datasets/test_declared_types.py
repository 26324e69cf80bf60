"""Declared column types and casting with the first bad value found (pure)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from shipyard.datasets import parse_column_types
from shipyard.datasets._types import BadValue, Incompatible, cast_to
from shipyard.errors import InvalidRequest


def test_parse_column_types_accepts_names_and_aliases() -> None:
    got = parse_column_types({"a": "int64", "b": "Float", "c": "text", "d": "boolean",
                              "e": "datetime", "f": "date"})
    assert got == {"a": pa.int64(), "b": pa.float64(), "c": pa.string(), "d": pa.bool_(),
                   "e": pa.timestamp("us"), "f": pa.date32()}
    assert parse_column_types(None) == {}


@pytest.mark.parametrize("raw", [["int64"], {"a": "decimal"}, {"a": 5}, "int64"])
def test_parse_column_types_refuses(raw: object) -> None:
    with pytest.raises(InvalidRequest, match="column_types"):
        parse_column_types(raw)


def strings(*values: str | None) -> pa.Array:
    return pa.array(values, pa.string())


@pytest.mark.parametrize(
    ("values", "target", "expected"),
    [
        (strings(" 3", "-4", "", None, "5.0"), pa.int64(), [3, -4, None, None, 5]),
        (strings("1.5", "1e3", " "), pa.float64(), [1.5, 1000.0, None]),
        (strings("Yes", "no", "TRUE", "f", "1", "0", None), pa.bool_(),
         [True, False, True, False, True, False, None]),
        (strings("2020-01-02", "2020-01-02 03:04:05"), pa.timestamp("us"),
         [dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 2, 3, 4, 5)]),
        # An offset is honoured: the value becomes UTC wall-clock time.
        (strings("2020-01-02T03:04:05+02:00"), pa.timestamp("us"),
         [dt.datetime(2020, 1, 2, 1, 4, 5)]),
        (strings("2020-01-02"), pa.date32(), [dt.date(2020, 1, 2)]),
        (pa.array([1, 2]), pa.float64(), [1.0, 2.0]),
        (pa.array([1.0, None]), pa.int64(), [1, None]),
        (pa.array([1, 2]), pa.string(), ["1", "2"]),
        (pa.array([0, 1]), pa.bool_(), [False, True]),
        (pa.nulls(2), pa.int64(), [None, None]),
    ],
)
def test_cast_to_converts(values: pa.Array, target: pa.DataType, expected: list[object]) -> None:
    out = cast_to(values, target)
    assert out.type == target
    assert out.to_pylist() == expected


@pytest.mark.parametrize(
    ("values", "target", "index", "bad"),
    [
        (strings("1", "2", None, "abc", "x"), pa.int64(), 3, "abc"),
        (strings("1", "2.5"), pa.int64(), 1, "2.5"),
        (strings("1.5", "one"), pa.float64(), 1, "one"),
        (strings("yes", "no", "maybe"), pa.bool_(), 2, "maybe"),
        (strings("2020-01-01", "01/02/2020"), pa.timestamp("us"), 1, "01/02/2020"),
        (pa.array([1.0, 2.0, 2.5]), pa.int64(), 2, 2.5),
        (pa.array([0, 1, 2]), pa.bool_(), 2, "2"),
    ],
)
def test_cast_to_points_at_the_first_bad_value(values: pa.Array, target: pa.DataType, index: int,
                                               bad: object) -> None:
    with pytest.raises(BadValue) as err:
        cast_to(values, target)
    assert (err.value.index, err.value.value) == (index, bad)


def test_first_bad_value_in_a_long_column() -> None:
    values = [str(i) for i in range(100_000)]
    values[76_543] = "12a"
    with pytest.raises(BadValue) as err:
        cast_to(strings(*values), pa.int64())
    assert err.value.index == 76_543


@pytest.mark.parametrize(
    ("values", "target"),
    [
        (pa.array([[1, 2]]), pa.string()),
        (pa.array([1]), pa.timestamp("us")),
        (pa.array([True]), pa.int64()),
        (pa.array([dt.date(2020, 1, 1)]), pa.int64()),
    ],
)
def test_cast_to_refuses_unrelated_types(values: pa.Array, target: pa.DataType) -> None:
    with pytest.raises(Incompatible):
        cast_to(values, target)
