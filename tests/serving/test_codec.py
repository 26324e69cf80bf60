"""Request bodies → tables: every accepted shape, and a clear 4xx for every other."""

from __future__ import annotations

import math

import pytest

from shipyard.errors import InvalidRequest, UnsupportedMediaType
from shipyard.serving import Table, encode_json, media_kind, parse_body


def test_media_kinds() -> None:
    assert media_kind("application/json") == "json"
    assert media_kind("Application/JSON; charset=utf-8") == "json"
    assert media_kind("text/csv") == "csv"
    for other in ("application/octet-stream", "application/python-pickle", "text/plain", None):
        with pytest.raises(UnsupportedMediaType) as err:
            media_kind(other)
        assert err.value.http_status == 415


@pytest.mark.parametrize("body", [
    b'[{"a": 1, "b": "x"}, {"a": 2, "b": null}]',
    b'{"columns": ["a", "b"], "data": [[1, "x"], [2, null]]}',
    b'{"instances": [{"a": 1, "b": "x"}, {"a": 2, "b": null}]}',
    b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, null]]}}',
    b'{"dataframe_records": [{"a": 1, "b": "x"}, {"a": 2, "b": null}]}',
])
def test_json_shapes_give_the_same_table(body: bytes) -> None:
    table = parse_body("json", body)
    assert table == Table(("a", "b"), [{"a": 1, "b": "x"}, {"a": 2, "b": None}])


def test_single_record_and_ragged_records() -> None:
    assert parse_body("json", b'{"a": 1}').records == [{"a": 1}]
    table = parse_body("json", b'[{"a": 1}, {"b": 2}]')
    assert table.columns == ("a", "b") and len(table) == 2


@pytest.mark.parametrize("body", [
    b'{"rows": [{"a": 1}, {"a": 2}]}', b'{"inputs": [{"a": 1}]}', b'{"data": [[1, 2]]}',
    b'{"record": {"b": 2}}'])
def test_an_object_wrapping_rows_is_refused_naming_the_shapes(body: bytes) -> None:
    """An object whose only field holds a list or an object is not one record (that would
    predict on a row with a column named 'rows', its real columns missing): a 400 naming
    the shapes. A record of several fields with a list cell is a record with a bad cell,
    left to the schema check (422 naming the field: test_server)."""
    with pytest.raises(InvalidRequest) as err:
        parse_body("json", body)
    message = err.value.message
    assert err.value.http_status == 400 and "so the body is not one record" in message
    assert '{"instances": [records]}' in message and "a list of records" in message


def test_a_record_with_a_list_cell_is_one_record_for_the_schema_check() -> None:
    assert parse_body("json", b'{"a": 1, "b": [2]}').records == [{"a": 1, "b": [2]}]


def test_csv() -> None:
    table = parse_body("csv", b'\xef\xbb\xbfa,b\n1,"x, y"\n\n2,\n')
    assert table == Table(("a", "b"), [{"a": "1", "b": "x, y"}, {"a": "2", "b": None}])


@pytest.mark.parametrize(("kind", "body", "words"), [
    ("json", b'{"a": 1,', "Malformed JSON at line 1"),
    ("json", b"[]", "no rows"),
    ("json", b"[1, 2]", "Row 0"),
    ("json", b"42", "list of records"),
    ("json", b'{"columns": ["a"], "data": [[1, 2]]}', "Row 0 of 'data'"),
    ("json", b'{"columns": ["a", "a"], "data": [[1, 2]]}', "'a' appears twice"),
    ("json", b"\xff\xfe", "not UTF-8"),
    ("csv", b"a,b\n1,2,3\n", "CSV row 0 has 3 fields"),
    ("csv", b"", "empty"),
    ("csv", b"a,a\n1,2\n", "'a' appears twice"),
])
def test_malformed_bodies_name_the_problem(kind: str, body: bytes, words: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_body(kind, body)
    assert err.value.http_status == 400
    assert words in err.value.message


def test_encode_json_has_no_nan() -> None:
    assert encode_json({"p": [1.5, math.nan, math.inf]}) == b'{"p":[1.5,null,null]}'
