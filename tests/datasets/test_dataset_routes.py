"""The dataset lifecycle over the REST API: show, list, head, download, delete, idempotency,
permissions."""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Callable, Iterator

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.testing import LocalServer

from .helpers import Upload

CSV = b"id,when,x,label\n1,2020-01-01T10:00:00Z,1.5,a\n2,2020-01-02T11:30:00Z,,b\n"


def test_show_and_list(upload: Upload, client: httpx.Client) -> None:
    r = upload("shown", [("s.csv", CSV)], description="Two rows to look at")
    assert r.status_code == 201, r.text
    ds = client.get("/api/v1/datasets/shown").json()
    assert ds["name"] == "shown" and ds["description"] == "Two rows to look at"
    assert (ds["version"], ds["num_rows"], ds["num_columns"]) == (1, 2, 4)
    assert ds["created_by"] == "admin" and ds["latest"]["ref"] == "shown:1"
    assert ds["latest"]["schema"][1]["semantic_type"] == "datetime"
    listed = {d["name"]: d for d in client.get("/api/v1/datasets").json()}
    assert listed["shown"]["num_rows"] == 2


def test_head_values_are_json_safe(upload: Upload, client: httpx.Client) -> None:
    df = pd.DataFrame({"t": pd.to_datetime(["2020-01-01 10:00", "2020-01-02 00:00"]),
                       "f": [float("nan"), 2.0], "d": [pd.Timestamp("2020-05-06").date()] * 2})
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf)
    assert upload("safe", [("s.parquet", buf.getvalue())]).status_code == 201
    head = client.get("/api/v1/datasets/safe/head", params={"n": 5}).json()
    assert head == {"columns": ["t", "f", "d"], "version": 1, "data": [
        ["2020-01-01T10:00:00", None, "2020-05-06"], ["2020-01-02T00:00:00", 2.0, "2020-05-06"]]}


def test_head_limits(upload: Upload, client: httpx.Client) -> None:
    assert upload("limits", [("s.csv", CSV)]).status_code == 201
    assert client.get("/api/v1/datasets/limits/head", params={"n": 0}).json()["data"] == []
    assert client.get("/api/v1/datasets/limits/head", params={"n": 10**9}).status_code == 422
    r = client.get("/api/v1/datasets/limits/head", params={"version": 7})
    assert r.status_code == 404 and "no version 7" in r.json()["error"]["message"]


def test_download_round_trips(upload: Upload, client: httpx.Client) -> None:
    assert upload("trip", [("s.csv", CSV)]).status_code == 201
    r = client.get("/api/v1/datasets/trip/download")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="trip-v1.parquet"'
    table = pq.read_table(io.BytesIO(r.content))
    assert table.column("id").to_pylist() == [1, 2]
    assert table.column("x").to_pylist() == [1.5, None]
    r = client.get("/api/v1/datasets/trip/download", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="trip-v1.csv"'
    back = pd.read_csv(io.BytesIO(r.content))
    assert back["label"].tolist() == ["a", "b"] and math.isnan(back["x"][1])
    assert pd.to_datetime(back["when"]).tolist() == pd.to_datetime(
        ["2020-01-01T10:00:00Z", "2020-01-02T11:30:00Z"]).tolist()
    assert client.get("/api/v1/datasets/trip/download",
                      params={"format": "xlsx"}).status_code == 422


def test_unknown_names_are_404_and_bad_names_400(client: httpx.Client) -> None:
    for path in ("/api/v1/datasets/nope", "/api/v1/datasets/nope/versions",
                 "/api/v1/datasets/nope/head", "/api/v1/datasets/nope/download"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    r = client.get("/api/v1/datasets/-bad-name")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_name"
    assert client.delete("/api/v1/datasets/nope").status_code == 404


def test_delete_removes_the_objects_no_other_version_uses(
    upload: Upload, client: httpx.Client, objects: Callable[[], set[str]],
) -> None:
    shared = b"k,v\n1,2\n"
    before = objects()
    assert upload("keeper", [("a.csv", shared)]).status_code == 201
    assert upload("doomed", [("a.csv", shared)]).status_code == 201
    r = upload("doomed", [("b.csv", b"k,v\n3,4\n")], append=True)
    assert r.status_code == 201
    own = r.json()["parts"][1]["sha256"]
    common = r.json()["parts"][0]["sha256"]
    after_upload = objects()
    assert f"{own[:2]}/{own}" in after_upload and f"{common[:2]}/{common}" in after_upload
    r = client.delete("/api/v1/datasets/doomed")
    assert r.status_code == 200
    assert r.json() == {"kind": "dataset", "name": "doomed", "status": "Deleted",
                        "forced": False, "deleted": {"versions": 2}}
    assert client.get("/api/v1/datasets/doomed").status_code == 404
    left = objects()
    assert f"{own[:2]}/{own}" not in left
    # The part "keeper" shares is still there and still reads.
    assert f"{common[:2]}/{common}" in left
    assert left == after_upload - {f"{own[:2]}/{own}"} and before <= left
    assert client.get("/api/v1/datasets/keeper/head").json()["data"] == [[1, 2]]
    assert client.delete("/api/v1/datasets/keeper").status_code == 200
    assert objects() == before


def test_idempotency_key_on_create(upload: Upload, client: httpx.Client,
                                   objects: Callable[[], set[str]]) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = upload("once", [("s.csv", CSV)], headers=key, description="d")
    assert first.status_code == 201, first.text
    stored = objects()
    again = upload("once", [("s.csv", CSV)], headers=key, description="d")
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert len(client.get("/api/v1/datasets/once/versions").json()) == 1
    assert objects() == stored
    other = upload("once", [("s.csv", CSV + b"3,2020-01-03,2.5,c\n")], headers=key,
                   description="d")
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["error"]["message"]
    assert len(client.get("/api/v1/datasets/once/versions").json()) == 1
    assert objects() == stored


def test_idempotency_key_on_append(upload: Upload, client: httpx.Client) -> None:
    assert upload("twice", [("s.csv", CSV)]).status_code == 201
    key = {"Idempotency-Key": uuid.uuid4().hex}
    r1 = upload("twice", [("m.csv", CSV)], append=True, headers=key)
    r2 = upload("twice", [("m.csv", CSV)], append=True, headers=key)
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["version"] == r2.json()["version"] == 2
    assert [v["version"] for v in client.get("/api/v1/datasets/twice/versions").json()] == [1, 2]


@pytest.fixture(scope="module")
def viewer(server: LocalServer) -> Iterator[httpx.Client]:
    with server.client("viewer") as c:
        yield c


def test_viewer_reads_but_does_not_write(upload: Upload, server: LocalServer,
                                         viewer: httpx.Client) -> None:
    assert upload("readable", [("s.csv", CSV)]).status_code == 201
    assert viewer.get("/api/v1/datasets").status_code == 200
    assert viewer.get("/api/v1/datasets/readable/head").status_code == 200
    assert viewer.get("/api/v1/datasets/readable/download").status_code == 200
    r = upload("viewer-made", [("s.csv", CSV)], via=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert upload("readable", [("s.csv", CSV)], append=True, via=viewer).status_code == 403
    assert viewer.delete("/api/v1/datasets/readable").status_code == 403
    assert upload("readable", [("s.csv", CSV)], append=False).status_code == 409  # still there
    with server.client("data-scientist") as ds:
        assert upload("ds-made", [("s.csv", CSV)], via=ds).status_code == 201


def test_no_token_is_401(server: LocalServer) -> None:
    with server.client(None) as anon:
        assert anon.get("/api/v1/datasets").status_code == 401


def test_routes_declare_their_permission(client: httpx.Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    ops = {(m, p): op for p, item in spec["paths"].items() if p.startswith("/api/v1/datasets")
           for m, op in item.items()}
    assert len(ops) == 13  # with POST …/files and GET …/versions/{v}/files/{sha256}
    for (method, path), op in ops.items():
        # Computing a profile changes no data, so it needs only read.
        reads = method == "get" or path.endswith("/profile")
        want = "read" if reads else "write"
        assert op["x-shipyard-permission"] == want, (method, path)


def test_events_record_versions_and_deletes(upload: Upload, client: httpx.Client) -> None:
    assert upload("audited", [("s.csv", CSV)]).status_code == 201
    assert client.delete("/api/v1/datasets/audited").status_code == 200
    kinds = [e["kind"] for e in client.get("/api/v1/events", params={
        "resource_type": "dataset", "resource_id": "audited"}).json()]
    assert kinds == ["dataset.version_created", "dataset.deleted"]
