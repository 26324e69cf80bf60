"""Creating datasets from every format through the real API, and appending to them."""

from __future__ import annotations

import decimal
import gzip
import io
import json
import uuid

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .helpers import Upload

FRAME = pd.DataFrame({
    "id": [1, 2, 3],
    "name": ["Ann", "Bob", "Cy"],
    "score": [1.5, None, 3.25],
    "active": [True, False, True],
})


def schema_of(body: dict) -> dict[str, dict]:
    return {c["name"]: c for c in body["schema"]}


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def download(client: httpx.Client, name: str, **params: object) -> pd.DataFrame:
    r = client.get(f"/api/v1/datasets/{name}/download", params=params)
    assert r.status_code == 200, r.text
    if params.get("format") == "csv":
        return pd.read_csv(io.BytesIO(r.content))
    return pq.read_table(io.BytesIO(r.content)).to_pandas()


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("people.csv", FRAME.to_csv(index=False).encode()),
        ("people.tsv", FRAME.to_csv(index=False, sep="\t").encode()),
        ("people.parquet", parquet_bytes(FRAME)),
        ("people.json", FRAME.to_json(orient="records").encode()),
        ("people.jsonl", FRAME.to_json(orient="records", lines=True).encode()),
        ("people.csv.gz", gzip.compress(FRAME.to_csv(index=False).encode())),
    ],
    ids=["csv", "tsv", "parquet", "json", "jsonl", "csv-gz"],
)
def test_create_from_each_format(upload: Upload, client: httpx.Client, filename: str,
                                 data: bytes) -> None:
    name = "people-" + filename.replace(".", "-")
    r = upload(name, [(filename, data)])
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["dataset"], body["version"], body["num_rows"], body["num_columns"]) == (
        name, 1, 3, 4)
    cols = schema_of(body)
    # 1, 2, 3 under the name "id": the rows' numbers, not keys that describe them.
    assert cols["id"]["dtype"] == "int64" and cols["id"]["semantic_type"] == "row_number"
    assert cols["score"]["dtype"] == "double" and cols["score"]["missing"] == 1
    assert cols["active"]["dtype"] == "bool" and cols["active"]["semantic_type"] == "boolean"
    assert cols["name"]["dtype"] == "string"
    files = body["source"]["files"]
    assert [{k: f[k] for k in ("name", "format", "rows")} for f in files] == [
        {"name": filename, "format": files[0]["format"], "rows": 3}]
    if files[0]["format"] in ("csv", "tsv"):  # how the text was read, given or sniffed
        sep = "," if files[0]["format"] == "csv" else "\t"
        assert files[0]["dialect"] == {"sep": sep, "decimal": ".", "encoding": "utf-8"}
    pd.testing.assert_frame_equal(download(client, name), FRAME)


def test_format_field_overrides_the_file_name(upload: Upload) -> None:
    r = upload("by-format", [("export.txt", b"a\tb\n1\t2\n")], format="tsv")
    assert r.status_code == 201, r.text
    assert [c["name"] for c in r.json()["schema"]] == ["a", "b"]
    assert r.json()["source"]["files"][0]["format"] == "tsv"


def test_nested_json_is_flattened(upload: Upload, client: httpx.Client) -> None:
    records = [
        {"id": 1, "address": {"city": "Oslo", "geo": {"lat": 59.9}}, "joined": "2020-01-31"},
        {"id": 2, "address": {"city": "Bergen"}, "joined": "2021-06-01", "tags": ["a", "b"]},
    ]
    r = upload("nested", [("people.json", json.dumps(records).encode())])
    assert r.status_code == 201, r.text
    cols = schema_of(r.json())
    assert list(cols) == ["id", "address.city", "address.geo.lat", "joined", "tags"]
    assert cols["address.geo.lat"]["missing"] == 1
    # JSON has no date type: ISO text is still recognised as points in time.
    assert cols["joined"]["semantic_type"] == "datetime"
    head = client.get("/api/v1/datasets/nested/head").json()
    assert head["columns"][:3] == ["id", "address.city", "address.geo.lat"]
    assert head["data"][1][:3] == [2, "Bergen", None]
    assert head["data"][1][4] == ["a", "b"]


def test_jsonl_with_blank_lines_and_late_columns(upload: Upload) -> None:
    lines = ['{"a": 1}', "", '{"a": 2, "b": {"c": "x"}}', '{"a": 2.5}']
    r = upload("late-columns", [("rows.ndjson", "\n".join(lines).encode())])
    assert r.status_code == 201, r.text
    cols = schema_of(r.json())
    assert cols["a"]["dtype"] == "double"
    assert cols["b.c"]["missing"] == 2
    assert r.json()["num_rows"] == 3


def test_several_files_are_one_version(upload: Upload, client: httpx.Client) -> None:
    first = FRAME.iloc[:2].to_csv(index=False).encode()
    # Another file may order its columns differently, and its scores happen to be whole.
    second = FRAME.iloc[2:][["score", "id", "name", "active"]].assign(score=[3]).to_csv(
        index=False).encode()
    r = upload("glob", [("part-1.csv", first), ("part-2.csv", second)],
               source={"type": "path", "pattern": "data/part-*.csv"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["num_rows"] == 3 and len(body["parts"]) == 2
    assert [p["rows"] for p in body["parts"]] == [2, 1]
    assert body["source"]["type"] == "path" and body["source"]["pattern"] == "data/part-*.csv"
    assert [f["name"] for f in body["source"]["files"]] == ["part-1.csv", "part-2.csv"]
    expected = FRAME.assign(score=[1.5, None, 3.0])
    pd.testing.assert_frame_equal(download(client, "glob"), expected)
    pd.testing.assert_frame_equal(download(client, "glob", format="csv"), expected)


def test_append_makes_a_new_version_sharing_parts(upload: Upload, client: httpx.Client) -> None:
    r1 = upload("grow", [("a.csv", FRAME.to_csv(index=False).encode())])
    more = pd.DataFrame({"id": [4], "name": ["Di"], "score": [4], "active": [False]})
    r2 = upload("grow", [("b.csv", more.to_csv(index=False).encode())], append=True,
                source={"type": "sql", "query": "select * from t",
                        "db": "postgresql://me:s3cret@db/x"})
    assert r2.status_code == 201, r2.text
    v1, v2 = r1.json(), r2.json()
    assert (v2["version"], v2["num_rows"]) == (2, 4)
    assert v2["parts"][0] == v1["parts"][0] and len(v2["parts"]) == 2
    assert v2["content_hash"] != v1["content_hash"]
    assert v2["source"]["appended_to"] == 1
    assert v2["source"]["db"] == "postgresql://me:***@db/x"
    assert schema_of(v2)["score"]["dtype"] == "double"
    whole = download(client, "grow")
    assert whole["id"].tolist() == [1, 2, 3, 4]
    old = download(client, "grow", version=1)
    assert old["id"].tolist() == [1, 2, 3]
    versions = client.get("/api/v1/datasets/grow/versions").json()
    assert [(v["version"], v["num_rows"]) for v in versions] == [(1, 3), (2, 4)]
    assert client.get("/api/v1/datasets/grow/versions/1").json()["num_rows"] == 3
    head = client.get("/api/v1/datasets/grow/head", params={"version": 1, "n": 2}).json()
    assert head == {"columns": ["id", "name", "score", "active"], "version": 1,
                    "data": [[1, "Ann", 1.5, True], [2, "Bob", None, False]]}


def test_declared_types_are_applied(upload: Upload) -> None:
    data = b"code,amount,when,ok\n007,1,2020-01-01T10:00:00Z,yes\n010,2,2020-01-02,no\n"
    r = upload("declared", [("d.csv", data)],
               column_types={"code": "string", "amount": "float64", "ok": "bool",
                             "when": "timestamp"})
    assert r.status_code == 201, r.text
    cols = schema_of(r.json())
    assert [cols[c]["dtype"] for c in ("code", "amount", "when", "ok")] == [
        "string", "double", "timestamp[us]", "bool"]
    assert r.json()["source"]["column_types"]["code"] == "string"


def test_column_types_learnt_late_in_a_big_csv(upload: Upload, client: httpx.Client) -> None:
    # The first block of a large CSV says "integers" and "empty"; later rows say otherwise.
    n = 400_000
    lines = ["a,b,c"] + [f"{i},,{i}" for i in range(n)] + ["1.5,x,abc"]
    r = upload("late-types", [("big.csv", ("\n".join(lines) + "\n").encode())])
    assert r.status_code == 201, r.text
    cols = schema_of(r.json())
    assert (cols["a"]["dtype"], cols["b"]["dtype"], cols["c"]["dtype"]) == (
        "double", "string", "string")
    assert r.json()["num_rows"] == n + 1
    assert cols["b"]["missing"] == n


def test_parquet_with_pandas_index_and_categories(upload: Upload, client: httpx.Client) -> None:
    df = pd.DataFrame({"k": pd.Categorical(["a", "b", "a"]), "v": [1, 2, 3]},
                      index=pd.Index([10, 20, 30], name="key"))
    table = pa.Table.from_pandas(df)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    r = upload("categorical", [("c.parquet", buf.getvalue())])
    assert r.status_code == 201, r.text
    cols = schema_of(r.json())
    assert cols["k"]["dtype"] == "string" and cols["k"]["semantic_type"] == "categorical"
    assert "key" in cols  # a named index is data the user wrote


def test_parquet_with_arrow_extension_types(upload: Upload, client: httpx.Client) -> None:
    # pandas writes uuid.UUID objects (a PostgreSQL uuid read by `--sql`) as arrow.uuid, and
    # DuckDB and Polars write UUID and JSON columns the same way: no compute kernel takes
    # them, so profiling the version was a 500.
    ids = [uuid.UUID(int=i * 7919) for i in range(1, 4)]
    table = pa.table({
        "u": pa.ExtensionArray.from_storage(
            pa.uuid(), pa.array([ids[0].bytes, None, ids[2].bytes], pa.binary(16))),
        "doc": pa.ExtensionArray.from_storage(pa.json_(), pa.array(['{"a": 1}', "[]", None])),
        "ok": pa.ExtensionArray.from_storage(pa.bool8(), pa.array([1, 0, None], pa.int8())),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    r = upload("extension-types", [("x.parquet", buf.getvalue())])
    assert r.status_code == 201, r.text
    cols = schema_of(r.json())
    assert {n: c["dtype"] for n, c in cols.items()} == {"u": "string", "doc": "string",
                                                         "ok": "bool"}
    got = download(client, "extension-types")
    assert got["u"].tolist()[::2] == [str(ids[0]), str(ids[2])]
    assert got["doc"].tolist()[:2] == ['{"a": 1}', "[]"]
    assert got["ok"].tolist()[:2] == [True, False]


def test_an_append_reads_the_text_columns_of_the_version_as_text(upload: Upload,
                                                                 client: httpx.Client) -> None:
    # Inferred and then cast to the version's text type, '01001' became '1001' and '1.10'
    # became '1.1', silently.
    first = b"zip,release,n\n02134,1.10a,1\n"
    r = upload("codes", [("a.csv", first)], column_types={"zip": "string"})
    assert r.status_code == 201, r.text
    assert {c["name"]: c["dtype"] for c in r.json()["schema"]}["release"] == "string"
    r = upload("codes", [("b.csv", b"zip,release,n\n01001,1.10,2\n")], append=True)
    assert r.status_code == 201, r.text
    r = upload("codes", [("c.jsonl", b'{"zip": "00501", "release": "2.0", "n": 3}\n')],
               append=True)
    assert r.status_code == 201, r.text
    got = download(client, "codes")
    assert got["zip"].tolist() == ["02134", "01001", "00501"]
    assert got["release"].tolist() == ["1.10a", "1.10", "2.0"]
    assert got["n"].tolist() == [1, 2, 3]
    # A file without one of those columns is refused as any mismatch is, naming it.
    r = upload("codes", [("d.csv", b"release,n\n3,4\n")], append=True)
    assert r.status_code == 400 and "lacks 'zip'" in r.text, r.text


def test_decimal_columns_are_stored_as_numbers(upload: Upload, client: httpx.Client) -> None:
    # A database's numeric (money) reached pandas as Decimal objects, which the training
    # recipe took for 200 categories of a "numeric" column: the model never saw the numbers.
    table = pa.table({
        "price": pa.array([decimal.Decimal("12.34"), None, decimal.Decimal("-0.05")],
                          pa.decimal128(10, 2)),
        "big": pa.array([decimal.Decimal("1" * 30)] * 3, pa.decimal256(40, 0)),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    r = upload("prices", [("p.parquet", buf.getvalue())])
    assert r.status_code == 201, r.text
    cols = schema_of(r.json())
    assert {n: (c["dtype"], c["semantic_type"]) for n, c in cols.items()} == {
        "price": ("double", "numeric"), "big": ("double", "numeric")}
    got = download(client, "prices")
    assert got["price"].dtype == "float64" and got["price"].tolist()[::2] == [12.34, -0.05]
