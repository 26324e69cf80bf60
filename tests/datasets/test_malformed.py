"""The malformed-file corpus: each upload is refused with a 4xx naming the row or column,
and nothing is stored (no dataset, no version, no new object in the artifact store)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import httpx
import pytest

from .helpers import Upload

GOOD = b"a,b,c\n1,2,3\n4,5,6\n"
TENURE = "id,tenure\n" + "".join(f"{i},{i * 2}\n" for i in range(1, 17)) + "17,abc\n18,3\n"

# (case id, files, extra form fields, status, code, fragments the message must hold)
CASES = [
    ("ragged-more", [("r.csv", b"a,b,c\n1,2,3\n4,5,6,7\n")], {}, 400, "malformed_data",
     ["Row 2", "4 fields", "header has 3"]),
    ("ragged-fewer", [("r.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8\n")], {}, 400, "malformed_data",
     ["Row 3", "2 fields"]),
    ("ragged-tsv", [("r.tsv", b"a\tb\n1\t2\n3\n")], {}, 400, "malformed_data", ["Row 2"]),
    ("latin-1", [("l.csv", "name,city\nAnn,Oslo\nJos\u00e9,S\u00e3o Paulo\n".encode("latin-1"))],
     {}, 400, "malformed_data", ["not valid UTF-8", "line 3", "0xe9"]),
    ("latin-1-json", [("l.jsonl", '{"a": 1}\n{"a": "\u00e9"}\n'.encode("latin-1"))], {}, 400,
     "malformed_data", ["UTF-8", "line 2"]),
    ("header-only", [("h.csv", b"a,b,c\n")], {}, 400, "malformed_data", ["no data rows"]),
    ("empty-file", [("e.csv", b"")], {}, 400, "malformed_data", ["empty"]),
    ("blank-lines-only", [("e.csv", b"\n\n  \n")], {}, 400, "malformed_data", ["empty"]),
    ("empty-parquet", [("e.parquet", b"")], {}, 400, "malformed_data", ["empty"]),
    ("empty-json-array", [("e.json", b"[]")], {}, 400, "malformed_data", ["no data rows"]),
    ("duplicate-columns", [("d.csv", b"a,b,a,c,c\n1,2,3,4,5\n")], {}, 400, "malformed_data",
     ["'a'", "'c'", "unique"]),
    ("columns-differ-in-case", [("d.csv", b"Temp,x,temp\n1,2,3\n")], {}, 400,
     "malformed_data", ["'Temp' and 'temp'", "differ only in case", "rename one"]),
    ("json-columns-differ-in-case", [("d.jsonl", b'{"Ozone": 1, "OZONE": 2}\n')], {}, 400,
     "malformed_data", ["'Ozone' and 'OZONE'"]),
    ("blank-column-name", [("b.csv", b"a,,c\n1,2,3\n")], {}, 400, "malformed_data",
     ["blank name", "column 2"]),
    ("declared-int", [("t.csv", TENURE.encode())], {"column_types": {"tenure": "int64"}}, 400,
     "malformed_data", ["Column 'tenure' must be int64", "'abc'", "row 17"]),
    ("declared-bool-jsonl", [("t.jsonl", b'{"ok": "yes"}\n\n{"ok": "maybe"}\n')],
     {"column_types": {"ok": "bool"}}, 400, "malformed_data", ["'ok'", "'maybe'", "line 3"]),
    ("declared-date-json", [("t.json", b'[{"d": "2020-01-01"}, {"d": "soon"}]')],
     {"column_types": {"d": "date"}}, 400, "malformed_data", ["'d'", "'soon'", "record 2"]),
    ("declared-unknown-column", [("g.csv", GOOD)], {"column_types": {"zz": "int64"}}, 400,
     "invalid_request", ["'zz'"]),
    ("declared-unknown-type", [("g.csv", GOOD)], {"column_types": {"a": "money"}}, 400,
     "invalid_request", ["'money'"]),
    ("column-types-not-json", [("g.csv", GOOD)], {"column_types": "{tenure: int}"}, 400,
     "invalid_request", ["column_types"]),
    ("source-not-object", [("g.csv", GOOD)], {"source": "[1]"}, 400, "invalid_request",
     ["source"]),
    ("invalid-jsonl", [("j.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3,}\n')], {}, 400,
     "malformed_data", ["Line 3", "not valid JSON"]),
    ("jsonl-not-object", [("j.jsonl", b'{"a": 1}\n[1, 2]\n')], {}, 400, "malformed_data",
     ["line 2", "not a JSON object"]),
    ("invalid-json", [("j.json", b'[{"a": 1},\n {"a": 2\n]')], {}, 400, "malformed_data",
     ["not valid JSON", "line 3"]),
    ("json-duplicate-key", [("j.jsonl", b'{"a": 1}\n{"a": 1, "a": 2}\n')], {}, 400,
     "malformed_data", ["Line 2", "'a' twice"]),
    ("json-mixed-types", [("j.json", json.dumps([{"x": 1}, {"x": 2}, {"x": "three"}]).encode())],
     {}, 400, "malformed_data", ["Column 'x'", "record 3", "'three'"]),
    ("not-parquet", [("p.parquet", GOOD)], {}, 400, "malformed_data", ["not a readable Parquet"]),
    ("bad-gzip", [("g.csv.gz", b"\x1f\x8b" + b"garbage" * 10)], {}, 400, "malformed_data",
     ["decompress"]),
    ("unknown-extension", [("data.xlsx", GOOD)], {}, 415, "unsupported_media_type",
     ["'data.xlsx'", "format"]),
    ("unknown-format", [("g.csv", GOOD)], {"format": "excel"}, 415, "unsupported_media_type",
     ["'excel'"]),
    ("files-disagree-on-columns", [("one.csv", GOOD), ("two.csv", b"a,b,d\n1,2,3\n")], {}, 400,
     "malformed_data", ["'two.csv'", "'c'", "'d'"]),
    ("files-disagree-on-types", [("one.csv", GOOD), ("two.csv", b"a,b,c\nx,2,3\n")], {}, 400,
     "malformed_data", ["Column 'a'", "'one.csv'", "'two.csv'"]),
    ("second-file-malformed", [("one.csv", GOOD), ("two.csv", b"a,b,c\n1,2\n")], {}, 400,
     "malformed_data", ["'two.csv'", "Row 1"]),
]


@pytest.mark.parametrize(("case", "files", "fields", "status", "code", "fragments"), CASES,
                         ids=[c[0] for c in CASES])
def test_refused_and_nothing_stored(
    upload: Upload, client: httpx.Client, objects: Callable[[], set[str]], case: str,
    files: list[tuple[str, bytes]], fields: dict, status: int, code: str, fragments: list[str],
) -> None:
    name = f"bad-{case}"
    before = objects()
    r = upload(name, files, **fields)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    for fragment in fragments:
        assert fragment.lower() in error["message"].lower(), error["message"]
    assert client.get(f"/api/v1/datasets/{name}").status_code == 404
    assert name not in [d["name"] for d in client.get("/api/v1/datasets").json()]
    assert objects() == before


@pytest.mark.parametrize("name", ["../etc", "has space", "-dash", "a" * 129, "x..y"])
def test_invalid_dataset_name(upload: Upload, client: httpx.Client,
                              objects: Callable[[], set[str]], name: str) -> None:
    before = objects()
    r = upload(name, [("g.csv", GOOD)])
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_name"
    assert objects() == before


def test_append_that_does_not_match_stores_nothing(
    upload: Upload, client: httpx.Client, objects: Callable[[], set[str]],
) -> None:
    assert upload("base", [("g.csv", GOOD)]).status_code == 201
    before = objects()
    cases = [
        (b"a,b\n1,2\n", ["lacks 'c'", "version 1 of 'base'"]),
        (b"a,b,c,d\n1,2,3,4\n", ["'d'"]),
        (b"a,b,c\n1,2,x\n", ["Column 'c'", "int64", "'x'", "row 1"]),
        (b"a,b,c\n1,2,3\n1,2,3.5\n", ["Column 'c'", "3.5", "row 2"]),
    ]
    for data, fragments in cases:
        r = upload("base", [("more.csv", data)], append=True)
        assert r.status_code == 400, r.text
        for fragment in fragments:
            assert fragment in r.json()["error"]["message"], r.json()["error"]["message"]
    versions = client.get("/api/v1/datasets/base/versions").json()
    assert [v["version"] for v in versions] == [1]
    assert objects() == before


def test_append_to_a_missing_dataset_is_404(upload: Upload,
                                            objects: Callable[[], set[str]]) -> None:
    before = objects()
    r = upload("never-made", [("g.csv", GOOD)], append=True)
    assert r.status_code == 404 and "never-made" in r.json()["error"]["message"]
    assert objects() == before


def test_create_over_an_existing_name_is_409(upload: Upload, client: httpx.Client) -> None:
    assert upload("taken", [("g.csv", GOOD)]).status_code == 201
    r = upload("taken", [("other.csv", b"x\n1\n")])
    assert r.status_code == 409 and "append" in r.json()["error"]["message"]
    assert len(client.get("/api/v1/datasets/taken/versions").json()) == 1


def test_no_file_part_is_a_client_error(client: httpx.Client) -> None:
    r = client.post("/api/v1/datasets", data={"name": "nofile"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_gzip_of_a_latin1_file_names_the_line(upload: Upload) -> None:
    data = gzip.compress("a\nok\ncaf\u00e9\n".encode("latin-1"))
    r = upload("gz-latin", [("x.csv.gz", data)])
    assert r.status_code == 400 and "line 3" in r.json()["error"]["message"]
