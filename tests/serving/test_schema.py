"""Rows against a model's input signature: canonical values, and 422s naming the field."""

from __future__ import annotations

import math

import pytest

from shipyard.serving import Schema, SchemaError, Table

SIGNATURE = [
    {"name": "tenure", "semantic_type": "numeric"},
    {"name": "contract", "semantic_type": "categorical"},
    {"name": "paperless", "semantic_type": "boolean"},
    {"name": "customer_id", "semantic_type": "identifier", "required": False},
]
schema = Schema(SIGNATURE, target="churn")


def check(*records: dict) -> list[dict]:
    columns = tuple(dict.fromkeys(k for r in records for k in r))
    return schema.check(Table(columns, list(records)))


def test_values_become_canonical() -> None:
    rows = check({"tenure": 3, "contract": "One year", "paperless": "Yes", "churn": "No"},
                 {"tenure": "4.5", "contract": 7, "paperless": False},
                 {"tenure": None, "contract": None, "paperless": None})
    assert rows[0] == {"tenure": 3.0, "contract": "One year", "paperless": 1.0}
    assert rows[1] == {"tenure": 4.5, "contract": "7", "paperless": 0.0}
    assert math.isnan(rows[2]["tenure"]) and rows[2]["contract"] is None
    assert math.isnan(rows[2]["paperless"])


@pytest.mark.parametrize(("record", "field", "words"), [
    ({"contract": "x", "paperless": "no"}, "tenure", "Column 'tenure' is missing"),
    ({"tenure": 1, "contract": "x", "paperless": "no", "colour": 1}, "colour",
     "Unknown column 'colour'"),
    ({"tenure": "abc", "contract": "x", "paperless": "no"}, "tenure", "must be numeric"),
    ({"tenure": 1, "contract": "x", "paperless": "maybe"}, "paperless", "true/false"),
    ({"tenure": [1], "contract": "x", "paperless": "no"}, "tenure", "single value"),
])
def test_mismatches_name_the_field(record: dict, field: str, words: str) -> None:
    with pytest.raises(SchemaError) as err:
        check(record)
    assert err.value.http_status == 422
    assert err.value.details["field"] == field
    assert words in err.value.message


def test_the_row_is_named_in_a_batch() -> None:
    good = {"tenure": 1, "contract": "x", "paperless": "no"}
    with pytest.raises(SchemaError) as err:
        check(good, good, {**good, "tenure": "lots"})
    assert "in row 2" in err.value.message and err.value.details["row"] == 2
