"""One rule for "is this value a number", wherever a number is expected.

Missing (None, NaN, the text "nan", an infinity written as text) is missing, never "not a
number"; text that reads as a number is that number; anything else is not a number.
Before, serving took the text "nan" as missing while monitoring counted it as not a
number, and an evaluate job refused a regression target holding None or "nan" with
"must hold numbers; got nan". Each place is checked against the same table here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.features._semantic import number_value, parse_numbers
from shipyard.jobs.kinds._evaluate_entry import _as_numbers
from shipyard.monitoring._common import coerce_numeric
from shipyard.serving._schema import Schema

MISSING = object()
BAD = object()

#: value → the number, MISSING, or BAD (not a number).
CASES: list[tuple[Any, Any]] = [
    (1, 1.0), (2.5, 2.5), ("3", 3.0), (" 4.5 ", 4.5), ("-1e3", -1000.0),
    (None, MISSING), (float("nan"), MISSING), ("nan", MISSING), ("NaN", MISSING),
    ("inf", MISSING), ("-Infinity", MISSING),
    ("abc", BAD), ("", BAD), ("1,5", BAD),
]


def _expect(got: float, want: Any) -> None:
    if want is MISSING:
        assert math.isnan(got)
    else:
        assert got == want


@pytest.mark.parametrize(("value", "want"), CASES)
def test_one_value(value: Any, want: Any) -> None:
    if want is BAD:
        with pytest.raises(ValueError):
            number_value(value)
    else:
        _expect(number_value(value), want)


def test_a_column() -> None:
    series = pd.Series([v for v, _ in CASES], dtype=object)
    values, bad = parse_numbers(series)
    assert bad.tolist() == [w is BAD for _, w in CASES]
    for got, (_, want) in zip(values, CASES, strict=True):
        if want is not BAD:
            _expect(float(got), want)
        else:
            assert math.isnan(got)


def test_a_numeric_column_is_its_numbers() -> None:
    values, bad = parse_numbers(pd.Series([1.0, np.nan, 3.0]))
    assert not bad.any() and values[0] == 1.0 and math.isnan(values[1])


@pytest.mark.parametrize(("value", "want"), CASES)
def test_serving_takes_the_same_values(value: Any, want: Any) -> None:
    from shipyard.serving._schema import SchemaError

    if want is BAD:
        with pytest.raises(SchemaError):
            Schema._number("x", value, 0, 1)
    else:
        _expect(Schema._number("x", value, 0, 1), want)


def test_monitoring_counts_only_what_is_not_a_number() -> None:
    series = pd.Series([v for v, _ in CASES], dtype=object)
    values, count, example = coerce_numeric(series)
    assert count == sum(w is BAD for _, w in CASES) and example == "abc"
    assert math.isnan(values[7])  # "nan": missing, not "not a number"


def test_an_evaluate_target_with_missing_values_reads_them_as_missing() -> None:
    y = pd.Series(["1.5", None, "nan", 2], dtype=object)
    values = _as_numbers(y, "price")
    assert values.iloc[0] == 1.5 and values.iloc[3] == 2.0
    assert values.iloc[1:3].isna().all()
    with pytest.raises(InvalidRequest, match="got 'abc'"):
        _as_numbers(pd.Series(["1", "abc"], dtype=object), "price")


@pytest.mark.parametrize(("series", "numeric"), [
    (pd.Series([1, 2]), True), (pd.Series([1.0, np.nan]), True),
    (pd.Series([True, False]), False), (pd.Series(["1", "2"], dtype=object), False),
    (pd.Series(["1", "2"], dtype="category"), False),
])
def test_a_column_is_numeric_by_its_dtype_alike_everywhere(series: pd.Series,
                                                           numeric: bool) -> None:
    """Numbers stored as text are parsed where a number is expected (above) but do not
    make the column numeric: training, the recipe and monitoring type it by one rule."""
    from shipyard.features._semantic import is_numeric_dtype
    from shipyard.monitoring._common import is_numeric_dtype as monitoring_rule
    from shipyard.training._problem import is_numeric_target

    assert is_numeric_dtype(series) is numeric
    assert monitoring_rule(series) is numeric and is_numeric_target(series) is numeric


def test_an_int_past_a_floats_range_is_infinite_not_an_error() -> None:
    """JSON's 1 followed by 400 zeros is a Python int that float() overflows on: the rule
    raised OverflowError, which an endpoint answered with a 500 (the hostile-input test);
    it is ±inf, which serving refuses as out of range."""
    assert number_value(10**400) == math.inf
    assert number_value(-(10**400)) == -math.inf
